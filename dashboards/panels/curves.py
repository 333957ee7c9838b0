"""Panel 6, learning curves: validation accuracy per epoch for every trial, with each epoch's
image size (progressive resizing changes it), the way each trial ended, and the values it ran
with, so that the page can colour the curves by a parameter the reader picks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboards.tables import StudyTables, Trial

__all__ = ["Curve", "CurvesInfo", "curves_info"]


@dataclass(frozen=True)
class Curve:
    name: str
    phase: str
    outcome: str
    epochs: tuple[int, ...]  # 0-based
    accuracy: tuple[float, ...]
    sizes: tuple[int | None, ...]  # px per epoch
    values: dict[str, Any] = field(default_factory=dict)  # colour-by choices: parameter -> this trial's value


@dataclass(frozen=True)
class CurvesInfo:
    curves: tuple[Curve, ...]
    colour_by: tuple[str, ...]  # what the page offers to colour by, first is the default
    reason: str | None = None


def _values(t: Trial, search: dict[str, Trial], baseline: Trial | None) -> dict[str, Any]:
    """The searched values of a trial; a confirmation run gets those of the configuration it repeats."""
    if t.params:
        return dict(t.params)
    source = baseline if t.label == "baseline" else search.get(t.label or "")
    return dict(source.params) if source is not None else {}


def curves_info(tables: StudyTables) -> CurvesInfo:
    search = {t.name: t for t in tables.phase("search")}
    baseline = next((t for t in search.values() if t.seed_recipe == "baseline"), None)
    curves = []
    for t in tables.trials:
        points = [(e.epoch, e.accuracy, e.size) for e in t.epochs if e.accuracy is not None]
        if not points:
            continue
        values = {**_values(t, search, baseline), "outcome": t.outcome, "phase": t.phase}
        curves.append(Curve(t.name, t.phase, t.outcome, tuple(p[0] for p in points), tuple(float(p[1]) for p in points),
                            tuple(p[2] for p in points), values))
    if not curves:
        return CurvesInfo((), (), reason="no trial has finished an epoch yet")
    varied = []
    for key in dict.fromkeys(k for c in curves for k in c.values if k not in ("outcome", "phase")):
        if len({repr(c.values.get(key)) for c in curves}) > 1:
            varied.append(key)
    return CurvesInfo(tuple(curves), ("outcome", *varied, "phase"))
