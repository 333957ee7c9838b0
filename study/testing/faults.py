"""The test hooks: a stand-in trainable instead of training, and fault injection (a real SIGKILL to
a real trial worker, mid-epoch, once).

Tests and benchmarks ask for them with environment variables when they launch a study:
:data:`TRAINABLE_ENV` (a ``study.testing`` function instead of the real trainable) and
:data:`FAULT_ENV` (JSON; the driver passes it to the trials in their ``xs`` info). No option or
flag of the product reaches them, and a study that runs with one never passes for a measured one:
the hook is checked before anything else (only ``study.testing``'s stand-ins, valid JSON), said on
the terminal when the study starts, and recorded as ``test_hooks`` in ``study.json`` and
``summary.json``, as the ``xs.test_hooks`` tag of the parent run and of every trial's run, and on
the dashboard.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study.common.errors import UsageError

__all__ = ["FAULT_ENV", "TRAINABLE_ENV", "TestHooks", "hooks_from_env", "maybe_inject_fault"]

FAULT_ENV = "XRESNET_STUDY_TEST_FAULT"  # {"kill_after_epoch": N, "marker": path, "delay_s": s}
TRAINABLE_ENV = "XRESNET_STUDY_TEST_TRAINABLE"  # "module:function" instead of the real trainable


STAND_INS = "study.testing."  # the only modules a test hook may run instead of the real trainable


@dataclass(frozen=True)
class TestHooks:
    """What a test asked of a study through the environment."""

    __test__ = False  # not a pytest class

    trainable: str | None  # "study.testing.stand_in:planted_trial": trials run it instead of training
    fault: dict[str, Any] | None  # {"kill_after_epoch": N, "marker": path, "delay_s": s}

    def describe(self) -> str:
        parts = [f"trainable {self.trainable}"] if self.trainable else []
        parts += [f"fault {json.dumps(self.fault, sort_keys=True)}"] if self.fault else []
        return "; ".join(parts)

    def announcement(self) -> str:
        made_up = " (a stand-in: its accuracies are made up, not measured)" if self.trainable else ""
        return f"TEST HOOKS ON: {self.describe()}{made_up}; the study is tagged xs.test_hooks"


def hooks_from_env() -> TestHooks | None:
    """The test hooks the environment asks for, checked; None when there are none (every user's study)."""
    trainable = os.environ.get(TRAINABLE_ENV) or None
    text = os.environ.get(FAULT_ENV) or None
    if trainable is None and text is None:
        return None
    if trainable is not None and (not trainable.startswith(STAND_INS) or ":" not in trainable):
        raise UsageError(f"{TRAINABLE_ENV}={trainable!r}: a test hook runs only a stand-in of {STAND_INS.rstrip('.')} "
                         f"(e.g. study.testing.stand_in:sleep_trial); unset {TRAINABLE_ENV} to train for real")
    fault = None
    if text is not None:
        try:
            fault = json.loads(text)
        except ValueError as e:
            raise UsageError(f"{FAULT_ENV}={text!r} is not JSON ({e}); it takes "
                             f'{{"kill_after_epoch": N, "marker": "PATH"}}, or unset it') from None
        if not isinstance(fault, dict) or not isinstance(fault.get("kill_after_epoch"), int) or not fault.get("marker"):
            raise UsageError(f'{FAULT_ENV}={text!r}: it takes {{"kill_after_epoch": N, "marker": "PATH"}}, or unset it')
    return TestHooks(trainable, fault)


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
