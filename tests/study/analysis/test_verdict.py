"""The verdict's statistics on hand-made samples: against scipy's own numbers, and against numbers that
do not come from scipy (worked by hand with the closed forms of Student's t for 2 degrees of freedom,
from a first-principles t distribution in ``reference_t.py``, and as R 4.2's ``t.test`` prints them)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from study.analysis.verdict import Comparison, holm, holm_correct, paired, welch
from tests.study.analysis.reference_t import quantile, two_sided_p

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


# Critical values t_(q, dof) as printed (3 decimals) in the NIST/SEMATECH e-Handbook of Statistical Methods,
# section 1.3.6.7.2, "Critical values of the Student's t distribution"
PRINTED_T = [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 3, 3.182), (0.975, 10, 2.228), (0.975, 30, 2.042),
             (0.95, 3, 2.353), (0.995, 3, 5.841)]


def test_the_reference_t_matches_a_printed_table_and_the_closed_forms() -> None:
    for q, dof, printed in PRINTED_T:
        assert quantile(q, dof) == pytest.approx(printed, abs=5e-4), (q, dof)
    for t in (0.3, 1.0, 2.5, 7.0, 40.0):
        assert two_sided_p(t, 1) == pytest.approx(1 - 2 * math.atan(t) / math.pi, rel=1e-12)  # Cauchy
        assert two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)
        assert two_sided_p(-t, 3) == two_sided_p(t, 3)


def t2_p(t: float) -> float:
    """Two-sided p of Student's t with 2 dof, in closed form: its CDF is 1/2 + t / (2 sqrt(2 + t^2))."""
    return 1 - abs(t) / math.sqrt(2 + t * t)


def t2_quantile(q: float) -> float:
    """The q quantile of Student's t with 2 dof, in closed form (the CDF above, inverted): (2q - 1) / sqrt(2q(1 - q))."""
    return (2 * q - 1) / math.sqrt(2 * q * (1 - q))


@pytest.mark.parametrize(("level", "r_low", "r_high"), [(0.95, 0.01515862288, 0.06484137712), (0.9, 0.02314145539, 0.05685854461)])
def test_paired_against_numbers_worked_by_hand(level: float, r_low: float, r_high: float) -> None:
    """Per-seed differences 0.04, 0.03, 0.05: mean 0.04, standard deviation 0.01, standard error
    0.01 / sqrt(3), so t = 0.04 / (0.01 / sqrt(3)) = 4 sqrt(3) on 2 dof. R 4.2 prints for
    ``t.test(c(0.62, 0.60, 0.65), c(0.58, 0.57, 0.60), paired = TRUE)``: t = 6.9282032, df = 2,
    p-value = 0.0202041, and the intervals r_low to r_high."""
    c = paired({10: 0.62, 11: 0.60, 12: 0.65}, {10: 0.58, 11: 0.57, 12: 0.60}, level=level)
    se = 0.01 / math.sqrt(3)
    assert c.difference == pytest.approx(0.04, rel=1e-12)
    assert c.statistic == pytest.approx(4 * math.sqrt(3), rel=1e-9) and c.dof == 2
    assert c.p_value == pytest.approx(t2_p(4 * math.sqrt(3)), rel=1e-9)  # = 1 - sqrt(48 / 50)
    assert c.p_value == pytest.approx(0.0202041, abs=5e-8)
    half = t2_quantile((1 + level) / 2) * se  # t_0.975 = 4.3027 (printed: 4.303); t_0.95 = 2.9200 (printed: 2.920)
    assert (c.ci_low, c.ci_high) == pytest.approx((0.04 - half, 0.04 + half), rel=1e-9)
    assert (c.ci_low, c.ci_high) == pytest.approx((r_low, r_high), abs=5e-12)


def test_welch_against_numbers_worked_by_hand() -> None:
    """The issue's example: means 0.51 and 0.48, variances 0.0002 and 0.0001, so the standard error is
    sqrt(0.0002 / 2 + 0.0001 / 3) = sqrt(4 / 30000), t = 0.03 / se = 1.5 sqrt(3), and the
    Welch-Satterthwaite dof (se^2)^2 / ((0.0001)^2 / 1 + (0.0001 / 3)^2 / 2) = 32 / 19. R 4.2 prints for
    ``t.test(c(0.50, 0.52), c(0.48, 0.49, 0.47))``: t = 2.5980762, df = 1.6842105, p-value = 0.1443662,
    95 percent confidence interval -0.02976997448 0.08976997448."""
    c = welch(WINNER, BASELINE)
    se = math.sqrt(4 / 30000)
    assert c.statistic == pytest.approx(1.5 * math.sqrt(3), rel=1e-9) and c.dof == pytest.approx(32 / 19, rel=1e-9)
    assert c.p_value == pytest.approx(two_sided_p(1.5 * math.sqrt(3), 32 / 19), rel=1e-9)
    half = quantile(0.975, 32 / 19) * se
    assert (c.ci_low, c.ci_high) == pytest.approx((0.03 - half, 0.03 + half), rel=1e-9)
    assert c.p_value == pytest.approx(0.1443662, abs=5e-8)
    assert (c.ci_low, c.ci_high) == pytest.approx((-0.02976997448, 0.08976997448), abs=5e-12)


# R's own example data set `sleep` (Student 1908): extra hours of sleep of 10 patients under two drugs
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_and_paired_match_r_on_its_sleep_example() -> None:
    """As R 4.2 prints them (``options(digits = 10)``) for ``t.test(extra ~ group, data = sleep)`` and
    ``with(sleep, t.test(extra[group == 1], extra[group == 2], paired = TRUE))`` (the examples of ``?t.test``)."""
    w = welch(SLEEP_1, SLEEP_2)
    assert (w.statistic, w.dof, w.p_value) == pytest.approx((-1.8608135, 17.776474, 0.07939414), abs=5e-7)
    assert (w.ci_low, w.ci_high) == pytest.approx((-3.3654832307, 0.2054832307), abs=5e-10)
    assert w.shown is False
    p = paired(dict(enumerate(SLEEP_1)), dict(enumerate(SLEEP_2)))  # the patient is the "seed" both drugs share
    assert p.difference == pytest.approx(-1.58, rel=1e-12) and p.dof == 9
    assert (p.statistic, p.p_value) == pytest.approx((-4.0621277, 0.00283289), abs=5e-8)
    assert (p.ci_low, p.ci_high) == pytest.approx((-2.4598857633, -0.7001142367), abs=5e-10)
    assert p.shown is True and "winner is lower than variant" in p.verdict


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
