"""Ctrl+C (SIGINT) or SIGTERM stops a study cleanly, so that ``study resume`` can continue it.

Inside ``Tuner.fit`` the first signal asks Ray Tune to stop: Tune saves the experiment state one
last time and returns, trials keep their last epoch checkpoints, and the driver then says how to
resume. Outside ``fit`` (start-up, data preparation) it raises ``KeyboardInterrupt`` at once. A
second signal always quits at once.

Tune's own SIGINT handler is turned off (``TUNE_DISABLE_SIGINT_HANDLER``) because it would hide
the interruption from the driver; Tune still listens to SIGUSR1 during ``fit``, which is how this
handler asks it to stop.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

__all__ = ["StudyInterrupted", "graceful_stop", "requested", "tune_running"]

_requested = threading.Event()
_in_tune = threading.Event()


class StudyInterrupted(Exception):
    """The user stopped the study; its state is saved and ``study resume`` continues it."""


def requested() -> bool:
    return _requested.is_set()


@contextmanager
def graceful_stop(say: Callable[[str], None]) -> Iterator[None]:
    """Install the handlers for the life of a launch or resume (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    _requested.clear()

    def handler(signum: int, frame: object) -> None:
        if _requested.is_set():
            raise KeyboardInterrupt  # a second signal: quit now
        _requested.set()
        if _in_tune.is_set():
            say(f"{signal.Signals(signum).name}: stopping the study; saving its state "
                "(press Ctrl+C again to quit at once)")
            os.kill(os.getpid(), signal.SIGUSR1)  # Tune's stop request
        else:
            raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    # Until Tune installs its own, SIGUSR1 must not take the default action (terminate).
    signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def tune_running() -> Iterator[None]:
    """Mark the span of a ``Tuner.fit`` call; raise :class:`StudyInterrupted` after it if asked to stop."""
    if _requested.is_set():
        raise StudyInterrupted
    _in_tune.set()
    try:
        yield
    finally:
        _in_tune.clear()
    if _requested.is_set():
        raise StudyInterrupted
