"""The confirmation runs' verdict: the paired t-test over shared seeds (Welch's without them), best against baseline."""

from __future__ import annotations

import math

import pytest

from study.analysis.confirm import ConfigSummary, group_runs, verdict
from study.analysis.outcomes import ConfirmedConfig, VerdictRecord

# --- confirmation: summaries and the verdict -------------------------------------------------


def test_summarize_groups_rows_per_configuration():
    s = group_runs([("baseline", 0.5), ("t1", 0.7), ("baseline", 0.7), ("t1", 0.7)])
    assert set(s) == {"baseline", "t1"}
    assert s["baseline"].values == (0.5, 0.7) and s["baseline"].n == 2
    assert s["baseline"].mean == pytest.approx(0.6) and s["baseline"].std == pytest.approx(math.sqrt(0.02))
    assert s["t1"].std == 0.0
    assert math.isnan(ConfigSummary("one", (0.5,)).std) and math.isnan(ConfigSummary("none", ()).mean)


def test_a_margin_beyond_twice_the_seed_noise_beats_the_baseline():
    v = verdict(group_runs([("baseline", x) for x in (0.50, 0.52, 0.48)] + [("t7", x) for x in (0.70, 0.71, 0.69)]))
    assert v is not None and v.best.label == "t7" and v.baseline is not None
    assert v.difference == pytest.approx(0.20)
    # Welch-style standard error of the difference: sqrt(s_a²/n_a + s_b²/n_b)
    assert v.noise == pytest.approx(math.sqrt(0.01**2 / 3 + 0.02**2 / 3))
    assert v.beats_baseline is True
    assert "it beats the baseline" in v.sentence() and "t7" in v.sentence()
    assert v.comparison is not None and v.comparison.test == "welch" and v.comparison.p_value < 0.05
    assert "95 % CI" in v.sentence() and "p = " in v.sentence()


def test_a_margin_within_the_seed_noise_does_not():
    v = verdict(group_runs([("baseline", x) for x in (0.5, 0.6, 0.4)] + [("t3", x) for x in (0.55, 0.65, 0.45)]))
    assert v is not None and v.best.label == "t3"
    assert v.difference == pytest.approx(0.05) and v.beats_baseline is False
    assert "not shown to beat the baseline" in v.sentence()


@pytest.mark.parametrize("best_seeds,baseline_seeds", [((0.9,), (0.5, 0.51)), ((0.9, 0.91), (0.5,)), ((0.9,), (0.5,))])
def test_with_fewer_than_two_seeds_on_a_side_there_is_no_verdict(best_seeds, baseline_seeds):
    v = verdict(group_runs([("t1", x) for x in best_seeds] + [("baseline", x) for x in baseline_seeds]))
    assert v is not None and v.best.label == "t1"
    assert v.difference == pytest.approx(sum(best_seeds) / len(best_seeds) - sum(baseline_seeds) / len(baseline_seeds))
    assert v.noise is None and v.beats_baseline is None
    # issue 12: the verdict is a t-test, which says it has too few seeds (no "noise" rule any more)
    assert "too few seeds for a test" in v.sentence()


def test_when_the_baseline_has_the_best_mean_nothing_beat_it():
    v = verdict(group_runs([("baseline", x) for x in (0.8, 0.82)] + [("t1", x) for x in (0.7, 0.9)] + [("t2", x) for x in (0.6, 0.61)]))
    assert v is not None and v.best is v.baseline and v.best.label == "baseline"
    assert v.difference == 0.0 and v.beats_baseline is False and v.noise is None
    assert "no configuration beat the baseline on average" in v.sentence()


def test_without_a_baseline_the_best_is_reported_alone():
    v = verdict(group_runs([("t1", 0.7), ("t1", 0.72), ("t2", 0.6)]))
    assert v is not None and v.best.label == "t1" and v.baseline is None and v.beats_baseline is None
    assert "no baseline to compare" in v.sentence()
    assert verdict({}) is None




def test_twice_the_standard_error_is_not_enough_with_two_and_three_seeds():
    """Issue 12's example: 2.6 standard errors, but Welch's t = 2.60 with 1.68 dof gives p = 0.14."""
    v = verdict(group_runs([("w", 0.50), ("w", 0.52)] + [("baseline", x) for x in (0.48, 0.49, 0.47)]))
    assert v is not None and v.difference / v.noise == pytest.approx(2.6, abs=0.05)
    c = v.comparison
    assert c is not None and c.statistic == pytest.approx(2.60, abs=0.01) and c.dof == pytest.approx(1.68, abs=0.01)
    assert c.p_value == pytest.approx(0.14, abs=0.01)
    assert v.beats_baseline is False and "not shown to beat the baseline" in v.sentence()


def test_several_confirmed_configurations_are_holm_corrected_as_one_family():
    rows = [("baseline", x) for x in (0.50, 0.51, 0.49)] + [("t1", x) for x in (0.56, 0.57, 0.55)]
    rows += [("t2", x) for x in (0.52, 0.50, 0.51)]
    v = verdict(group_runs(rows))
    assert v is not None and v.comparison is not None and v.best.label == "t1"
    assert v.comparison.family == 2 and v.comparison.p_adjusted is not None
    assert v.comparison.p_adjusted >= v.comparison.p_value
    assert VerdictRecord.of(v, 0.95).p_adjusted == v.comparison.p_adjusted


def test_the_level_is_the_study_files():
    rows = [("w", x) for x in (0.55, 0.57, 0.52)] + [("baseline", x) for x in (0.50, 0.51, 0.49)]
    strict, loose = verdict(group_runs(rows), level=0.999), verdict(group_runs(rows), level=0.9)
    assert strict is not None and loose is not None
    assert strict.comparison is not None and strict.comparison.level == 0.999 and "99.9 %" in strict.sentence()
    assert strict.beats_baseline is False and loose.beats_baseline is True


def test_runs_on_shared_seeds_are_judged_by_the_paired_test():
    """Confirmation runs share their seeds: the pairs cancel what a seed gives both sides (issue 12)."""
    base = {1000: 0.60, 1001: 0.70, 1002: 0.65}
    best = {1000: 0.66, 1001: 0.75, 1002: 0.72}  # +0.06, +0.05, +0.07: small against the seed spread, steady per seed
    rows = [("baseline", v, s) for s, v in base.items()] + [("w", v, s) for s, v in best.items()]
    v = verdict(group_runs(rows))
    assert v is not None and v.comparison is not None and v.comparison.test == "paired"
    from scipy import stats

    expected = stats.ttest_rel(list(best.values()), list(base.values()))
    assert v.comparison.p_value == pytest.approx(float(expected.pvalue))
    assert v.noise == pytest.approx(0.01 / math.sqrt(3))  # stdev of (0.06, 0.05, 0.07) / sqrt(3)
    assert v.beats_baseline is True
    # Not scipy's numbers: differences 0.06, 0.05, 0.07, so t = 0.06 / (0.01 / sqrt(3)) = 6 sqrt(3) on 2 dof, where
    # P(|T| >= t) = 1 - t / sqrt(2 + t^2) and t_0.975 = 0.95 / sqrt(2 x 0.975 x 0.025); R 4.2's paired t.test prints
    # p = 0.009132611, 95 % CI 0.03515862288 to 0.08484137712
    assert v.comparison.p_value == pytest.approx(1 - math.sqrt(108 / 110), rel=1e-9)
    assert v.comparison.p_value == pytest.approx(0.009132611, abs=5e-10)
    half = 0.95 / math.sqrt(2 * 0.975 * 0.025) * 0.01 / math.sqrt(3)
    assert (v.comparison.ci_low, v.comparison.ci_high) == pytest.approx((0.06 - half, 0.06 + half), rel=1e-9)
    assert (v.comparison.ci_low, v.comparison.ci_high) == pytest.approx((0.03515862288, 0.08484137712), abs=5e-12)
    # The same runs as independent samples: Welch's test does not show it; the sentence says both.
    assert v.independent is not None and v.independent.p_value > 0.05
    # R 4.2's t.test(c(0.66, 0.75, 0.72), c(0.60, 0.70, 0.65)): t = 1.5322618, df = 3.9699812, p-value = 0.2007519
    assert (v.independent.statistic, v.independent.dof, v.independent.p_value) == pytest.approx((1.5322618, 3.9699812, 0.2007519),
                                                                                                abs=5e-8)
    assert "paired t" in v.sentence() and "ignoring the pairing" in v.sentence()
    record = VerdictRecord.of(v, 0.95)
    assert record.p_welch == pytest.approx(v.independent.p_value) and record.n_pairs == 3


def test_without_two_shared_seeds_the_test_is_welchs():
    rows = [("baseline", 0.60, 1), ("baseline", 0.70, 2), ("w", 0.66, 3), ("w", 0.75, 4)]
    v = verdict(group_runs(rows))
    assert v is not None and v.comparison is not None and v.comparison.test == "welch" and v.independent is None


def test_the_summary_round_trip_keeps_the_pairs():
    rows = [("baseline", 0.6, 7), ("baseline", 0.7, 8), ("w", 0.66, 7), ("w", 0.75, 8)]
    s = group_runs(rows)
    configs = {k: {"values": list(c.values), "by_seed": {str(a): b for a, b in c.by_seed.items()}} for k, c in s.items()}
    again = {k: ConfirmedConfig.from_dict(k, c).summary() for k, c in configs.items()}
    assert again["w"].by_seed == {7: 0.66, 8: 0.75} and verdict(again).comparison.test == "paired"
