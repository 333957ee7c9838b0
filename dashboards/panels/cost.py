"""Panel 5, cost: the objective against training seconds and against inference time per image,
every finished trial drawn, the Pareto front (no other trial is both better and cheaper)
highlighted — for single-objective studies too, since a cheaper near-best is worth seeing."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.tables import StudyTables

__all__ = ["CostInfo", "CostPoint", "cost_info", "pareto"]


@dataclass(frozen=True)
class CostPoint:
    name: str
    phase: str
    objective: float
    train_seconds: float | None
    infer_ms: float | None  # per image, with TTA when on (what the objective cost at inference)


@dataclass(frozen=True)
class CostInfo:
    points: tuple[CostPoint, ...]
    front_train: frozenset[str]  # trial names on the accuracy / training-seconds front
    front_infer: frozenset[str]  # ... on the accuracy / inference-ms front
    study_front: frozenset[str]  # the study's own Pareto front (multi-objective studies, summary.json)
    reason: str | None = None


def pareto(points: list[tuple[str, float, float]]) -> frozenset[str]:
    """Names of the ``(name, score, cost)`` points no other point beats: score ≥, cost ≤, one strictly."""
    front = set()
    for name, score, cost in points:
        dominated = any(s >= score and c <= cost and (s > score or c < cost) for _, s, c in points)
        if not dominated:
            front.add(name)
    return frozenset(front)


def cost_info(tables: StudyTables) -> CostInfo:
    points = [CostPoint(t.name, t.phase, t.objective, t.final.get("train_seconds"), t.final.get("infer_ms_per_image_tta"))
              for t in tables.finished("search") if t.objective is not None]
    study_front = frozenset(str(r.get("trial")) for r in (tables.summary or {}).get("pareto_front") or [] if isinstance(r, dict))
    if not points:
        return CostInfo((), frozenset(), frozenset(), study_front, reason="no search trial finished: no cost to set against accuracy")
    train = pareto([(p.name, p.objective, p.train_seconds) for p in points if p.train_seconds is not None])
    infer = pareto([(p.name, p.objective, p.infer_ms) for p in points if p.infer_ms is not None])
    return CostInfo(tuple(points), train, infer, study_front)
