"""Optuna's journal file, appended to without an ``fsync`` per operation.

Optuna's ``JournalFileBackend`` syncs the file to disk at every append: about 7 a trial (its
creation, each parameter, its end), each waiting for the disk inside the driver's Tune loop, where
every trial's reports and start wait their turn (docs/SCALING.md). :class:`JournalFile` leaves a
line in the operating system's hands once written, which a killed driver (``study resume``) does
not lose; :func:`study.tune.optuna_store.sync` puts the file on disk at the end of the search. Same
file, same lines, same lock: Optuna's own backend and ``optuna-dashboard`` read it as before.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from optuna.storages.journal import BaseJournalBackend, JournalFileBackend, JournalFileSymlinkLock

__all__ = ["JournalFile"]


class JournalFile(BaseJournalBackend):
    """Reads through Optuna's ``JournalFileBackend``; appends under its symlink lock, without ``fsync``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._reader = JournalFileBackend(path)  # creates the file when it is missing
        self._lock = JournalFileSymlinkLock(path)

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        return self._reader.read_logs(log_number_from)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        self._lock.acquire()
        try:
            with open(self.path, "ab") as f:
                f.write(text)
        finally:
            self._lock.release()
