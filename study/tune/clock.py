"""The study's wall-clock budget, counted across sessions (a launch, then each ``study resume``).

A study that is interrupted and resumed must not get its budget back: time already spent stays
spent. The driver writes ``budget.json`` in the study folder — the seconds spent before this
session and when this session started — at the start of each session and every few seconds while
it runs. Everything that needs the study's clock (the searcher's deadline for new trials, the
stopper that ends the search at its deadline, the progress line) holds a :class:`BudgetClock`, a
plain value naming that file. Ray Tune pickles these objects with the experiment; when
``Tuner.restore`` brings them back in a later session, they read the new session's start from
the file instead of carrying the old session's absolute times.

Time between the last write and a hard kill (SIGKILL, power loss) is not counted: at most
:data:`SAVE_EVERY_S` seconds per kill.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study.common.files import write_json

__all__ = ["BudgetClock", "Deadline", "SAVE_EVERY_S", "begin_session", "spent_seconds"]

FILENAME = "budget.json"
SAVE_EVERY_S = 2.0  # how often a running driver records the time spent

_cache: dict[str, tuple[float, float, float]] = {}  # path -> (mtime_ns, session_started, spent_before)


def _read(path: str) -> dict[str, float]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {k: float(data[k]) for k in ("session_started", "spent_before", "spent_s")}


def spent_seconds(study_dir: Path) -> float:
    """Budget seconds a study has used so far (0 for a study that never started a session)."""
    path = Path(study_dir) / FILENAME
    return _read(str(path))["spent_s"] if path.exists() else 0.0


@dataclass(frozen=True)
class BudgetClock:
    """The study's clock: ``started`` is when the study would have started had it never stopped."""

    path: str  # the study folder's budget.json
    total_s: float  # the study's whole budget, seconds

    def _session(self) -> tuple[float, float]:
        mtime = os.stat(self.path).st_mtime_ns
        hit = _cache.get(self.path)
        if hit is None or hit[0] != mtime:
            data = _read(self.path)
            hit = (mtime, data["session_started"], data["spent_before"])
            _cache[self.path] = hit
        return hit[1], hit[2]

    def started(self) -> float:
        session_started, spent_before = self._session()
        return session_started - spent_before

    def spent_before(self) -> float:
        """Seconds earlier sessions spent."""
        return self._session()[1]

    def spent(self) -> float:
        return time.time() - self.started()

    def left(self) -> float:
        return self.total_s - self.spent()

    def save(self) -> None:
        """Record the time spent so far (the driver calls this every few seconds and at exit)."""
        session_started, spent_before = self._session()
        write_json(Path(self.path), {"session_started": session_started, "spent_before": spent_before,
                           "spent_s": time.time() - session_started + spent_before})


@dataclass(frozen=True)
class Deadline:
    """A point of the study's budget (``at_s`` seconds into it) as a wall-clock time, per session."""

    clock: BudgetClock
    at_s: float

    def time(self) -> float:
        return self.clock.started() + self.at_s

    def to_dict(self) -> dict[str, float | str]:
        """Plain values, for a trial's config (the trial stops itself at this deadline)."""
        return {"budget_file": self.clock.path, "total_s": self.clock.total_s, "at_s": self.at_s}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Deadline":
        return cls(BudgetClock(str(d["budget_file"]), float(d["total_s"])), float(d["at_s"]))


def begin_session(study_dir: Path, total_s: float, *, new_study: bool = False) -> BudgetClock:
    """Start counting a new session from now, on top of what earlier sessions spent (none for a new study)."""
    path = str(Path(study_dir) / FILENAME)
    spent = 0.0 if new_study else spent_seconds(Path(study_dir))
    write_json(Path(path), {"session_started": time.time(), "spent_before": spent, "spent_s": spent})
    return BudgetClock(path, float(total_s))
