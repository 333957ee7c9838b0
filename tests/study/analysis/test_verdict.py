"""The verdict's statistics against scipy's own numbers, on hand-made samples."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from study.analysis.verdict import Comparison, holm, holm_correct, paired, welch

WINNER = [0.50, 0.52]
BASELINE = [0.48, 0.49, 0.47]


def test_the_issues_example_is_not_shown() -> None:
    """Issue 12: a difference of 2.6 standard errors is no evidence with 2 and 3 seeds."""
    c = welch(WINNER, BASELINE)
    assert c.difference == pytest.approx(0.03)
    assert c.statistic == pytest.approx(2.598, abs=1e-3)  # t = 2.60
    assert c.dof == pytest.approx(1.684, abs=1e-3)  # 1.68 degrees of freedom
    assert c.p_value == pytest.approx(0.1444, abs=1e-4)  # p = 0.14
    assert c.shown is False and (c.n_a, c.n_b, c.level) == (2, 3, 0.95)
    assert c.ci_low is not None and c.ci_high is not None and c.ci_low < 0 < c.ci_high
    assert "not shown at the 95 % level" in c.verdict and "p = 0.14" in c.verdict
    assert "Welch's t = 2.60, 1.68 dof" in c.verdict


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_welch_matches_scipy(level: float) -> None:
    a, b = [0.771, 0.774, 0.7725, 0.769], [0.7528, 0.751, 0.757]
    c = welch(a, b, level=level)
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(confidence_level=level)
    assert (c.statistic, c.dof, c.p_value) == pytest.approx((ref.statistic, ref.df, ref.pvalue), rel=1e-12)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    # The interval by hand: difference ± t_(1+level)/2, dof × Welch's standard error.
    se = math.sqrt(stats.tvar(a) / len(a) + stats.tvar(b) / len(b))
    half = stats.t.ppf((1 + level) / 2, ref.df) * se
    assert (c.ci_low, c.ci_high) == pytest.approx((c.difference - half, c.difference + half), rel=1e-9)
    assert c.shown is True and "is higher than baseline" in c.verdict and f"{100 * level:g} % CI" in c.verdict


def test_a_worse_configuration_is_called_lower() -> None:
    c = welch([0.30, 0.31, 0.29], [0.50, 0.51, 0.49], label_a="mixup", label_b="baseline")
    assert c.shown is True and c.difference < 0
    assert c.verdict.startswith("mixup − baseline = -0.2000") and "mixup is lower than baseline" in c.verdict


@pytest.mark.parametrize(("a", "b"), [([0.5], [0.4, 0.41]), ([0.5, 0.52], [0.4]), ([], [0.4, 0.5])])
def test_too_few_seeds_is_said_as_such(a: list[float], b: list[float]) -> None:
    c = welch(a, b)
    assert c.p_value is None and c.ci_low is None and c.shown is None
    assert "too few seeds for a test" in c.verdict and f"{len(a)} and {len(b)} runs" in c.verdict


def test_no_spread_gives_the_point_and_no_test() -> None:
    c = welch([0.5, 0.5], [0.4, 0.4])
    assert c.p_value is None and c.ci_low == c.ci_high == pytest.approx(0.1) and c.shown is None
    assert "no spread" in c.verdict


def test_paired_uses_the_shared_seeds_and_matches_scipy() -> None:
    winner = {10: 0.62, 11: 0.60, 12: 0.65, 13: 0.61}
    variant = {10: 0.58, 11: 0.57, 12: 0.60, 99: 0.10}  # seed 13 missing, 99 not the winner's: ignored
    c = paired(winner, variant, label_b="without tta")
    a, b = [0.62, 0.60, 0.65], [0.58, 0.57, 0.60]
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence_level=0.95)
    assert (c.n_a, c.n_b, c.test) == (3, 3, "paired")
    assert c.difference == pytest.approx(0.04)
    assert (c.statistic, c.dof, c.p_value) == pytest.approx((ref.statistic, 2, ref.pvalue), rel=1e-12)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert c.shown is True and "paired t = " in c.verdict and "winner is higher than without tta" in c.verdict


def test_pairing_cancels_seed_noise_that_welch_cannot() -> None:
    """The same numbers: seeds move both runs together, so paired sees the shift Welch drowns in noise."""
    winner = {1: 0.50, 2: 0.60, 3: 0.70}
    variant = {1: 0.48, 2: 0.585, 3: 0.675}
    assert paired(winner, variant).shown is True
    assert welch(list(winner.values()), list(variant.values())).shown is False


def test_paired_with_one_shared_seed_is_too_few() -> None:
    c = paired({1: 0.5, 2: 0.6}, {2: 0.55, 3: 0.4})
    assert c.p_value is None and c.n_a == 1 and "too few seeds for a test (1 shared seed;" in c.verdict


def test_holm_against_the_step_down_by_hand() -> None:
    # sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> kept monotone: 0.06)
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, None, 0.6]) == [pytest.approx(1.0), None, pytest.approx(1.0)]  # capped at 1; None left out
    assert holm([]) == []
    with pytest.raises(ValueError, match="got 1.5"):
        holm([0.1, 1.5])


def test_holm_correct_judges_the_family() -> None:
    alone = [welch([0.60, 0.61, 0.62], [0.55, 0.57, 0.56]), welch([0.60, 0.62], [0.58, 0.60, 0.61]),
             welch([0.5], [0.4, 0.45])]
    judged = holm_correct(alone)
    assert [c.family for c in judged] == [2, 2, 2]
    assert [c.p_adjusted for c in judged] == pytest.approx(holm([c.p_value for c in alone]))
    assert judged[2].p_adjusted is None and judged[2].shown is None
    assert judged[0].p_judged == judged[0].p_adjusted and "Holm-adjusted over 2" in judged[0].verdict
    assert all(isinstance(c, Comparison) for c in judged)


@pytest.mark.parametrize("level", [0.4, 1.0, 95])
def test_bad_level_is_rejected(level: float) -> None:
    with pytest.raises(ValueError, match="level must be"):
        welch([0.1, 0.2], [0.3, 0.4], level=level)


def test_non_finite_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="finite numbers, got nan"):
        welch([0.1, float("nan")], [0.3, 0.4])
