"""MLflow's own system-metrics monitor on a trial's run: how busy its GPU was, and its memory.

MLflow's ``SystemMetricsMonitor`` (psutil, and nvidia-ml-py for NVIDIA GPUs) samples every
``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` seconds (here 5 unless set) and logs
``system/gpu_0_utilization_percentage``, ``system/gpu_0_memory_usage_megabytes``, CPU, disk and
network under the trial's run, so a study's runs show how busy the chip was. It is a thread of the
trial's process that makes its own MLflow calls: the trial never waits on it, and an unreachable
server only ends the monitor (the study's records do not hold system metrics).

On by default where there is a GPU to watch (nvidia-ml-py finds one); MLflow's own switch
``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING`` (true / false) decides otherwise when set.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

__all__ = ["DEFAULT_INTERVAL_S", "ENABLE_ENV", "INTERVAL_ENV", "start_system_metrics", "stop_system_metrics",
           "system_metrics_wanted"]

ENABLE_ENV = "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"
INTERVAL_ENV = "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"
DEFAULT_INTERVAL_S = 5.0  # s between samples (MLflow's own default, 10 s, leaves short trials almost bare)


def _gpu_present() -> bool:
    if importlib.util.find_spec("pynvml") is None:
        return False
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetCount()) > 0
    except Exception:  # no driver, no device: nothing to watch
        return False


def system_metrics_wanted() -> bool:
    """Whether a trial's run gets the monitor: ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING`` if set, else a GPU is there."""
    if importlib.util.find_spec("psutil") is None:
        return False  # MLflow's monitor needs it
    value = os.environ.get(ENABLE_ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return _gpu_present()


def start_system_metrics(uri: str, run_id: str) -> Any | None:
    """Start MLflow's monitor on ``run_id`` (continuing its steps on a retried trial); None when not wanted."""
    if not run_id or not system_metrics_wanted():
        return None
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(run_id, sampling_interval=DEFAULT_INTERVAL_S, resume_logging=True,
                                       tracking_uri=uri)
        monitor.start()
    except Exception:  # a monitor that cannot start never stops the trial's own logging
        return None
    return monitor


def stop_system_metrics(monitor: Any | None) -> None:
    """Stop the monitor and send what it sampled last (before the run is closed)."""
    if monitor is None:
        return
    try:
        monitor.finish()
    except Exception:  # the server may be gone; the trial's own records stand
        pass
