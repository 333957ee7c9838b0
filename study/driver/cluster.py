"""Ray for a study: start a local cluster or join one, and size the trials to its resources."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study.common.errors import UsageError

__all__ = ["ClusterRequest", "check_reachable", "init_ray", "prepare_ray", "quiet_ray", "resources", "route_cluster_messages"]


@dataclass(frozen=True)
class ClusterRequest:
    """What a study asks of Ray: a cluster to join (or the local machine's CPUs and GPUs), and trial sizes."""

    address: str | None = None  # join an existing Ray cluster (HOST:PORT, ray://HOST:PORT, auto)
    cpus: int | None = None  # CPUs to use on this machine (None: all)
    gpus: int | None = None  # GPUs to use on this machine (None: all that are there)
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None


def resources(opts: ClusterRequest, cluster: dict[str, float]) -> tuple[float, float, int]:
    """(cpus per trial, gpus per trial, concurrent trials) for this cluster."""
    cpus = cluster.get("CPU", 1.0)
    gpus = cluster.get("GPU", 0.0)
    gpt = opts.gpus_per_trial if opts.gpus_per_trial is not None else (1.0 if gpus >= 1 else 0.0)
    if gpt > gpus:
        raise UsageError(f"--gpus-per-trial {gpt} but the Ray cluster has {gpus:g} GPUs; lower it or add GPUs")
    if gpt > 0:
        slots = int(gpus // gpt)
        cpt = opts.cpus_per_trial if opts.cpus_per_trial is not None else max(1.0, float(int(cpus // max(slots, 1))))
    else:
        cpt = opts.cpus_per_trial if opts.cpus_per_trial is not None else 1.0
        slots = int(cpus // cpt)
    if cpt > cpus:
        raise UsageError(f"--cpus-per-trial {cpt:g} but the Ray cluster has {cpus:g} CPUs; lower it")
    return cpt, gpt, max(1, min(slots, int(cpus // cpt)))


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on an address nothing answers at (``ray.init`` would wait for minutes)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--address {address!r} is not HOST:PORT (or ray://HOST:PORT, or auto)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise UsageError(f"nothing answers at --address {address!r} ({e.strerror or e}); start the cluster "
                         f"(`ray start --head --port {port}`) or fix the address") from None


def prepare_ray(opts: ClusterRequest) -> None:
    """Before ``ray`` is first imported: fail fast on an address nothing answers at, and choose the
    token mode for a cluster that needs it.

    Clusters started with `ray start` (Ray >= 2.59) require the auth token, which the client sends
    only in token mode (read when ray is imported): use it when this machine has one, unless the
    user chose a mode.
    """
    if opts.address:
        check_reachable(opts.address)
        if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or (Path.home() / ".ray" / "auth_token").exists():
            os.environ.setdefault("RAY_AUTH_MODE", "token")


def init_ray(opts: ClusterRequest) -> bool:
    """Start or join Ray (after :func:`prepare_ray`); returns True if this call started it (and must shut it down)."""
    prepare_ray(opts)
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if opts.address:
        try:
            ray.init(address=opts.address, **kwargs)
        except (ConnectionError, RuntimeError) as e:
            ray.shutdown()
            raise UsageError(f"cannot join the Ray cluster at --address {opts.address!r} ({e}); check that it runs "
                             f"(`ray status --address {opts.address}`) and that this machine has the cluster's auth "
                             f"token (~/.ray/auth_token or RAY_AUTH_TOKEN)") from None
        route_cluster_messages()
        return True
    ray.init(num_cpus=opts.cpus, num_gpus=opts.gpus, **kwargs)
    route_cluster_messages()
    return True


def route_cluster_messages() -> None:
    """The messages the cluster sends the driver ("The node with node id ... has been marked dead",
    a worker killed for memory) to the ``ray`` logger, which writes to ``study.log``
    (``study.common.logs``), instead of the terminal.

    Ray's driver prints them from a thread of its own with ``ray._private.worker.print_to_stdstream``,
    straight to stdout, whatever the logging set-up (``log_to_driver=False`` silences the workers'
    output, not these); with ``log_to_driver=False`` nothing else calls that function, so it is
    replaced. The study tells the user of a lost node in its own words (``study.tune.monitor``).
    """
    import ray._private.worker as worker

    if not hasattr(worker, "print_to_stdstream"):  # another Ray: its messages stay where it prints them
        return
    log = logging.getLogger("ray")

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines") or ():
            log.warning("(%s) %s", data.get("pid") or "raylet", line)

    worker.print_to_stdstream = to_log


def quiet_ray() -> None:
    """Keep Ray Tune's own tables and warnings out of the study's terminal output.

    The study prints its own progress (``study.tune.monitor``); Tune's per-trial CSV/JSON/TensorBoard
    loggers are off (MLflow is the record) and so are the warnings that their absence causes.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # With several objectives, the cost metrics (train_seconds, infer_ms_per_image) exist only in a
    # trial's final report; per-epoch reports would fail Tune's check that every result has them.
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    for name in ("ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
