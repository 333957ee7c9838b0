"""The sequential procedure: planned looks, Holm within a look, alpha spent over looks, where seeds go —
and a small simulation of its error rates with this very code (the full table: bench/sequential_error_rates.py)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from study.analysis.sequential import SEEDS_CAP, LookPlan, decide, plan_looks, seeds_needed, t_interval, t_test_p, targets
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
    ci = stats.ttest_1samp(d, 0).confidence_interval(0.9)
    assert t_interval(d, 0.9) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert t_interval([0.1], 0.95) is None and t_interval([0.1, 0.1], 0.95) == (0.1, 0.1)


def test_a_clear_effect_is_decided_at_the_first_look_with_its_sign() -> None:
    plan = plan_looks(3, 8, 0.95)
    out = decide({"hurts": [-0.22, -0.25, -0.20], "helps": [0.10, 0.11, 0.09], "nothing": [0.01, -0.02, 0.015]}, plan)
    assert out["hurts"].verdict == "hurt" and out["hurts"].look == 1 and out["hurts"].test.difference < 0
    assert out["helps"].verdict == "helped" and out["helps"].p_adjusted < 0.05
    # Not rejected, and its interval (about ±0.05) is wider than the margin: undecided, a long shot.
    assert out["nothing"].verdict == "undecided" and out["nothing"].more_seeds is None
    # Alone at its look, "helps" (p = 6.5e-4) passes its Holm threshold; with the spread tripled it would not.
    assert decide({"helps": [0.10, 0.13, 0.07], "x": [0.0, 0.01, -0.01]}, plan)["helps"].verdict == "undecided"


def test_no_difference_is_shown_only_when_the_interval_lies_within_the_margin() -> None:
    plan = plan_looks(3, 8, 0.95)  # margin 0.01
    # Study seed 1 of the demo (2026-12-05): normalization +0.023 on 3 pairs, interval -0.095 to +0.141.
    wide = decide({"norm": [0.078, 0.015, -0.024], "x": [0.2, 0.21, 0.19]}, plan)["norm"]
    assert wide.verdict == "undecided" and not wide.settled and wide.test.ci_low < -plan.margin
    tight = [0.001, -0.002, 0.0015, 0.0005]
    same = decide({"same": tight}, plan)["same"]
    assert same.verdict == "no difference shown" and same.settled
    assert decide({"same": tight}, plan, describe=False)["same"].verdict == same.verdict  # the simulation's cheaper call
    assert -plan.margin < same.test.ci_low and same.test.ci_high < plan.margin
    narrower = LookPlan(plan.pairs, plan.alphas, plan.level, margin=0.002)  # the same pairs, a finer question
    assert decide({"same": tight}, narrower)["same"].verdict == "undecided"
    assert decide({"same": tight[:2]}, plan)["same"].verdict == "undecided"  # before the first look: never settled


def test_a_look_plan_keeps_its_margin_and_refuses_a_bad_one() -> None:
    plan = plan_looks(3, 8, 0.9, margin=0.02)
    assert LookPlan.from_dict(plan.to_dict()) == plan and "±0.02" in plan.describe()
    old = {k: v for k, v in plan.to_dict().items() if k != "margin"}  # saved before plans had a margin
    assert LookPlan.from_dict(old).margin == LookPlan((3,), (0.05,), 0.95).margin
    with pytest.raises(ValueError, match="margin=0"):
        LookPlan((3,), (0.05,), 0.95, margin=0)


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
    decisions = decide({"settled": [0.2, 0.21, 0.19], "open": [0.06, 0.03, 0.07], "new": [0.03], "long shot": [0.0, 0.01, -0.01],
                        "equal": [0.001, -0.001, 0.0005]}, plan)
    have = {"settled": 3, "open": 3, "new": 1, "long shot": 3, "equal": 3}
    want = targets(decisions, plan, have, lambda arm, pairs: True)
    assert want == {"settled": 3, "open": 5, "new": 2, "long shot": 5, "equal": 3}
    assert targets(decisions, plan, have, lambda arm, pairs: False)["open"] == 3  # its next look does not fit: it stops
    granted: list[str] = []  # one grant only: the likely decision before the long shot

    def once(arm: str, pairs: int) -> bool:
        granted.append(arm)
        return len(granted) == 1

    assert targets(decisions, plan, have, once)["open"] == 5 and granted[0] == "open"


def test_a_granted_arm_keeps_its_later_looks_before_a_longer_shot_gets_seeds() -> None:
    plan = plan_looks(3, 8, 0.95)  # looks at 3, 5, 8
    decisions = decide({"open": [0.06, 0.03, 0.07], "long shot": [0.0, 0.01, -0.01]}, plan)
    have = {"open": 3, "long shot": 3}
    counted = dict(have)
    left = {"runs": 5}  # one arm's pairs from 3 to 8: not both arms' next looks and the open one's last

    def runs(arm: str, pairs: int) -> bool:
        extra = max(0, pairs - counted[arm])
        if extra > left["runs"]:
            return False
        left["runs"] -= extra
        counted[arm] = max(counted[arm], pairs)
        return True

    want = targets(decisions, plan, have, runs)
    assert want == {"open": 5, "long shot": 3} and counted["open"] == 8  # its look at 8 is kept, not granted yet


def test_simulated_error_rates_hold_and_a_large_effect_is_found() -> None:
    plan = plan_looks(3, 8, 0.95)
    null = simulate(Scenario((0.0,) * 4, (0.02, 0.03, 0.04, 0.05), runs=24), plan, studies=300, seed=1)
    # 300 studies: the family-wise rate's standard error is about 0.013 at 0.05; Holm off (each arm at 0.05) gives ~0.2.
    assert null.any_false <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)
    planted = simulate(Scenario((0.10, 0.0, -0.10, 0.0), (0.02, 0.02, 0.02, 0.02), runs=24), plan, studies=100, seed=2)
    assert planted.power[0] >= 0.85 and planted.power[2] >= 0.85 and planted.wrong_sign[0] == planted.wrong_sign[2] == 0.0
    assert planted.mean_runs <= 24
