"""One thread per process that makes MLflow calls in the order given, so that the caller never waits.

A Ray worker's trials hand their MLflow calls to :data:`SENDER` (``TrialRun(background=True)``).
When the process exits, the sender is flushed for at most :attr:`Sender.FLUSH_AT_EXIT_S`; what a
killed process had not sent stays in the trial's record for the study's closing sync.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from typing import Callable

__all__ = ["SENDER", "Sender"]


class Sender:
    """One thread that runs MLflow calls in the order given, so that the caller never waits on them."""

    FLUSH_AT_EXIT_S = 5.0

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mlflow-sender", daemon=True)
                self._thread.start()
                atexit.register(self.flush, self.FLUSH_AT_EXIT_S)
        self._queue.put(fn)

    def _loop(self) -> None:
        while True:
            fn = self._queue.get()
            try:
                fn()
            except Exception:  # each call handles MLflow trouble itself; anything else must not end the thread
                logging.getLogger("study").exception("MLflow sender: call failed")
            finally:
                self._queue.task_done()

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything submitted so far is sent (or given up); False if ``timeout_s`` ran out first."""
        q = self._queue
        end = time.monotonic() + timeout_s
        with q.all_tasks_done:
            while q.unfinished_tasks:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                q.all_tasks_done.wait(left)
        return True


SENDER = Sender()  # this process's
