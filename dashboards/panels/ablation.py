"""Panel 9, ablation: each technique's paired contribution to the winner, with its noise, when the
study ran an ablation phase (``summary.json["ablation"]``: ``{"winner", "seeds", "level",
"techniques": [rows], "skipped": [{"technique", "reason"}], "note"}``, or the bare list of rows)."""

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
    p_adjusted: float | None = None  # Holm-corrected over the techniques judged together
    shown: bool | None = None  # the contribution differs from 0 at the study's level (None: no test)
    evaluation_only: bool = False  # read from the winner's own models (TTA off): no run of its own


@dataclass(frozen=True)
class AblationInfo:
    rows: tuple[AblationRow, ...]
    winner: str | None = None
    level: float | None = None
    skipped: tuple[str, ...] = ()  # "technique: why it was not ablated"
    reason: str | None = None


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def ablation_info(tables: StudyTables) -> AblationInfo:
    raw = (tables.summary or {}).get("ablation")
    if raw is None:
        why = "the study has no summary yet" if tables.summary is None else "this study ran no ablation phase"
        return AblationInfo((), reason=why)
    section = raw if isinstance(raw, dict) else {"techniques": raw}
    items = section.get("techniques") or []
    if not isinstance(items, list):
        return AblationInfo((), reason=f"summary.json's ablation has no list of techniques (got {type(items).__name__})")
    skipped = tuple(f"{s.get('technique')}: {s.get('reason')}" for s in section.get("skipped") or [] if isinstance(s, dict))
    winner = str(section["winner"]) if section.get("winner") else None
    rows = []
    for r in items:
        if not isinstance(r, dict) or _num(r.get("contribution")) is None:
            continue
        rows.append(AblationRow(str(r.get("technique", "?")), float(r["contribution"]), _num(r.get("stderr")),
                                _num(r.get("ci_low")), _num(r.get("ci_high")), _num(r.get("p_value")),
                                str(r.get("verdict") or ""), int(r.get("n_pairs") or 0), _num(r.get("p_adjusted")),
                                r.get("shown") if isinstance(r.get("shown"), bool) else None,
                                r.get("evaluation_only") is True))
    if not rows:
        why = str(section["note"]) if section.get("note") else "the ablation phase recorded no technique with a contribution"
        return AblationInfo((), winner, _num(section.get("level")), skipped, reason=why)
    return AblationInfo(tuple(sorted(rows, key=lambda r: -r.contribution)), winner, _num(section.get("level")), skipped)
