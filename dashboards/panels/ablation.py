"""Panel 9, ablation: each technique's paired contribution to the winner, with its noise, when the
study ran an ablation phase (``summary.json["ablation"]``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dashboards.tables import StudyTables

__all__ = ["AblationInfo", "AblationRow", "ablation_info"]


@dataclass(frozen=True)
class AblationRow:
    technique: str
    contribution: float  # objective of the winner − the winner without this technique (paired over seeds)
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: str
    n_pairs: int


@dataclass(frozen=True)
class AblationInfo:
    rows: tuple[AblationRow, ...]
    reason: str | None = None


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def ablation_info(tables: StudyTables) -> AblationInfo:
    raw = (tables.summary or {}).get("ablation")
    if raw is None:
        why = "the study has no summary yet" if tables.summary is None else "this study ran no ablation phase"
        return AblationInfo((), reason=why)
    if not isinstance(raw, list):
        return AblationInfo((), reason=f"summary.json's ablation is not a list of techniques (got {type(raw).__name__})")
    rows = []
    for r in raw:
        if not isinstance(r, dict) or _num(r.get("contribution")) is None:
            continue
        rows.append(AblationRow(str(r.get("technique", "?")), float(r["contribution"]), _num(r.get("stderr")),
                                _num(r.get("ci_low")), _num(r.get("ci_high")), _num(r.get("p_value")),
                                str(r.get("verdict") or ""), int(r.get("n_pairs") or 0)))
    if not rows:
        return AblationInfo((), reason="the ablation phase recorded no technique with a contribution")
    return AblationInfo(tuple(sorted(rows, key=lambda r: -r.contribution)))
