"""One session of a study (``study launch``, or a ``study resume``): prepare, walk the phases not
yet done (:data:`study.driver.phases.PHASES`), write the answer — inside one interrupt/``finally``
block, so that a study stopped anywhere keeps its records, says how to resume, and leaves no MLflow
run RUNNING.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from study.driver.options import LaunchOptions

if TYPE_CHECKING:
    from study.driver.done import Outcomes
    from study.driver.tuner import Runtime
    from study.spec import StudySpec
    from study.testing.faults import TestHooks
    from study.tracking import TrackingInfo
    from study.tune.clock import BudgetClock

__all__ = ["Session", "run_study", "study_artifacts"]


@dataclass(frozen=True)
class Session:
    """What this session runs: the study as launched, where its records go, and its clock."""

    spec: StudySpec  # resolved once, at launch (or read back from the folder by resume)
    opts: LaunchOptions
    study_dir: Path
    launch_id: str
    uri: str | None  # MLflow tracking URI (None: no MLflow)
    experiment_id: str | None
    clock: BudgetClock  # the study's wall clock, across sessions
    parent_run_id: str | None = None  # the MLflow parent run of an earlier session
    resumed: bool = False
    started_ray: bool = False  # this session started Ray (and shuts it down)
    hooks: TestHooks | None = None  # tests' stand-in trainable or fault; announced and tagged everywhere


@dataclass
class _Ends:
    """What the session's ``finally`` closes, filled in as the session gets there."""

    tracking: TrackingInfo | None = None
    cache_folder: Path | None = None
    summary: dict[str, Any] | None = None
    dashboard: Path | None = None


def run_study(s: Session) -> dict[str, Any]:
    """The phases of the study not yet done, then its answer (``summary.json``); shared by launch and resume."""
    from study.common import interrupt
    from study.common.console import say
    from study.common.interrupt import StudyInterrupted, graceful_stop
    from study.driver.present import write_dashboard_quietly
    from study.driver.summary import print_summary, summarize

    ends = _Ends()
    try:
        with graceful_stop(say):
            try:
                rt = _prepare(s, ends)
                spec = _for_this_session(s.spec, rt)
                done = _walk_phases(spec, rt)
                ends.summary = summarize(spec, done, s.study_dir, s.uri, s.clock, hooks=s.hooks, slots=rt.slots)
                _finish(s.study_dir, ends.summary)
                ends.dashboard = write_dashboard_quietly(s.study_dir, say)
                print_summary(ends.summary, say, dashboard=ends.dashboard)
                return ends.summary
            except KeyboardInterrupt:
                raise StudyInterrupted from None
    except StudyInterrupted:
        root = Path(s.opts.root)
        where = "" if root == Path("studies") else f" --root {root}"
        say(f"interrupted after {s.clock.spent():.0f} s of the {s.spec.budget.time_s:.0f} s budget; finished trials are kept")
        say(f"resume with:  study resume {s.spec.name}{where}")
        ends.dashboard = write_dashboard_quietly(s.study_dir, say)
        if ends.dashboard is not None:
            say(f"dashboard so far: {ends.dashboard}")
        raise StudyInterrupted(f"study resume {s.spec.name}{where}") from None
    finally:
        _close(s, ends, "done" if ends.summary is not None else "interrupted" if interrupt.requested() else "stopped")


def _walk_phases(spec: StudySpec, rt: Runtime) -> Outcomes:
    """Each phase in order: loaded when an earlier session recorded its outcome, else run and recorded."""
    from study.common import interrupt
    from study.driver.done import Outcomes
    from study.driver.phases import PHASES
    from study.driver.state import update_record

    done = Outcomes()
    for phase in PHASES:
        path = phase.outcome_path(rt.study_dir)
        if path.exists():
            setattr(done, phase.name, phase.load(path, spec))
            continue
        update_record(rt.study_dir, phase=phase.name)
        outcome = phase.run(spec, rt, done)
        outcome.save(path)
        if phase.after is not None and not interrupt.requested():
            phase.after(outcome, spec)
        setattr(done, phase.name, outcome)
    return done


def _prepare(s: Session, ends: _Ends) -> Runtime:
    """Ray's resources, the MLflow parent run, the data's decoded cache: this session's :class:`Runtime`."""
    import ray

    from study.common.console import say
    from study.driver.cluster import resources
    from study.driver.state import update_record
    from study.driver.tuner import Runtime
    from study.spec import describe, to_trial_config
    from study.tracking.follow import driver_sends
    from study.tune.trainable import TRAINABLE
    from trainable.data import prepare

    update_record(s.study_dir, driver={"host": socket.gethostname(), "pid": os.getpid()})
    spec, clock = s.spec, s.clock
    say(f"{'resuming' if s.resumed else 'study'} {spec.name!r} in {s.study_dir}/ — budget {spec.budget.time_s:.0f} s"
        + (f" ({clock.spent_before():.0f} s spent before)" if s.resumed else "") + f", seed {spec.seed}")
    if s.hooks is not None:
        say(s.hooks.announcement())
    if not s.resumed:
        say("search space:\n" + describe(spec))
    cluster = ray.cluster_resources()
    cpt, gpt, slots = resources(s.opts.cluster(), cluster)
    say(f"ray: {cluster.get('CPU', 0):g} CPUs, {cluster.get('GPU', 0):g} GPUs; {slots} trial(s) at once, {cpt:g} CPU + {gpt:g} GPU each")
    if s.uri is not None and s.experiment_id is not None:
        ends.tracking = _parent_run(s, cluster, slots)
        update_record(s.study_dir, parent_run_id=ends.tracking.parent_run_id)

    base = to_trial_config(spec, {})  # build the decoded cache once, here, before trials race for it
    say(f"data: preparing {base.data!r} at presize {base.presize} px")
    ends.cache_folder = prepare(base.data, base.presize, data_dir=Path(base.data_dir) if base.data_dir else None,
                                label_noise=base.label_noise).folder
    tracking = ends.tracking
    return Runtime(
        study_dir=s.study_dir, clock=clock, slots=slots, cpt=cpt, gpt=gpt,
        device="cuda" if gpt > 0 else "cpu", threads=max(1, int(cpt)) if gpt == 0 else 0,
        common={"tracking": tracking.__dict__ if tracking else None, "launch_id": s.launch_id,
                "mlflow_from": "driver" if tracking and driver_sends(tracking.uri) else "trial",
                "fault": s.hooks.fault if s.hooks else None, "study_dir": str(s.study_dir.resolve()),
                **({"test_hooks": s.hooks.describe()} if s.hooks else {})},
        tracking_uri=s.uri, say=say, status_every_s=s.opts.status_every_s,
        trainable=s.hooks.trainable if s.hooks and s.hooks.trainable else TRAINABLE,
        node_wait_s=s.opts.node_wait_s(),
    )


def _for_this_session(spec: StudySpec, rt: Runtime) -> StudySpec:
    """The study's spec with this session's device and threads in every trial's base config, and on GPUs
    the study folder's ``compile`` folder for the compiled graphs every node's trials share (``compile_cache``)."""
    shared = rt.device == "cuda" and not spec.base.get("compile_cache")
    extra = {"compile_cache": str((rt.study_dir / "compile").resolve())} if shared else {}
    return replace(spec, base={**spec.base, "device": rt.device, "threads": rt.threads, **extra})


def _finish(study_dir: Path, summary: dict[str, Any]) -> None:
    """The study's answer recorded: ``summary.json``, and the study marked done."""
    from study.common.files import write_json
    from study.driver.state import update_record

    write_json(study_dir / "summary.json", summary)
    update_record(study_dir, phase="done")


def _close(s: Session, ends: _Ends, state: str) -> None:
    """Whatever happened: the clock saved, the dashboard written, MLflow brought up to date and closed, Ray stopped."""
    from study.common.console import say
    from study.driver.present import present, write_dashboard_quietly

    s.clock.save()
    if ends.dashboard is None:  # a study that failed: the dashboard shows what it got to
        ends.dashboard = write_dashboard_quietly(s.study_dir, say)
    if ends.tracking is not None:
        _sync(s.study_dir, ends.tracking.uri, say)
        present(s.study_dir, ends.tracking, ends.summary, ends.dashboard, say, cache_folder=ends.cache_folder, state=state)
        _close_runs(ends.tracking, say)
    if s.started_ray:
        import ray

        ray.shutdown()


def study_artifacts(spec: StudySpec) -> dict[str, Any]:
    """The study file as given (or the built-in one) and the space as resolved, for the parent run."""
    from study.spec import describe

    source = Path(spec.source)
    if source.is_file():
        text = source.read_text(encoding="utf-8")
    else:
        from importlib.resources import files

        text = files("study.spec").joinpath("default_space.toml").read_text(encoding="utf-8")
    return {"study.toml": text, "space.txt": describe(spec) + "\n"}


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _parent_run(s: Session, cluster: dict[str, float], slots: int) -> TrackingInfo:
    """The study's MLflow parent run: created at launch, the same run again (RUNNING) on resume."""
    from study.tracking import open_parent_run

    spec = s.spec
    if s.uri is None or s.experiment_id is None:
        raise RuntimeError("the parent run needs a tracking URI and an experiment")
    tags = {"xs.git_commit": _git_commit(), "xs.launch_id": s.launch_id}
    if s.hooks is not None:
        tags["xs.test_hooks"] = s.hooks.describe()
    return open_parent_run(s.uri, s.experiment_id, spec.name, s.parent_run_id, {
        "study_file": spec.source, "budget_s": spec.budget.time_s, "seed": spec.seed,
        "max_trials": spec.budget.max_trials, "cluster_cpus": cluster.get("CPU", 0), "cluster_gpus": cluster.get("GPU", 0),
        "concurrent_trials": slots, "objectives": ",".join(o.metric for o in spec.objectives),
    }, tags, artifacts=study_artifacts(spec))


def _sync(study_dir: Path, uri: str, say: Callable[[str], None]) -> None:
    """The automatic retry: whatever the trials' records hold and MLflow missed (an outage) goes in now."""
    from study.tracking.sync import sync_study

    try:
        report = sync_study(study_dir, uri, say=lambda text: None, timeout_s=5)
    except Exception as e:  # never hide the real error behind a tracking one
        say(f"warning: could not check the MLflow records: {e}; run `study sync {study_dir.name}` later")
        return
    if report.error:
        say(f"mlflow: {report.error}")
    elif report.sent.sent:
        say(f"mlflow: {report.sentence()}")


def _close_runs(tracking: TrackingInfo, say: Callable[[str], None]) -> None:
    """No run left RUNNING: trials cut off are KILLED; the parent ends FINISHED (KILLED if interrupted)."""
    from study.common import interrupt
    from study.tracking import close_leftover_runs, finish_parent_run

    try:
        n = close_leftover_runs(tracking.uri, tracking.experiment_id, tracking.parent_run_id)
        if n:
            say(f"mlflow: marked {n} run(s) that did not end as KILLED")
        finish_parent_run(tracking.uri, tracking.parent_run_id, "KILLED" if interrupt.requested() else "FINISHED")
    except Exception as e:  # never hide the real error behind a tracking one
        say(f"warning: could not close MLflow runs: {e}")

