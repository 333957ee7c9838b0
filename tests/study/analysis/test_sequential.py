"""The sequential procedure: planned looks, Holm within a look, alpha spent over looks, where seeds go —
and a small simulation of its error rates with this very code (the full table: bench/sequential_error_rates.py)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from study.analysis.sequential import SEEDS_CAP, LookPlan, decide, plan_looks, seeds_needed, t_test_p, targets
from study.analysis.simulate import Scenario, simulate


def test_looks_are_planned_from_first_to_most_with_alpha_split_over_them() -> None:
    assert plan_looks(3, 3, 0.95).pairs == (3,) and plan_looks(3, 1, 0.95).pairs == (3,)
    plan = plan_looks(3, 12, 0.95)
    assert plan.pairs[0] == 3 and plan.pairs[-1] == 12 and list(plan.pairs) == sorted(set(plan.pairs))
    assert math.isclose(sum(plan.alphas), 0.05) and len(set(plan.alphas)) == 1
    assert plan_looks(3, 10_000, 0.9).most == SEEDS_CAP and len(plan_looks(3, 10_000, 0.9).pairs) == 4
    with pytest.raises(ValueError, match="first=1"):
        plan_looks(1, 5, 0.95)
    with pytest.raises(ValueError, match="sum to 1 - level"):
        LookPlan((3, 5), (0.05, 0.05), 0.95)


def test_the_looks_p_value_is_the_paired_t_tests() -> None:
    d = [0.05, 0.02, 0.06]
    t = (sum(d) / 3) / (stats.tstd(d) / math.sqrt(3))
    assert t_test_p(d) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)  # Student's t at 2 dof, closed form
    assert t_test_p([0.05, 0.02, 0.06, 0.01]) == pytest.approx(stats.ttest_1samp([0.05, 0.02, 0.06, 0.01], 0).pvalue)
    assert t_test_p([0.1]) is None and t_test_p([0.1, 0.1]) is None  # too few, or no spread


def test_a_clear_effect_is_decided_at_the_first_look_with_its_sign() -> None:
    plan = plan_looks(3, 8, 0.95)
    out = decide({"hurts": [-0.22, -0.25, -0.20], "helps": [0.10, 0.11, 0.09], "nothing": [0.01, -0.02, 0.015]}, plan)
    assert out["hurts"].verdict == "hurt" and out["hurts"].look == 1 and out["hurts"].test.difference < 0
    assert out["helps"].verdict == "helped" and out["helps"].p_adjusted < 0.05
    assert out["nothing"].verdict == "no difference shown" and out["nothing"].more_seeds is None
    # Alone at its look, "helps" (p = 6.5e-4) passes its Holm threshold; with the spread tripled it would not.
    assert decide({"helps": [0.10, 0.13, 0.07], "x": [0.0, 0.01, -0.01]}, plan)["helps"].verdict == "undecided"


def test_an_arm_is_tested_only_on_its_first_pairs_at_each_look() -> None:
    plan = plan_looks(3, 5, 0.95)  # looks at 3 and 5 pairs
    # p = 0.013 at 3 pairs misses its threshold (0.025 / 2); 4 pairs would pass, but there is no look at 4.
    d = [0.05, 0.04, 0.06, 0.05, 0.051]
    assert decide({"a": d[:4], "b": [0.0, 0.01, -0.01]}, plan)["a"].verdict == "undecided"
    assert decide({"a": d, "b": [0.0, 0.01, -0.01]}, plan)["a"].look == 2  # decided at the look at 5


def test_seeds_needed_grows_as_the_effect_shrinks_against_its_spread() -> None:
    big, small = seeds_needed([0.10, 0.06, 0.08], 0.01), seeds_needed([0.02, -0.01, 0.05], 0.01)
    assert big is not None and small is not None and 3 <= big < small
    assert seeds_needed([0.001, -0.02, 0.01], 0.01) is None  # beyond any affordable count


def test_seeds_go_where_the_answer_is_open_and_fits() -> None:
    plan = plan_looks(3, 8, 0.95)
    decisions = decide({"settled": [0.2, 0.21, 0.19], "open": [0.06, 0.03, 0.07], "new": [0.03], "hopeless": [0.0, 0.01, -0.01]},
                       plan)
    have = {"settled": 3, "open": 3, "new": 1, "hopeless": 3}
    want = targets(decisions, plan, have, lambda arm, pairs: True)
    assert want == {"settled": 3, "open": 5, "new": 2, "hopeless": 3}
    assert targets(decisions, plan, have, lambda arm, pairs: False)["open"] == 3  # its next look does not fit: it stops


def test_simulated_error_rates_hold_and_a_large_effect_is_found() -> None:
    plan = plan_looks(3, 8, 0.95)
    null = simulate(Scenario((0.0,) * 4, (0.02, 0.03, 0.04, 0.05), runs=24), plan, studies=300, seed=1)
    # 300 studies: the family-wise rate's standard error is about 0.013 at 0.05; Holm off (each arm at 0.05) gives ~0.2.
    assert null.any_false <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)
    planted = simulate(Scenario((0.10, 0.0, -0.10, 0.0), (0.02, 0.02, 0.02, 0.02), runs=24), plan, studies=100, seed=2)
    assert planted.power[0] >= 0.85 and planted.power[2] >= 0.85 and planted.wrong_sign[0] == planted.wrong_sign[2] == 0.0
    assert planted.mean_runs <= 24
