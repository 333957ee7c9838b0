"""The Pareto front of finished trials, and the top configurations the confirmation re-runs."""

from __future__ import annotations

import pytest

from study.analysis.confirm import top_configs
from study.driver.search import pareto_front
from study.tune.journal import TrialOutcome
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
