"""Panel: early stopping's foresight — over the search trials that ran to their end, how well the
score at each ASHA rung ranked them against their final score (:mod:`study.analysis.rungs`)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.tables import StudyTables
from study.analysis.rungs import RungAgreement

__all__ = ["RungsInfo", "rungs_info"]


@dataclass(frozen=True)
class RungsInfo:
    rows: tuple[RungAgreement, ...]
    trials: int = 0  # finished search trials with per-epoch scores
    reason: str | None = None


def rungs_info(tables: StudyTables) -> RungsInfo:
    from study.analysis.rungs import asha_rungs, rung_agreement

    if tables.meta.asha is None:
        return RungsInfo((), reason="this study stopped no trial early by epoch (no ASHA): every search trial ran to its end")
    histories = [([e.accuracy if e.accuracy is not None else float("nan") for e in t.epochs], float(t.objective))
                 for t in tables.finished("search") if t.epochs and t.objective is not None]
    if len(histories) < 3:
        return RungsInfo((), len(histories), reason=f"{len(histories)} search trial(s) ran to their end: a ranking needs 3")
    grace, rf = tables.meta.asha
    rungs = asha_rungs(grace, rf, max(len(h) for h, _ in histories))
    if not rungs:
        return RungsInfo((), len(histories), reason="the trials were shorter than ASHA's first rung: none was judged early")
    return RungsInfo(tuple(rung_agreement(histories, rungs)), len(histories))
