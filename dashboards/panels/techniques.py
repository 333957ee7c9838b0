"""Panel 1, the techniques: chapter 7's techniques one by one, each alone against the baseline, as
the confirmation decided them (``summary.json["confirmation"]["techniques"]``, or ``confirm.json``
before there is a summary); nothing is decided here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dashboards.tables import StudyTables

if TYPE_CHECKING:
    from study.analysis.sequential import LookPlan
    from study.analysis.techniques import TechniqueRow

__all__ = ["TechniquesInfo", "techniques_info"]


@dataclass(frozen=True)
class TechniquesInfo:
    rows: tuple[TechniqueRow, ...]
    level: float | None = None
    comparisons: int = 0  # the family the verdicts were corrected over
    plan: LookPlan | None = None  # the looks planned before any result
    ended: str | None = None  # why the confirmation ended when it did
    reason: str | None = None  # why the panel has nothing to show


def techniques_info(tables: StudyTables) -> TechniquesInfo:
    from study.analysis.outcomes import ConfirmOutcome

    recorded = (tables.summary or {}).get("confirmation") if tables.summary is not None else tables.confirmation
    if recorded is None:
        why = ("the confirmation has not ended yet: its verdicts come when it does" if tables.meta.phase in ("search", "confirm")
               else "the study has no confirmation outcome")
        return TechniquesInfo((), reason=why)
    outcome = ConfirmOutcome.from_dict(recorded, tables.meta.level)
    if not outcome.techniques:
        return TechniquesInfo((), reason=outcome.note or "the confirmation compared no technique with the baseline")
    return TechniquesInfo(outcome.techniques, outcome.level, len(outcome.decisions), outcome.plan, outcome.ended)
