"""How far early scores agreed with final ones: the rungs at which ASHA judged, against the end.

ASHA stops a trial at a rung when its score there ranks low among the trials that reached it. That
is sound only when the rung's ranking foretells the final one; the techniques that pay late (mixup,
label smoothing, progressive resizing) are the ones an early rung undervalues. Over the search
trials that ran to their end, the Spearman rank correlation (``scipy.stats.spearmanr``) of each
rung's score with the final objective says how well it did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

__all__ = ["LOW_AGREEMENT", "RungAgreement", "asha_rungs", "rung_agreement"]

LOW_AGREEMENT = 0.5  # below this rank correlation, a rung's stops are little better than a coin toss among the good ones


@dataclass(frozen=True)
class RungAgreement:
    rung: int  # the epoch (1-based: ASHA's training iteration) at which it judges
    trials: int  # trials that ran to their end and reported at this rung
    rho: float | None  # Spearman's rank correlation of the rung's score with the final objective
    p_value: float | None

    @property
    def low(self) -> bool:
        return self.rho is not None and self.rho < LOW_AGREEMENT


def asha_rungs(grace_period: int, reduction_factor: float, max_t: int) -> list[int]:
    """The epochs at which ASHA judges: grace_period × reduction_factor^k below max_t (Ray Tune's milestones)."""
    if grace_period < 1 or reduction_factor <= 1 or max_t < 1:
        return []
    out, k = [], 0
    while (r := int(grace_period * reduction_factor**k)) < max_t:
        out.append(r)
        k += 1
    return sorted(set(out))


def rung_agreement(histories: Sequence[tuple[Sequence[float], float]], rungs: Sequence[int]) -> list[RungAgreement]:
    """Per rung, the agreement of the scores there with the final ones (``histories``: each finished
    trial's per-epoch score and its final objective)."""
    from scipy import stats

    out = []
    for r in rungs:
        pairs = [(h[r - 1], final) for h, final in histories if len(h) >= r and math.isfinite(h[r - 1]) and math.isfinite(final)]
        rho = p = None
        if len(pairs) >= 3 and len({a for a, _ in pairs}) > 1 and len({b for _, b in pairs}) > 1:
            res = stats.spearmanr([a for a, _ in pairs], [b for _, b in pairs])
            rho, p = float(res.statistic), float(res.pvalue)
        out.append(RungAgreement(r, len(pairs), rho, p))
    return out
