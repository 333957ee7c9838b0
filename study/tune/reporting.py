"""One reporting path for every trainable a study runs: what a trial tells Tune and MLflow.

Both the real trainable (:func:`study.tune.trainable.train_trial`) and the sleeping stand-in
(:mod:`study.testing.stand_in`) report through :class:`TrialReporter`, so a benchmark of the
stand-in measures the real machinery:

1. ``open``: the trial's config, a scratch folder holding the checkpoint Tune gives back on a retry
   or a resume, and its ``TrialRun`` (record in the study folder, MLflow run found again by key);
2. ``replay``: epochs done before a retry go to MLflow, each exactly once;
3. ``epoch``: each epoch's metrics to the record (and MLflow), then one ``tune.report`` with its
   checkpoint, made by a background thread once the checkpoint is written
   (:mod:`study.tune.epoch_reports`: the training thread waits neither for the write nor for Tune);
   the last epoch is held back and reported with the final evaluation, so a scheduler sees exactly
   one result per epoch and never stops a trial between its last epoch and its final (TTA) evaluation;
4. ``final``: final metrics and artifacts to MLflow (closing the run FINISHED), the last report,
   marked ``done`` (Tune ends the trial on it, without asking the worker once more), without a
   checkpoint: an ended trial is never run again, and the driver removes its checkpoints
   (``study.tune.monitor``), so copying the last one into the study folder would be work thrown away
   (and possibly one more experiment snapshot Tune forces: ``study.driver.tuner.KEEP_CHECKPOINTS``).

Every report carries the trial's time so far by part (``seconds_train``, ``seconds_eval``, …:
:class:`trainable.timing.TrialTimes`); the reporter counts its own part (``report``) and the
worker's start-up (``start``) on the same ledger as ``run_trial``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from study.tune.epoch_reports import EpochReports

if TYPE_CHECKING:
    from study.tracking.runs import TrialRun
    from trainable.config import TrialConfig
    from trainable.timing import TimeLedger

__all__ = ["FINISHED_KEY", "OBJECTIVE_KEY", "RUN_ID_KEY", "ReportedResult", "TrialReporter", "deadline_check"]

FINISHED_KEY = "xs_finished"  # True only in the final report of a trial that ran to its end
RUN_ID_KEY = "xs_run_id"  # the trial's MLflow run id (driver closes it with the true status)
OBJECTIVE_KEY = "objective"  # accuracy per epoch; the final report's is with TTA when TTA is on


class ReportedResult(Protocol):
    """What ``final`` reads of a trial's result (``trainable.train.TrialResult`` has it all)."""

    accuracy: float
    accuracy_tta: float | None
    top5: float
    valid_loss: float
    train_seconds: float
    images_per_s: float
    infer_ms_per_image: float
    infer_ms_per_image_tta: float | None
    history: list[dict[str, Any]]
    confusion: list[list[int]]
    classes: list[str]

    @property
    def objective(self) -> float: ...


def deadline_check(xs: dict[str, Any]) -> Callable[[], bool] | None:
    """True once the phase's deadline has passed: the trial stops itself there, mid-epoch.

    Tune's stopper alone would wait for the trial's next report (the end of an epoch, minutes on
    a real data set) before the stop reaches it. The deadline is on the study's clock
    (``budget.json`` in the study folder), read when the trial starts, so a resumed study's
    trials stop at the resumed deadline. Without the study folder (a node that does not share it),
    None: Tune's stopper ends the trial at its next report.
    """
    if not xs.get("deadline"):
        return None
    from study.tune.clock import Deadline

    try:
        at = Deadline.from_dict(xs["deadline"]).time()
    except (OSError, ValueError, KeyError):
        return None
    return lambda: time.time() >= at


_TRIALS_IN_PROCESS = 0  # trials this worker process has opened (the first one pays its start-up)


def startup_seconds(entered: float, xs: dict[str, Any]) -> float:
    """Seconds before the trial's code ran that its worker spent starting: for the first trial of a
    process, its age (Ray's worker start, Tune's set-up of the trainable), counted from this
    session's start at the earliest; for the later ones (a reused worker), none."""
    if _TRIALS_IN_PROCESS > 1:
        return 0.0
    try:
        import psutil

        born = psutil.Process().create_time()
    except Exception:  # noqa: BLE001 -- no process table to read: unknown, not an error
        return 0.0
    session = 0.0
    if xs.get("deadline"):
        try:
            from study.tune.clock import Deadline

            clock = Deadline.from_dict(xs["deadline"]).clock
            session = clock.started() + clock.spent_before()  # when this session's clock began
        except (OSError, ValueError, KeyError):
            session = 0.0
    return max(0.0, entered - max(born, session))


SCRATCH_PREFIX = "xs-scratch-"  # + "<pid>-<trial id>-<random>": a trial's scratch folder in the temporary directory


def _scratch_folder(trial_id: str) -> Path:
    """A fresh scratch folder for this trial, after removing the ones nothing will clean up any more.

    A trial that ends normally removes its own. One that Tune stops (ASHA pruned it, the phase's
    deadline came) never runs its ``finally``, and its folder holds a model checkpoint (130 MB for
    xresnet18): the next trial on this machine removes the folders of this process's earlier trials
    and of processes that are gone.
    """
    tmp = Path(tempfile.gettempdir())
    for old in tmp.glob(f"{SCRATCH_PREFIX}*"):
        pid = old.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-{trial_id}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, not ours to judge
        return True
    return True


def _where() -> dict[str, Any]:
    """The Ray node this process runs on (its id, address, host name) and its pid."""
    import socket

    import ray

    ctx = ray.get_runtime_context()
    return {"node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(), "host": socket.gethostname(),
            "pid": os.getpid()}


def _open_run(xs: dict[str, Any], job: dict[str, Any], cfg: TrialConfig, searched: dict[str, Any],
              ctx: Any) -> TrialRun | None:
    """The trial's ``TrialRun`` with its params logged; None without MLflow and without a study folder."""
    if not xs.get("tracking") and not xs.get("study_dir"):
        return None
    from study.tracking import TrackingInfo, TrialRun
    from study.tracking.records import records_dir, trial_key

    extra = {"xs.confirms": job["confirms"]} if job.get("confirms") else {}
    extra.update({"xs.ablates": job["ablates"]} if job.get("ablates") else {})
    extra.update({"xs.test_hooks": xs["test_hooks"]} if xs.get("test_hooks") else {})  # a stand-in's made-up numbers, marked
    # With a SQLite store the driver sends the run from the record (study.tracking.follow): no MLflow here
    sends = xs.get("tracking") and xs.get("mlflow_from") != "driver"
    run = TrialRun(TrackingInfo(**xs["tracking"]) if sends else None,
                   trial_key=trial_key(xs["launch_id"], ctx.get_trial_id()), run_name=ctx.get_trial_name(),
                   kind=xs.get("kind", "trial"), extra_tags=extra,
                   record_dir=records_dir(Path(xs["study_dir"])) if xs.get("study_dir") else None,
                   background=True)  # MLflow calls in this worker's sender thread: the trial never waits on them
    run.log_params({**cfg.to_dict(), **{f"search.{k}": v for k, v in searched.items()}})
    return run


@dataclass
class TrialReporter:
    """A trial's reports to Tune and MLflow (see the module docstring for the order of calls)."""

    cfg: TrialConfig
    trial: dict[str, Any]  # the resolved TrialConfig dict as Tune passed it
    xs: dict[str, Any]  # the study's info for this trial (tracking, deadline, study folder)
    work: Path  # scratch folder: the restored checkpoint, the next ones
    run: TrialRun | None
    deadline_passed: Callable[[], bool] | None
    times: TimeLedger  # the trial's seconds by part: run_trial's, and the start-up and reporting counted here
    _held: dict[str, Any] = field(default_factory=dict)
    _reports: EpochReports | None = None

    @classmethod
    @contextmanager
    def open(cls, config: dict[str, Any], entered: float | None = None) -> Iterator[TrialReporter]:
        """From a Tune trial's ``config`` (``trial``: TrialConfig dict, ``xs``: study info, ``job``:
        a confirmation or ablation run's own config); the scratch folder is removed at the end.
        ``entered``: when the trainable was called (``time.time()``), for the start-up part of its times."""
        global _TRIALS_IN_PROCESS
        from ray import tune

        from trainable.config import TrialConfig
        from trainable.timing import TimeLedger

        _TRIALS_IN_PROCESS += 1
        entered = time.time() if entered is None else entered
        xs = config["xs"]
        job = config.get("job") or {}
        trial = job.get("trial") or config["trial"]
        cfg = TrialConfig.from_dict(trial)
        searched = {k: v for k, v in config.items() if k not in ("trial", "xs", "job")}
        ctx = tune.get_context()
        work = _scratch_folder(ctx.get_trial_id())
        reporter: TrialReporter | None = None
        try:
            restored = tune.get_checkpoint()
            if restored is not None:
                restored.to_directory(str(work))
            run = _open_run(xs, job, cfg, searched, ctx)
            times = TimeLedger()
            times.add("start", startup_seconds(entered, xs) + time.time() - entered)
            reporter = cls(cfg=cfg, trial=trial, xs=xs, work=work, run=run, deadline_passed=deadline_check(xs), times=times)
            yield reporter
        finally:
            if reporter is not None and reporter._reports is not None:
                reporter._reports.drain()  # the epochs done are reported, even when the trial failed
            shutil.rmtree(work, ignore_errors=True)

    @property
    def last_epoch(self) -> int:
        return self.cfg.total_epochs - 1

    def should_stop(self) -> bool:
        """Asked by the trial before every batch: its deadline passed, or Tune stopped it (at a report
        made in the background, or by ending the trial's session); a failed report raises here."""
        if self._reports is not None and self._reports.error is not None:
            raise self._reports.error
        if self.stopped_by_tune():
            return True
        return self.deadline_passed is not None and self.deadline_passed()

    def stopped_by_tune(self) -> bool:
        return (self._reports is not None and self._reports.stopped.is_set()) or _session_stopping()

    def end_if_stopped_by_tune(self) -> None:
        """Where a trainable stops early: if Tune ended the trial (a scheduler's decision, the phase's end),
        end its thread as Tune's own report does, with ``SystemExit(0)``. Returning would make one more
        report (Tune's "done"), which would wait for a driver that no longer asks, and keep the worker
        from its next trial."""
        if self.stopped_by_tune():
            raise SystemExit(0)

    @property
    def run_id(self) -> str:
        """The MLflow run id to report to Tune ("" while the run does not exist: MLflow was unreachable)."""
        return self.run.run_id if self.run is not None else ""

    def replay(self, history: list[dict[str, Any]]) -> None:
        """Called once by every attempt, first, with the epochs its checkpoint holds (none on a first attempt).

        The record notes where this attempt runs and from which epoch (a trial that failed over to
        another node says so at the end of the study: ``study.analysis.failover``); epochs done
        before a retry or a resume go to MLflow, each exactly once.
        """
        if self.run is None:
            return
        with self.times.part("report"):
            self.run.log_attempt({**_where(), "from_epoch": len(history)})
            if history:
                self.run.log_epochs(history)

    def epoch(self, metrics: dict[str, Any], ckpt: Any) -> None:
        """One epoch: to the record (and MLflow), then to Tune with its checkpoint (a ``PendingCheckpoint``
        or a path), from the background once the checkpoint is complete; the last epoch is held for ``final``."""
        with self.times.part("report"):
            if self.run is not None:
                self.run.log_epochs([metrics])
            if metrics["epoch"] == self.last_epoch:
                self._held = {"metrics": metrics}  # reported by ``final``, with the final evaluation
                return
            if self._reports is None:
                self._reports = EpochReports(self.work, self._send_epoch, self._after_epoch if self.xs.get("fault") else None)
            score = {OBJECTIVE_KEY: metrics["accuracy"]} if "accuracy" in metrics else {}  # an epoch not validated has none
            report = {**metrics, **score, FINISHED_KEY: False, RUN_ID_KEY: self.run_id,
                      **self.times.snapshot().to_flat()}
            self._reports.put(report, ckpt)

    def _send_epoch(self, report: dict[str, Any], folder: Path | None) -> None:
        from ray import tune

        checkpoint = tune.Checkpoint.from_directory(str(folder)) if folder is not None else None
        tune.report({**report, RUN_ID_KEY: report.get(RUN_ID_KEY) or self.run_id}, checkpoint=checkpoint)

    def _after_epoch(self, report: dict[str, Any]) -> None:
        from study.testing.faults import maybe_inject_fault

        maybe_inject_fault(self.xs["fault"], report["epoch"])

    def final(self, result: ReportedResult) -> None:
        """Final metrics and artifacts to MLflow (closing the run FINISHED), and the last report to Tune (no checkpoint)."""
        from ray import tune
        from ray.tune.result import DONE

        if self._reports is not None:  # the epochs' reports first, in order
            self._reports.drain()
            if self._reports.error is not None:
                raise self._reports.error
            self.end_if_stopped_by_tune()  # Tune ended the trial: nothing more goes to it
        started = time.perf_counter()
        final = {
            "accuracy": result.accuracy,
            "accuracy_tta": result.accuracy_tta if result.accuracy_tta is not None else result.accuracy,
            "top5": result.top5,
            "valid_loss": result.valid_loss,
            "train_seconds": result.train_seconds,
            "images_per_s": result.images_per_s,
            "infer_ms_per_image": result.infer_ms_per_image,  # the plain pass
            # every pass the trial is evaluated with (the plain one and its TTA passes): the plain pass's without TTA
            "infer_ms_per_image_tta": result.infer_ms_per_image_tta or result.infer_ms_per_image,
            "cost": self.cfg.cost(),
        }
        if self.run is not None:
            from study.tracking.artifacts import trial_artifacts

            artifacts = trial_artifacts(result)
            self.times.add("report", time.perf_counter() - started)
            started = time.perf_counter()
            times = self.times.snapshot().to_flat()
            self.run.log_final({**final, **times, "objective": result.objective}, artifacts)
            self.run.end("FINISHED", "finished")
        self.times.add("report", time.perf_counter() - started)
        last = self._held.get("metrics") or (result.history[-1] if result.history else {})
        # ``DONE``: Tune ends the trial on this report. Without it Tune would ask the worker once more,
        # a round trip through the driver's loop before the worker is free for the next trial
        # (docs/SCALING.md); this thread is let go (``SystemExit``) when Tune resets or stops the worker.
        tune.report(
            {**last, **final, "epoch": self.last_epoch, OBJECTIVE_KEY: result.objective, FINISHED_KEY: True, DONE: True,
             RUN_ID_KEY: self.run_id, **self.times.snapshot().to_flat(),
             "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""),  # the GPU(s) Ray gave this trial
             "device": str(getattr(result, "device", ""))},  # where it trained (cuda, cpu, mps)
        )


def _session_stopping() -> bool:
    """Whether Tune has asked this trial's session to end (its stop event, set by ``finish``); Tune
    itself only looks at it inside a report, so a trial between reports would train on until then."""
    try:
        from ray.train._internal.session import get_session
    except ImportError:
        return False
    session = get_session()
    event = getattr(session, "stop_event", None)
    return bool(event is not None and event.is_set())
