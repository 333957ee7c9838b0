"""Panel 9, ablation: each technique's paired contribution to the winner, with its noise, when the
study ran an ablation phase (``summary.json["ablation"]``: ``{"winner", "seeds", "level",
"techniques": [rows], "skipped": [{"technique", "reason"}], "note"}``, or the bare list of rows)."""

from __future__ import annotations

from dataclasses import dataclass

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


def ablation_info(tables: StudyTables) -> AblationInfo:
    """The ablation's rows as the phase judged them (:class:`study.analysis.outcomes.AblationOutcome`)."""
    from study.analysis.outcomes import AblationOutcome

    raw = (tables.summary or {}).get("ablation")
    if raw is None:
        why = "the study has no summary yet" if tables.summary is None else "this study ran no ablation phase"
        return AblationInfo((), reason=why)
    if isinstance(raw, dict) and raw.get("techniques") is not None and not isinstance(raw.get("techniques"), list):
        return AblationInfo((), reason=f"summary.json's ablation has no list of techniques (got {type(raw['techniques']).__name__})")
    outcome = AblationOutcome.from_dict(raw, tables.meta.level)
    skipped = tuple(f"{s['technique']}: {s['reason']}" for s in outcome.skipped)
    level = outcome.level if isinstance(raw, dict) and raw.get("level") is not None else None
    rows = tuple(AblationRow(c.technique, c.contribution, c.stderr, c.ci_low, c.ci_high, c.p_value, c.verdict, c.n_pairs,
                             c.p_adjusted, c.shown, c.evaluation_only) for c in outcome.techniques)
    if not rows:
        why = outcome.note or "the ablation phase recorded no technique with a contribution"
        return AblationInfo((), outcome.winner, level, skipped, reason=why)
    return AblationInfo(tuple(sorted(rows, key=lambda r: -r.contribution)), outcome.winner, level, skipped)
