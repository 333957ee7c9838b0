"""Fault injection for the fault tests: a real SIGKILL to a real trial worker, mid-epoch, once.

Tests ask for it with the environment variable :data:`FAULT_ENV` (JSON) when they launch a study;
the driver passes it to the trials in their ``xs`` info (``xs["fault"]``). No option or flag of the
product reaches it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

__all__ = ["FAULT_ENV", "TRAINABLE_ENV", "fault_from_env", "maybe_inject_fault", "trainable_from_env"]

FAULT_ENV = "XRESNET_STUDY_TEST_FAULT"  # {"kill_after_epoch": N, "marker": path, "delay_s": s}
TRAINABLE_ENV = "XRESNET_STUDY_TEST_TRAINABLE"  # "module:function" instead of the real trainable


def fault_from_env() -> dict[str, Any] | None:
    text = os.environ.get(FAULT_ENV)
    return json.loads(text) if text else None


def trainable_from_env(default: str) -> str:
    """The trainable tests and benchmarks swap in (``study.testing.stand_in:sleep_trial``), else ``default``."""
    return os.environ.get(TRAINABLE_ENV) or default


def maybe_inject_fault(fault: dict[str, Any], epoch: int) -> None:
    """SIGKILL this worker ``delay_s`` into the epoch after ``kill_after_epoch``, once.

    The marker file makes it happen only on the first attempt, so Ray's retry runs to the end.
    """
    if epoch != fault["kill_after_epoch"]:
        return
    marker = Path(fault["marker"])
    if marker.exists():
        return
    marker.write_text(str(os.getpid()))
    threading.Timer(float(fault.get("delay_s", 0.3)), os.kill, (os.getpid(), signal.SIGKILL)).start()
