"""The rungs' agreement with the final scores: ASHA's milestones, and Spearman's rho worked by hand."""

from __future__ import annotations

import pytest

from study.analysis.rungs import asha_rungs, rung_agreement


def test_the_rungs_are_ashas_milestones() -> None:
    assert asha_rungs(1, 2, 8) == [1, 2, 4]
    assert asha_rungs(2, 2, 4) == [2]
    assert asha_rungs(1, 3, 10) == [1, 3, 9]
    assert asha_rungs(4, 2, 4) == [] and asha_rungs(0, 2, 4) == []


def test_agreement_is_spearmans_rank_correlation() -> None:
    # Final ranks 1..4; the first epoch ranks them 2, 1, 3, 4: d = (1, -1, 0, 0), rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    histories = [([0.2, 0.5], 0.6), ([0.1, 0.6], 0.7), ([0.3, 0.7], 0.8), ([0.4, 0.8], 0.9)]
    first, second = rung_agreement(histories, [1, 2])
    assert (first.trials, first.rho) == (4, pytest.approx(0.8)) and not first.low
    assert second.rho == pytest.approx(1.0)
    reversed_ = rung_agreement([(h[::-1][:1] * 2, f) for h, f in histories][:3] + [([0.9, 0.9], 0.1)], [1])[0]
    assert reversed_.rho is not None and reversed_.low  # the last trial leads early and ends last
    assert rung_agreement(histories[:2], [1])[0].rho is None  # too few to rank
