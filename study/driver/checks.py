"""Everything a study checks before anything expensive (before Ray starts, before a trial): the
flags, the study file, the data, the study folder (writable, room for checkpoints, no driver still
running), and MLflow (reachable, or the launch stops with exit 2)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.common.errors import UsageError
from study.driver.cluster import resources
from study.driver.options import LaunchOptions

if TYPE_CHECKING:
    from study.spec import StudySpec

__all__ = ["check_data", "check_mlflow", "check_not_running", "check_options", "check_space", "new_study_dir",
           "resolve_spec", "route_library_logs"]


def check_options(opts: LaunchOptions) -> None:
    for flag, value in (("--gpus", opts.gpus), ("--cpus", opts.cpus), ("--max-trials", opts.max_trials)):
        if value is not None and value < 0:
            raise UsageError(f"{flag} must be >= 0, got {value}")
    if opts.cpus_per_trial is not None and not 0 < opts.cpus_per_trial <= 1024:
        raise UsageError(f"--cpus-per-trial must be in (0, 1024], got {opts.cpus_per_trial}")
    if opts.gpus_per_trial is not None and not 0 <= opts.gpus_per_trial <= 64:
        raise UsageError(f"--gpus-per-trial must be in [0, 64], got {opts.gpus_per_trial}")
    if opts.node_wait is not None:
        from study.spec import parse_duration

        try:
            parse_duration(opts.node_wait)
        except UsageError as e:
            raise UsageError(f"--node-wait {opts.node_wait!r}: {e}") from None
    if opts.confirm_top is not None and opts.confirm_top < 0:
        raise UsageError(f"--confirm-top must be >= 0, got {opts.confirm_top}")
    if opts.confirm_seeds is not None and opts.confirm_seeds < 1:
        raise UsageError(f"--confirm-seeds must be >= 1, got {opts.confirm_seeds}")
    if opts.gpus and not opts.address:
        import torch

        have = torch.cuda.device_count()
        if opts.gpus > have:
            raise UsageError(f"--gpus {opts.gpus} but this machine has {have} CUDA GPU(s); use --gpus {have} or --address for a cluster")


def resolve_spec(opts: LaunchOptions) -> StudySpec:
    """The study as this launch runs it: the study file (or the built-in one) with the flags applied, once."""
    from dataclasses import replace

    from study.spec import apply_overrides, default_spec, load_study_file, parse_duration

    spec = load_study_file(opts.space) if opts.space else default_spec()
    name = opts.name
    if name is None and not opts.space:
        name = f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    spec = apply_overrides(
        spec,
        time_budget=parse_duration(opts.time_budget) if opts.time_budget is not None else None,
        max_trials=opts.max_trials,
        seed=opts.seed,
        name=name,
        confirm_top=opts.confirm_top,
        confirm_seeds=opts.confirm_seeds,
    )
    return replace(spec, base={**spec.base, "data_dir": opts.data_dir}) if opts.data_dir else spec


def new_study_dir(root: str, name: str) -> Path:
    from study.common.files import ensure_writable
    from study.common.folder import RECORD

    d = Path(root) / name
    if (d / RECORD).exists():
        raise UsageError(f"study {name!r} already exists in {d}; pick another --name (or --root), or remove that folder")
    return ensure_writable(d, "study folder", "choose another --root")


def check_not_running(study_dir: Path, record: dict[str, Any]) -> None:
    """Two drivers on one study would run its trials twice: refuse while the last one is alive."""
    driver = record.get("driver") or {}
    pid = driver.get("pid")
    if driver.get("host") != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ProcessLookupError):
        return  # gone: the study can be resumed
    if "study" in cmdline:
        raise UsageError(f"study {record['name']!r} in {study_dir} is still running (process {pid}); "
                         f"stop it first (Ctrl+C, or kill {pid}), then resume")


def check_space(spec: StudySpec, study_dir: Path, opts: LaunchOptions) -> None:
    """Room for the running trials' checkpoints (Tune keeps ``KEEP_CHECKPOINTS`` per trial and writes the next beside them).

    Checked before Ray starts, with this machine's resources (one trial at a time for a cluster).
    """
    from study.common.files import ensure_free_space
    from trainable.checkpoint import checkpoint_bytes

    slots = 1
    if not opts.address:
        import torch

        local = {"CPU": float(opts.cpus or os.cpu_count() or 1),
                 "GPU": float(opts.gpus if opts.gpus is not None else torch.cuda.device_count())}
        slots = resources(opts.cluster(), local)[2]

    models = {spec.base.get("model", "xresnet18")}
    searched = spec.param("model")
    if searched is not None and searched.choices:
        models |= set(searched.choices)
    from study.driver.tuner import KEEP_CHECKPOINTS

    need = slots * (KEEP_CHECKPOINTS + 1) * max(checkpoint_bytes(m) for m in models) + 64 * 2**20
    ensure_free_space(study_dir, need, "study folder", "free some space or choose another --root")


def check_data(spec: StudySpec) -> None:
    from study.spec import to_trial_config
    from trainable.data.errors import DataError
    from trainable.data.sources import check_source

    try:
        check_source(to_trial_config(spec, {}).data)
    except DataError as e:
        raise UsageError(f"{spec.source}: [base] data: {e}") from None


def check_mlflow(opts: LaunchOptions, spec: StudySpec, study_dir: Path, saved_uri: str | None) -> tuple[str | None, str | None]:
    """(tracking URI, experiment id), or (None, None) with --no-mlflow; unreachable → UsageError, before any trial."""
    if opts.no_mlflow:
        return None, None
    from study.tracking import check_tracking, default_tracking_uri

    uri = saved_uri or opts.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(study_dir)
    route_library_logs(study_dir, about_to_import="mlflow")  # before check_tracking creates the store (its INFO lines)
    artifacts = (study_dir / "mlartifacts").resolve().as_uri() if uri.startswith("sqlite:") else None
    try:
        return uri, check_tracking(uri, spec.name, artifact_location=artifacts)
    except ConnectionError as e:
        raise UsageError(f"{e}; start the server, pass another --tracking-uri, or run with --no-mlflow") from None


def route_library_logs(study_dir: Path, *, about_to_import: str) -> None:
    """MLflow's, Ray's and Optuna's own log lines go to ``study.log`` in the study folder, not the
    terminal. Each library installs its terminal handler when it is first imported, so the one about
    to be used (``"mlflow"`` to check the store, ``"ray"`` to start) is imported here first; Ray only
    after :func:`study.driver.cluster.prepare_ray` (its auth mode is read at import)."""
    import importlib

    from study.common import logs

    importlib.import_module(about_to_import)
    logs.route_library_logs(study_dir / "study.log")
