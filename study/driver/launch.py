"""``study launch`` and ``study resume``: everything that can be checked cheaply is checked first
(the flags, the study file, the data, the study folder, MLflow, the cluster), then the study is
recorded in its folder and one session runs its phases (:mod:`study.driver.session`, walking
:data:`study.driver.phases.PHASES`: search, confirm, ablation).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, replace
from typing import Any

from study.common.errors import UsageError
from study.driver import checks
from study.driver.cluster import init_ray, prepare_ray, quiet_ray
from study.driver.options import LaunchOptions
from study.driver.session import Session, run_study, study_artifacts

__all__ = ["LaunchOptions", "launch", "resume"]


def launch(opts: LaunchOptions) -> dict[str, Any]:
    """A new study: check everything cheap, record the study in its folder, then run it."""
    from study.testing.faults import hooks_from_env

    quiet_ray()
    hooks = hooks_from_env()  # a test's stand-in or fault: checked first, then announced and tagged everywhere
    checks.check_options(opts)
    spec = checks.resolve_spec(opts)
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
        save_new_study(study_dir, spec, study_artifacts(spec)["study.toml"], {
            "launch_id": launch_id, "started": time.time(), "parent_run_id": None, "options": asdict(opts), "sessions": 1,
            **({"test_hooks": hooks.describe()} if hooks else {}),
        }, tracking_uri=uri)
    except BaseException:
        if started_ray:
            import ray

            ray.shutdown()
        raise
    return run_study(Session(spec, opts, study_dir, launch_id, uri, experiment_id, clock, started_ray=started_ray, hooks=hooks))


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
    from study.testing.faults import hooks_from_env
    from study.tune.clock import begin_session, spent_seconds

    quiet_ray()
    hooks = hooks_from_env()
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
    return run_study(Session(spec, opts, study_dir, record["launch_id"], uri, experiment_id, clock,
                             parent_run_id=record.get("parent_run_id"), resumed=True, started_ray=started_ray, hooks=hooks))
