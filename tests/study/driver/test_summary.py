"""summary.json and the end-of-study text, from hand-built phase results."""

from __future__ import annotations

import json
from pathlib import Path

from study.analysis.ablation import Contribution
from study.analysis.outcomes import AblationOutcome, ConfirmedConfig, ConfirmOutcome, VerdictRecord
from study.driver.done import Outcomes
from study.driver.search import SearchOutcome
from study.driver.summary import print_summary, summarize
from study.spec import apply_overrides, default_spec
from study.tune.clock import begin_session
from study.tune.journal import TrialOutcome


def outcome(name: str, objective: float, **config: object) -> TrialOutcome:
    return TrialOutcome(trial_id=name, name=name, outcome="finished", objective=objective,
                        config={"lr": 0.003, "normalize": "none", **config}, params={},
                        result={"accuracy": objective, "train_seconds": 50.0})


def search(best: TrialOutcome, base: TrialOutcome) -> SearchOutcome:
    return SearchOutcome(outcomes={o.trial_id: o for o in (best, base)}, best=best, baseline=base, baseline_params={},
                         base_config=base.config, counts={"finished": 2, "pruned": 1, "budget": 0, "failed": 0},
                         skipped=3, optuna_storage="/x/optuna.journal")


CONFIRM = ConfirmOutcome(0.95, runs=6, finished=6,
                         configs={"t1": ConfirmedConfig("t1", (0.8, 0.8, 0.8)), "baseline": ConfirmedConfig("baseline", (0.7, 0.7, 0.7))},
                         verdict=VerdictRecord("best t1: 0.8 ...: it beats the baseline", "t1", True, 0.95))
ABLATION = AblationOutcome(0.95, winner="t1", seeds=(1000, 1001, 1002), runs=3, finished=3,
                           techniques=(Contribution("normalization", {"normalize": "none"}, 0.05, 0.01, 0.02, 0.08, 0.01, 0.01,
                                                    0.95, 3, True, "winner − without normalization = +0.0500 (...)"),),
                           skipped=({"technique": "image size", "reason": "would not finish in the 12 s left"},))


def test_the_summary_names_the_best_its_changes_and_both_verdicts(tmp_path: Path) -> None:
    spec = apply_overrides(default_spec(), name="s", time_budget=600)
    clock = begin_session(tmp_path, 600.0, new_study=True)
    best, base = outcome("t1", 0.80, normalize="dataset"), outcome("t0", 0.70)
    s = summarize(spec, Outcomes(search(best, base), CONFIRM, ABLATION), tmp_path, "sqlite:///x/mlflow.db", clock)
    assert s["best_trial"]["name"] == "t1" and s["best_trial"]["changes_from_base"] == {"normalize": "dataset"}
    assert s["baseline_trial"] == {"name": "t0", "objective": 0.70}
    assert s["confirmation"] == CONFIRM.to_dict() and s["ablation"] == ABLATION.to_dict() and s["level"] == 0.95
    assert ConfirmOutcome.from_dict(s["confirmation"], 0.5) == CONFIRM  # summary.json reads back as the phase's outcome
    assert AblationOutcome.from_dict(s["ablation"], 0.5) == ABLATION
    assert s["budget_seconds"] == 600.0 and 0 <= s["wall_seconds"] < 60
    json.dumps(s)  # summary.json is plain data

    lines: list[str] = []
    print_summary(s, lines.append, dashboard=tmp_path / "dashboard.html")
    text = "\n".join(lines)
    assert "trials: 2 finished, 1 pruned, 0 stopped by the budget, 0 failed, 3 not started" in text
    assert "best trial t1: objective 0.8000" in text and "normalize = 'dataset'" in text
    assert "book baseline (t0): 0.7000  -> +0.1000" in text
    assert "confirmation: best t1: 0.8 ...: it beats the baseline" in text
    assert "ablation of t1 (paired over seeds 1000, 1001, 1002; 95 % level, Holm-corrected over 1)" in text
    assert "normalization" in text and "made a difference" in text
    assert "image size: not ablated (would not finish in the 12 s left)" in text
    assert f"dashboard:         {tmp_path / 'dashboard.html'}" in text


def test_a_study_where_nothing_finished_says_what_to_do(tmp_path: Path) -> None:
    spec = apply_overrides(default_spec(), name="s")
    clock = begin_session(tmp_path, 600.0, new_study=True)
    empty = SearchOutcome(outcomes={}, best=None, baseline=None, baseline_params={}, base_config={},
                          counts={"finished": 0, "pruned": 0, "budget": 2, "failed": 0}, skipped=0, optuna_storage="/o/optuna.journal")
    s = summarize(spec, Outcomes(empty, ConfirmOutcome(0.95, note="no finished trial to confirm"), AblationOutcome(0.95, note="off")),
                  tmp_path, None, clock)
    lines: list[str] = []
    print_summary(s, lines.append)
    text = "\n".join(lines)
    assert "no trial finished: give the study more time" in text
    assert "confirmation: no finished trial to confirm" in text and "ablation: off" in text
    assert "study ui" not in text  # no MLflow, no UI line
