"""The Pareto front of a study's finished trials on its objectives (accuracy up, costs down)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["pareto_front"]


def pareto_front(rows: Iterable[Mapping[str, Any]], directions: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rows not dominated on ``directions`` (metric -> "maximize" | "minimize"), best first on the first metric.

    A row dominates another when it is at least as good on every metric and better on one. Rows
    missing a metric (or holding a non-number there) are left out.
    """
    metrics = list(directions)
    kept = [dict(r) for r in rows if all(isinstance(r.get(m), (int, float)) for m in metrics)]

    def at_least_as_good(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        return all((a[m] >= b[m]) if directions[m] == "maximize" else (a[m] <= b[m]) for m in metrics)

    front = [r for r in kept
             if not any(at_least_as_good(o, r) and any(o[m] != r[m] for m in metrics) for o in kept)]
    first = metrics[0]
    return sorted(front, key=lambda r: -r[first] if directions[first] == "maximize" else r[first])
