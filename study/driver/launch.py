"""``study launch``: an Optuna search over chapter 7's techniques, run as Ray Tune trials.

Phases (all inside one wall-clock budget):
  1. check everything that can be checked cheaply: study file, folders, MLflow, resources;
  2. start (or join) Ray, build the data cache once on the driver;
  3. search: the book's recipes first (seed trials), then TPE suggestions, ASHA early stopping,
     no trial started that cannot finish before the search deadline;
  4. confirm: the top K configurations and the baseline again with fresh seeds;
  5. report: best configuration, its margin over the baseline against the seed noise, and the
     commands to look at the records.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from study.common.errors import UsageError
from study.driver import checks
from study.driver.cluster import init_ray, prepare_ray, quiet_ray, resources
from study.driver.options import LaunchOptions

if TYPE_CHECKING:
    from study.spec import StudySpec
    from study.tracking import TrackingInfo
    from study.tune.clock import BudgetClock

__all__ = ["LaunchOptions", "launch", "resume"]

log = logging.getLogger("study")


# ------------------------------------------------------------------------------------------------
# Checks before anything expensive
# ------------------------------------------------------------------------------------------------


def _study_artifacts(spec: StudySpec) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------------------------
# The launch
# ------------------------------------------------------------------------------------------------


def launch(opts: LaunchOptions) -> dict[str, Any]:
    """A new study: check everything cheap, record the study in its folder, then run it."""
    quiet_ray()
    checks.check_options(opts)
    spec = checks.resolve_spec(opts)
    if opts.data_dir:
        spec = replace(spec, base={**spec.base, "data_dir": opts.data_dir})
    checks.check_data(spec)
    study_dir = checks.new_study_dir(opts.root, spec.name)
    from study.tune.clock import begin_session

    clock = begin_session(study_dir, spec.budget.time_s, new_study=True)  # the study's clock starts here
    checks.check_space(spec, study_dir, opts)
    uri, experiment_id = checks.check_mlflow(opts, spec, study_dir, None)
    launch_id = uuid.uuid4().hex[:12]
    prepare_ray(opts.cluster())  # before ray's first import: its auth mode is read then
    checks.route_library_logs(study_dir, about_to_import="ray")
    started_ray = init_ray(opts.cluster())  # a cluster that cannot be joined is a usage error: nothing recorded yet
    from study.driver.state import save_new_study

    try:
        save_new_study(study_dir, spec, _study_artifacts(spec)["study.toml"], {
            "launch_id": launch_id, "started": time.time(), "parent_run_id": None, "options": asdict(opts), "sessions": 1,
        }, tracking_uri=uri)
    except BaseException:
        if started_ray:
            import ray

            ray.shutdown()
        raise
    return _run(spec, opts, study_dir, launch_id, uri, experiment_id, clock, parent_run_id=None, started_ray=started_ray)


def resume(name: str | None, *, root: str = "studies", address: str | None = None,
           status_every_s: float | None = None) -> dict[str, Any]:
    """``study resume``: continue an interrupted study where it stopped, within what is left of its budget.

    Finished trials are kept; interrupted ones continue from their last epoch checkpoint in the
    same MLflow run; the Optuna study continues from all finished trials; the budget counts the
    time already spent; the MLflow parent run is the same.
    """
    from study.common.files import ensure_writable
    from study.common.folder import check_format, find_study, read_study, tracking_uri_of
    from study.driver.state import saved_spec, update_record
    from study.tune.clock import begin_session, spent_seconds

    quiet_ray()
    study_dir = find_study(name, root)
    record = read_study(study_dir)
    check_format(study_dir, record, "study resume")
    if record.get("phase") == "done":
        raise UsageError(f"study {record['name']!r} in {study_dir} is already done; its results are in "
                         f"{study_dir / 'summary.json'} (launch a new study with `study launch --name ...`)")
    if "resolved" not in record:
        raise UsageError(f"study {record['name']!r} in {study_dir} was launched by an older version that cannot resume it")
    ensure_writable(study_dir, "study folder", "make it writable, or free some space, then resume again")
    checks.check_not_running(study_dir, record)
    saved = {k: v for k, v in record["options"].items() if k in LaunchOptions.__dataclass_fields__}
    opts = replace(LaunchOptions(**saved), address=address if address is not None else saved.get("address"),
                   root=root)
    if status_every_s is not None:
        opts = replace(opts, status_every_s=status_every_s)
    checks.check_options(opts)
    spec = saved_spec(study_dir, record)
    spent = spent_seconds(study_dir)
    clock = begin_session(study_dir, spec.budget.time_s)  # this session counts from here
    checks.check_data(spec)
    checks.check_space(spec, study_dir, opts)
    if spent >= spec.budget.time_s:
        from study.common.console import say

        say(f"study {spec.name!r} has spent its whole budget ({spent:.0f} of {spec.budget.time_s:.0f} s); "
            "finishing its records without new trials")
    uri, experiment_id = checks.check_mlflow(opts, spec, study_dir, tracking_uri_of(study_dir, record))
    if record.get("tracking_store") == "folder":
        from study.tracking import relocate_folder_store

        relocate_folder_store(study_dir, spec.name)  # a moved folder: its artifacts are where it is now
    prepare_ray(opts.cluster())  # before ray's first import: its auth mode is read then
    checks.route_library_logs(study_dir, about_to_import="ray")
    started_ray = init_ray(opts.cluster())
    update_record(study_dir, sessions=int(record.get("sessions", 1)) + 1)
    return _run(spec, opts, study_dir, record["launch_id"], uri, experiment_id, clock, parent_run_id=record.get("parent_run_id"),
                phase=record.get("phase", "starting"), started_ray=started_ray)


def _run(spec: StudySpec, opts: LaunchOptions, study_dir: Path, launch_id: str, uri: str | None, experiment_id: str | None,
         clock: BudgetClock, *, parent_run_id: str | None, phase: str = "starting", started_ray: bool = False) -> dict[str, Any]:
    """The phases of a study from ``phase`` on, in this session; shared by launch and resume."""
    from study.common import interrupt
    from study.common.console import say
    from study.common.interrupt import StudyInterrupted, graceful_stop
    from study.driver.state import update_record
    from study.spec import describe, to_trial_config

    update_record(study_dir, driver={"host": socket.gethostname(), "pid": os.getpid()})
    resumed = parent_run_id is not None or phase != "starting"
    verb = "resuming" if resumed else "study"
    say(f"{verb} {spec.name!r} in {study_dir}/ — budget {spec.budget.time_s:.0f} s"
        + (f" ({clock.spent_before():.0f} s spent before)" if resumed else "") + f", seed {spec.seed}")
    if not resumed:
        say("search space:\n" + describe(spec))
    base = to_trial_config(spec, {})
    tracking = None
    summary: dict[str, Any] | None = None
    dashboard: Path | None = None
    cache_folder: Path | None = None
    from study.driver.present import present, write_dashboard_quietly

    try:
        with graceful_stop(say):
            try:
                import ray

                cluster = ray.cluster_resources()
                cpt, gpt, slots = resources(opts.cluster(), cluster)
                say(f"ray: {cluster.get('CPU', 0):g} CPUs, {cluster.get('GPU', 0):g} GPUs; {slots} trial(s) at once, "
                    f"{cpt:g} CPU + {gpt:g} GPU each")
                if uri is not None and experiment_id is not None:
                    tracking = _parent_run(spec, uri, experiment_id, parent_run_id, cluster, slots, launch_id)
                    update_record(study_dir, parent_run_id=tracking.parent_run_id)

                # -- data: build the decoded cache once, here, before trials race for it
                from trainable.data import prepare

                say(f"data: preparing {base.data!r} at presize {base.presize} px")
                cache_folder = prepare(base.data, base.presize, data_dir=Path(base.data_dir) if base.data_dir else None,
                                       label_noise=base.label_noise).folder

                from study.common.files import write_json
                from study.driver.ablation import run_ablation
                from study.driver.confirm import run_confirmations
                from study.driver.search import SearchOutcome, run_search
                from study.driver.summary import print_summary, summarize
                from study.driver.tuner import Runtime
                from study.testing.faults import fault_from_env, trainable_from_env
                from study.tracking.follow import driver_sends
                from study.tune.searcher import settle_running
                from study.tune.trainable import TRAINABLE

                rt = Runtime(
                    study_dir=study_dir, clock=clock, slots=slots, cpt=cpt, gpt=gpt,
                    device="cuda" if gpt > 0 else "cpu", threads=max(1, int(cpt)) if gpt == 0 else 0,
                    common={"tracking": tracking.__dict__ if tracking else None, "launch_id": launch_id,
                            "mlflow_from": "driver" if tracking and driver_sends(tracking.uri) else "trial",
                            "fault": fault_from_env(), "study_dir": str(study_dir.resolve())},
                    tracking_uri=uri, say=say, status_every_s=opts.status_every_s, trainable=trainable_from_env(TRAINABLE),
                    node_wait_s=opts.node_wait_s(),
                )
                if phase in ("starting", "search"):
                    update_record(study_dir, phase="search")
                    search = run_search(spec, rt)
                    search.save(study_dir / "search.json")
                    if not interrupt.requested():
                        settle_running(search.optuna_url, spec.name)
                    update_record(study_dir, phase="confirm")
                else:
                    search = SearchOutcome.load(study_dir / "search.json")
                if phase in ("starting", "search", "confirm"):
                    confirm = run_confirmations(spec, search, rt, baseline=search.baseline_params)
                    write_json(study_dir / "confirm.json", confirm)
                    update_record(study_dir, phase="ablation")
                else:
                    confirm = json.loads((study_dir / "confirm.json").read_text(encoding="utf-8"))
                ablation = run_ablation(spec, search, confirm, rt)
                summary = summarize(spec, search, confirm, ablation, study_dir, uri, clock)
                write_json(study_dir / "summary.json", summary)
                update_record(study_dir, phase="done")
                dashboard = write_dashboard_quietly(study_dir, say)
                print_summary(summary, say, dashboard=dashboard)
                return summary
            except KeyboardInterrupt:
                raise StudyInterrupted from None
    except StudyInterrupted:
        root = Path(opts.root)
        where = "" if root == Path("studies") else f" --root {root}"
        say(f"interrupted after {clock.spent():.0f} s of the {spec.budget.time_s:.0f} s budget; finished trials are kept")
        say(f"resume with:  study resume {spec.name}{where}")
        dashboard = write_dashboard_quietly(study_dir, say)
        if dashboard is not None:
            say(f"dashboard so far: {dashboard}")
        raise StudyInterrupted(f"study resume {spec.name}{where}") from None
    finally:
        clock.save()
        if dashboard is None:  # a study that failed: the dashboard shows what it got to
            dashboard = write_dashboard_quietly(study_dir, say)
        if tracking is not None:
            _sync(study_dir, tracking.uri, say)
            present(study_dir, tracking, summary, dashboard, say, cache_folder=cache_folder,
                    state="done" if summary is not None else "interrupted" if interrupt.requested() else "stopped")
            _close_runs(tracking, say)
        if started_ray:
            import ray

            ray.shutdown()


def _parent_run(spec: StudySpec, uri: str, experiment_id: str, parent_run_id: str | None, cluster: dict[str, float],
                slots: int, launch_id: str) -> TrackingInfo:
    """The study's MLflow parent run: created at launch, the same run again (RUNNING) on resume."""
    from study.tracking import open_parent_run

    return open_parent_run(uri, experiment_id, spec.name, parent_run_id, {
        "study_file": spec.source, "budget_s": spec.budget.time_s, "seed": spec.seed,
        "max_trials": spec.budget.max_trials, "cluster_cpus": cluster.get("CPU", 0), "cluster_gpus": cluster.get("GPU", 0),
        "concurrent_trials": slots, "objectives": ",".join(o.metric for o in spec.objectives),
    }, {"xs.git_commit": _git_commit(), "xs.launch_id": launch_id}, artifacts=_study_artifacts(spec))


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


