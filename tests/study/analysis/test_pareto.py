"""The study's answers: the Pareto front of finished trials, and the confirmation runs' verdict."""

from __future__ import annotations

import math

import pytest

from study.analysis.confirm import ConfigSummary, group_runs, top_configs, verdict
from study.tune.monitor import TrialOutcome
from study.driver.search import pareto_front
from study.tune.trainable import OBJECTIVE_KEY


def outcome(name: str, accuracy: float | None, train_seconds: float | None = None, infer_ms: float | None = None, *,
            state: str = "finished", config: dict | None = None) -> TrialOutcome:
    result = {OBJECTIVE_KEY: accuracy, "train_seconds": train_seconds, "infer_ms_per_image": infer_ms}
    return TrialOutcome(trial_id=name, name=name, outcome=state, objective=accuracy,
                        config=config if config is not None else {"lr": 0.01, "seed": 0, "name": name},
                        params={}, result={k: v for k, v in result.items() if v is not None})


def names(front: list[dict]) -> list[str]:
    return [row["trial"] for row in front]


# --- Pareto front ----------------------------------------------------------------------------


def test_front_keeps_trade_offs_and_drops_dominated_trials():
    trials = [
        outcome("accurate-slow", 0.90, 100.0),
        outcome("fast-rough", 0.70, 20.0),
        outcome("middle", 0.80, 50.0),
        outcome("dominated", 0.75, 60.0),  # middle is more accurate and faster
        outcome("worst", 0.60, 200.0),
    ]
    front = pareto_front(trials, ["accuracy", "train_seconds"])
    assert names(front) == ["accurate-slow", "middle", "fast-rough"]  # sorted by accuracy, best first
    assert front[0] == {"trial": "accurate-slow", "accuracy": 0.90, "train_seconds": 100.0}


def test_accuracy_is_maximized_and_costs_minimized_on_all_three_objectives():
    trials = [
        outcome("tta", 0.92, 50.0, 4.0),  # most accurate, but TTA multiplies inference cost
        outcome("no-tta", 0.90, 50.0, 1.0),  # cheapest to run
        outcome("short", 0.85, 30.0, 1.0),  # cheapest to train
        outcome("worse-everywhere", 0.84, 31.0, 1.5),  # dominated by short on all three
        outcome("slower-inference", 0.90, 50.0, 2.0),  # tied with no-tta except a higher inference cost
    ]
    metrics = ["accuracy", "train_seconds", "infer_ms_per_image"]
    assert names(pareto_front(trials, metrics)) == ["tta", "no-tta", "short"]
    # on accuracy and training time alone, the TTA trial dominates its twin without TTA
    assert set(names(pareto_front(trials, ["accuracy", "train_seconds"]))) == {"tta", "short"}
    # minimizing a cost: the front sorted by the first metric ascending
    assert names(pareto_front(trials, ["infer_ms_per_image", "accuracy"])) == ["no-tta", "tta"]


def test_exact_ties_are_all_kept_and_a_tie_with_one_strict_loss_is_dominated():
    trials = [
        outcome("a", 0.8, 10.0),
        outcome("a-twin", 0.8, 10.0),  # identical numbers: neither dominates the other
        outcome("same-accuracy-slower", 0.8, 12.0),  # equal on one, worse on the other: dominated
        outcome("same-time-less-accurate", 0.7, 10.0),  # dominated
    ]
    assert sorted(names(pareto_front(trials, ["accuracy", "train_seconds"]))) == ["a", "a-twin"]


@pytest.mark.parametrize("state", ["pruned", "budget", "failed"])
def test_trials_that_did_not_finish_are_neither_on_the_front_nor_dominate_it(state):
    trials = [outcome("unfinished", 0.99, 1.0, state=state), outcome("done", 0.5, 100.0)]
    assert names(pareto_front(trials, ["accuracy", "train_seconds"])) == ["done"]


def test_trials_missing_a_metric_are_left_out():
    trials = [outcome("no-seconds", 0.99), outcome("done", 0.5, 100.0)]
    assert names(pareto_front(trials, ["accuracy", "train_seconds"])) == ["done"]
    assert pareto_front([], ["accuracy", "train_seconds"]) == []


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
    assert "too few seeds to judge the noise" in v.sentence()


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


def test_top_configs_are_distinct_finished_and_best_first():
    same = {"lr": 0.01, "mixup_alpha": 0.4}
    trials = [
        outcome("best", 0.90, config={**same, "seed": 1}),
        outcome("best-again", 0.88, config={**same, "seed": 2}),  # the same configuration with another seed
        outcome("second", 0.85, config={"lr": 0.02, "mixup_alpha": 0.4, "seed": 1}),
        outcome("pruned-high", 0.95, state="pruned", config={"lr": 0.03, "seed": 1}),
        outcome("no-objective", None, config={"lr": 0.04, "seed": 1}),
        outcome("third", 0.60, config={"lr": 0.05, "seed": 1}),
    ]
    assert [o.name for o in top_configs(trials, 2)] == ["best", "second"]
    assert [o.name for o in top_configs(trials, 10)] == ["best", "second", "third"]
    assert top_configs([], 3) == []


def test_top_configs_zero_means_none():
    trials = [outcome("best", 0.9), outcome("second", 0.8)]
    assert top_configs(trials, 0) == []
    assert [o.name for o in top_configs(trials, 1)] == ["best"]
