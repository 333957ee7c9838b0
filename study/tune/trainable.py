"""The Ray Tune trainable: one trial of ``trainable.run_trial``, reported to Tune and MLflow.

It lives in the package (not in a test or the driver) so Ray workers can import it. Each epoch is
reported with its checkpoint; a retried trial (``FailureConfig``) or a resumed study gets the
last checkpoint back from Tune and continues from it, in the same MLflow run.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["train_trial", "open_trial_run", "report_final", "run_id_of", "deadline_check", "FINISHED_KEY", "RUN_ID_KEY",
           "OBJECTIVE_KEY"]

FINISHED_KEY = "xs_finished"  # True only in the final report of a trial that ran to its end
RUN_ID_KEY = "xs_run_id"  # the trial's MLflow run id (driver closes it with the true status)
OBJECTIVE_KEY = "objective"  # accuracy per epoch; the final report's is with TTA when TTA is on


def _report_dir(work: Path, ckpt: Path) -> Path:
    """A folder holding only ``ckpt`` (hard-linked when possible) for ``tune.Checkpoint``."""
    out = work / "report"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    try:
        (out / ckpt.name).hardlink_to(ckpt)
    except OSError:
        shutil.copy2(ckpt, out / ckpt.name)
    return out


def _maybe_inject_fault(fault: dict[str, Any] | None, epoch: int) -> None:
    """Fault tests: SIGKILL this worker ``delay_s`` into the epoch after ``kill_after_epoch``, once.

    A real signal to the real trial process, in the middle of an epoch; the marker file makes it
    happen only on the first attempt, so Ray's retry runs to the end.
    """
    if not fault or epoch != fault["kill_after_epoch"]:
        return
    marker = Path(fault["marker"])
    if marker.exists():
        return
    marker.write_text(str(os.getpid()))
    threading.Timer(float(fault.get("delay_s", 0.3)), os.kill, (os.getpid(), signal.SIGKILL)).start()


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


def open_trial_run(xs: dict[str, Any], job: dict[str, Any], cfg: Any, searched: dict[str, Any], ctx: Any) -> Any:
    """The trial's ``TrialRun``: its record in the study folder (``xs["study_dir"]``) and its MLflow
    run (found again by its key on a retry), with params logged; None with neither."""
    if not xs.get("tracking") and not xs.get("study_dir"):
        return None
    from study.tracking.records import records_dir, trial_key
    from study.tracking.runs import TrackingInfo, TrialRun

    extra = {"xs.confirms": job["confirms"]} if job.get("confirms") else {}
    run = TrialRun(TrackingInfo(**xs["tracking"]) if xs.get("tracking") else None,
                   trial_key=trial_key(xs["launch_id"], ctx.get_trial_id()), run_name=ctx.get_trial_name(),
                   kind=xs.get("kind", "trial"), extra_tags=extra,
                   record_dir=records_dir(Path(xs["study_dir"])) if xs.get("study_dir") else None,
                   background=True)  # MLflow calls in this worker's sender thread: the trial never waits on them
    run.log_params({**cfg.to_dict(), **{f"search.{k}": v for k, v in searched.items()}})
    return run


def run_id_of(run: Any) -> str:
    """The MLflow run id to report to Tune ("" while the run does not exist: MLflow was unreachable)."""
    return run.run_id if run is not None else ""


def report_final(result: Any, cfg: Any, run: Any, held: dict[str, Any], last_epoch: int) -> None:
    """Final metrics to MLflow (closing the run as FINISHED) and the last report to Tune.

    ``held`` carries the last epoch's metrics and checkpoint, reported here together with the
    final evaluation (one report per epoch; see ``train_trial``).
    """
    from ray import tune

    final = {
        "accuracy": result.accuracy,
        "accuracy_tta": result.accuracy_tta if result.accuracy_tta is not None else result.accuracy,
        "top5": result.top5,
        "valid_loss": result.valid_loss,
        "train_seconds": result.train_seconds,
        "images_per_s": result.images_per_s,
        "infer_ms_per_image": result.infer_ms_per_image_tta or result.infer_ms_per_image,
        "infer_ms_per_image_plain": result.infer_ms_per_image,
        "cost": cfg.cost(),
    }
    if run is not None:
        from study.tracking.artifacts import trial_artifacts

        run.log_final({**final, "objective": result.objective}, trial_artifacts(result))
        run.end("FINISHED", "finished")
    last = held.get("metrics") or (result.history[-1] if result.history else {})
    tune.report(
        {**last, **final, "epoch": last_epoch, OBJECTIVE_KEY: result.objective, FINISHED_KEY: True, RUN_ID_KEY: run_id_of(run),
         "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""),  # the GPU(s) Ray gave this trial
         "device": str(getattr(result, "device", ""))},  # where it trained (cuda, cpu, mps)
        checkpoint=held.get("checkpoint"),
    )


def train_trial(config: dict[str, Any]) -> None:
    """Tune function trainable. ``config["trial"]``: resolved TrialConfig dict; ``config["xs"]``: study info."""
    from ray import tune

    from trainable.checkpoint import latest_checkpoint, load_checkpoint
    from trainable.config import TrialConfig
    from trainable.train import TrialStopped, run_trial

    xs = config["xs"]
    job = config.get("job") or {}  # confirmation runs: {"label", "trial", "confirms"}
    cfg = TrialConfig.from_dict(job.get("trial") or config["trial"])
    searched = {k: v for k, v in config.items() if k not in ("trial", "xs", "job")}
    ctx = tune.get_context()
    trial_id = ctx.get_trial_id()

    work = Path(tempfile.mkdtemp(prefix=f"xs-{trial_id}-"))
    try:
        restored = tune.get_checkpoint()
        if restored is not None:
            restored.to_directory(str(work))
        run = open_trial_run(xs, job, cfg, searched, ctx)
        if run is not None:
            last = latest_checkpoint(work)
            if last is not None:  # epochs done before a retry: make sure MLflow has each exactly once
                run.log_epochs(load_checkpoint(last)["history"])

        last_epoch = cfg.total_epochs - 1
        held: dict[str, Any] = {}

        def on_epoch(metrics: dict[str, Any], ckpt: Path | None) -> None:
            if run is not None:
                run.log_epochs([metrics])
            checkpoint = tune.Checkpoint.from_directory(str(_report_dir(work, ckpt))) if ckpt is not None else None
            if metrics["epoch"] == last_epoch:
                # The last epoch is reported together with the final (TTA) evaluation, so that a
                # scheduler sees exactly one result per epoch and never stops a trial between its
                # last epoch and its final evaluation.
                held.update(metrics=metrics, checkpoint=checkpoint)
                return
            report = {**metrics, OBJECTIVE_KEY: metrics["accuracy"], FINISHED_KEY: False, RUN_ID_KEY: run_id_of(run)}
            tune.report(report, checkpoint=checkpoint)
            _maybe_inject_fault(xs.get("fault"), metrics["epoch"])

        try:
            result = run_trial(cfg, on_epoch=on_epoch, checkpoint_dir=work, should_stop=deadline_check(xs))
        except TrialStopped:
            return  # the phase's deadline passed: the driver records the trial as stopped by the budget
        report_final(result, cfg, run, held, last_epoch)
    finally:
        shutil.rmtree(work, ignore_errors=True)
