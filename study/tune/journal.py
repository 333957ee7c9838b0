"""A phase's outcome journal (``trials-<phase>.jsonl`` in the study folder): one line per trial
outcome, appended by the driver's monitor (:class:`study.tune.monitor.StudyMonitor`) as each
trial ends, and read back by the driver after ``Tuner.fit`` (or ``Tuner.restore``) — the driver's
record of what each trial of the phase did. No Ray here: the dashboard and the tests read it too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

__all__ = ["TrialOutcome", "best_of", "count_outcomes", "read_outcomes"]


@dataclass
class TrialOutcome:
    trial_id: str
    name: str
    outcome: str  # finished | pruned | budget | failed
    objective: float | None
    config: dict[str, Any]
    params: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    label: str | None = None  # confirmation runs: which configuration this run repeats
    recipe: str | None = None  # search trials: which of the book's recipes this seed trial is (None: TPE's)

    def to_line(self) -> str:
        """The journal's line of this outcome (JSON, newline-terminated)."""
        return json.dumps(asdict(self), default=str) + "\n"


def read_outcomes(path: Path) -> dict[str, TrialOutcome]:
    """The journal of a phase, trial id -> last outcome recorded (an unreadable last line is ignored)."""
    out: dict[str, TrialOutcome] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = TrialOutcome(**json.loads(line))
        except (ValueError, TypeError):
            continue  # a line cut short by a kill
        out[rec.trial_id] = rec
    return out


def best_of(outcomes: Iterable[TrialOutcome]) -> TrialOutcome | None:
    done = [o for o in outcomes if o.outcome == "finished" and o.objective is not None]
    return max(done, key=lambda o: o.objective) if done else None  # type: ignore[arg-type,return-value]


def count_outcomes(outcomes: Iterable[TrialOutcome], running: int = 0) -> dict[str, int]:
    c = {"running": running, "finished": 0, "pruned": 0, "budget": 0, "failed": 0}
    for o in outcomes:
        c[o.outcome] += 1
    return c
