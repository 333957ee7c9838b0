"""Panel 8, the search as it went: the objective of each search trial in the order they started,
the best so far, and parallel coordinates of the searched values of the finished trials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards.tables import StudyTables

__all__ = ["HistoryInfo", "HistoryPoint", "history_info"]


@dataclass(frozen=True)
class HistoryPoint:
    order: int  # 1-based, by start time
    name: str
    outcome: str
    objective: float | None
    best_so_far: float | None  # best objective of the finished trials up to this one


@dataclass(frozen=True)
class HistoryInfo:
    points: tuple[HistoryPoint, ...]
    params: tuple[str, ...]  # parallel-coordinates axes (searched parameters), then the objective
    rows: tuple[tuple[dict[str, Any], float], ...]  # finished trials: (values, objective)
    reason: str | None = None


def history_info(tables: StudyTables) -> HistoryInfo:
    trials = tables.phase("search")
    if not trials:
        return HistoryInfo((), (), (), reason="no search trial has started")
    points, best = [], None
    for i, t in enumerate(trials, 1):
        if t.finished and t.objective is not None:
            best = t.objective if best is None else max(best, t.objective)
        points.append(HistoryPoint(i, t.name, t.outcome, t.objective, best))
    finished = [t for t in trials if t.finished and t.objective is not None]
    params = tuple(dict.fromkeys(k for t in finished for k in t.params))
    rows = tuple((dict(t.params), float(t.objective)) for t in finished if t.objective is not None)
    if best is None:
        return HistoryInfo(tuple(points), params, rows, reason=f"none of the {len(trials)} search trials finished")
    return HistoryInfo(tuple(points), params, rows)
