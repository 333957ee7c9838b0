"""The ablation's numbers: which variants to run, in which order, and each technique's paired contribution."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest
from scipy import stats

from study.analysis.ablation import Variant, contributions, needs_training, order_by_promise, variants

BASE = {"normalize": "none", "schedule": "", "size": 32, "presize": 64, "min_scale": 0.75, "mixup_alpha": 0.0,
        "label_smoothing": 0.0, "tta_n": 0, "tta_beta": 0.25, "tta_max": False, "lr": 0.003, "seed": 0}


def test_one_variant_per_technique_the_winner_changed_each_back_to_the_baseline():
    winner = {**BASE, "normalize": "dataset", "mixup_alpha": 0.4, "tta_n": 4, "lr": 0.006}
    found, skipped = variants(winner, BASE)
    assert [v.technique for v in found] == ["normalization", "mixup", "test-time augmentation"]
    assert skipped == []  # lr is not a chapter-7 technique: not ablated
    for v in found:
        cfg = v.config(winner)
        changed = {k for k in winner if cfg[k] != winner[k]}
        assert changed and all(cfg[k] == BASE[k] for k in changed)
        assert cfg["lr"] == 0.006  # everything else stays the winner's
    tta = found[2]
    assert tta.changes == {"tta_n": 0, "tta_beta": 0.25, "tta_max": False} and tta.winner_values["tta_n"] == 4


def test_a_progressive_winner_has_its_size_ablated_with_the_schedule():
    winner = {**BASE, "schedule": "24x1,48x2:fine_tune", "size": 48}
    found, skipped = variants(winner, BASE)
    assert [v.technique for v in found] == ["progressive resizing"]
    assert skipped == [{"technique": "image size",
                        "reason": "the progressive schedule sets the sizes; ablated with progressive resizing"}]


@dataclass
class Outcome:
    objective: float
    config: dict[str, Any] = field(default_factory=dict)
    outcome: str = "finished"


def test_the_most_promising_technique_runs_first():
    mix = Variant("mixup", {"mixup_alpha": 0.0}, {"mixup_alpha": 0.4})
    norm = Variant("normalization", {"normalize": "none"}, {"normalize": "dataset"})
    tta = Variant("test-time augmentation", {"tta_n": 0}, {"tta_n": 4})  # the search never tried it apart
    outcomes = [Outcome(0.70, {"normalize": "dataset", "mixup_alpha": 0.0}), Outcome(0.50, {"normalize": "none", "mixup_alpha": 0.0}),
                Outcome(0.62, {"normalize": "none", "mixup_alpha": 0.4}), Outcome(0.9, {"normalize": "dataset"}, "pruned")]
    assert [v.technique for v in order_by_promise([tta, mix, norm], outcomes)] == ["normalization", "mixup",
                                                                                   "test-time augmentation"]


def test_contributions_are_paired_t_tests_holm_corrected():
    winner = {1: 0.80, 2: 0.78, 3: 0.83}
    mix = Variant("mixup", {"mixup_alpha": 0.0}, {"mixup_alpha": 0.4})
    norm = Variant("normalization", {"normalize": "none"}, {"normalize": "dataset"})
    runs = {"mixup": (mix, {1: 0.70, 2: 0.69, 3: 0.72}), "normalization": (norm, {1: 0.79, 2: 0.79, 3: 0.81, 9: 0.1})}
    out = {c.technique: c for c in contributions(winner, runs)}
    m, n = out["mixup"], out["normalization"]
    expected = stats.ttest_rel([0.80, 0.78, 0.83], [0.70, 0.69, 0.72])
    assert m.contribution == pytest.approx(0.1) and m.p_value == pytest.approx(expected.pvalue)
    assert m.n_pairs == 3 and n.n_pairs == 3  # seed 9 has no winner run: not a pair
    low, high = sorted([m, n], key=lambda c: c.p_value)
    assert low.p_adjusted == pytest.approx(min(1, 2 * low.p_value))  # Holm: the smallest times 2, then the next
    assert high.p_adjusted == pytest.approx(max(low.p_adjusted, high.p_value))
    assert m.shown is True and n.shown is False
    assert m.stderr == pytest.approx(stats.sem([0.10, 0.09, 0.11]))


def test_contributions_against_numbers_worked_by_hand():
    """Not scipy's numbers. Mixup's per-seed differences 0.10, 0.09, 0.11: mean 0.1, standard deviation 0.01,
    t = 0.1 / (0.01 / sqrt(3)) = 10 sqrt(3) on 2 dof; normalization's 0.01, -0.01, 0.02: mean 2/3 x 0.01,
    standard deviation sqrt(7/3) x 0.01, t = 2 / sqrt(7). With 2 dof, P(|T| >= t) = 1 - t / sqrt(2 + t^2)
    and t_0.975 = 0.95 / sqrt(2 x 0.975 x 0.025). R 4.2's ``t.test(..., paired = TRUE)`` prints p = 0.003316759,
    95 % CI 0.07515862288 to 0.12484137712 (mixup) and p = 0.5285955 (normalization)."""
    winner = {1: 0.80, 2: 0.78, 3: 0.83}
    mix = Variant("mixup", {"mixup_alpha": 0.0}, {"mixup_alpha": 0.4})
    norm = Variant("normalization", {"normalize": "none"}, {"normalize": "dataset"})
    runs = {"mixup": (mix, {1: 0.70, 2: 0.69, 3: 0.72}), "normalization": (norm, {1: 0.79, 2: 0.79, 3: 0.81})}
    out = {c.technique: c for c in contributions(winner, runs)}
    m, n = out["mixup"], out["normalization"]
    p_mix, p_norm = 1 - math.sqrt(300 / 302), 1 - math.sqrt(2) / 3  # 1 - t / sqrt(2 + t^2) at t^2 = 300 and 4/7
    assert (m.p_value, n.p_value) == pytest.approx((p_mix, p_norm), rel=1e-9)
    assert m.p_value == pytest.approx(0.003316759, abs=5e-10) and n.p_value == pytest.approx(0.5285955, abs=5e-8)  # as printed
    assert (m.p_adjusted, n.p_adjusted) == pytest.approx((2 * p_mix, p_norm), rel=1e-9)  # Holm over the two
    half = 0.95 / math.sqrt(2 * 0.975 * 0.025) * 0.01 / math.sqrt(3)
    assert (m.ci_low, m.ci_high) == pytest.approx((0.1 - half, 0.1 + half), rel=1e-9)
    assert (m.ci_low, m.ci_high) == pytest.approx((0.07515862288, 0.12484137712), abs=5e-12)
    assert m.stderr == pytest.approx(0.01 / math.sqrt(3), rel=1e-9) and n.stderr == pytest.approx(math.sqrt(7 / 9) * 0.01, rel=1e-9)


def test_one_pair_is_too_few_for_a_test():
    v = Variant("mixup", {"mixup_alpha": 0.0}, {"mixup_alpha": 0.4})
    (c,) = contributions({1: 0.8, 2: 0.7}, {"mixup": (v, {1: 0.6})})
    assert c.n_pairs == 1 and c.p_value is None and c.shown is None and "too few seeds" in c.verdict


def test_only_tta_is_evaluation_only_so_a_tta_winner_needs_no_trained_variant():
    tta_only = {**BASE, "tta_n": 4}
    assert [v.evaluation_only for v in variants(tta_only, BASE)[0]] == [True]
    assert needs_training(tta_only, BASE) == []  # the confirmation may use the ablation's share
    both = {**BASE, "tta_n": 4, "normalize": "dataset"}
    assert [v.technique for v in needs_training(both, BASE)] == ["normalization"]
    assert needs_training(BASE, BASE) == []
