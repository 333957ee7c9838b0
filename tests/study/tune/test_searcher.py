"""StudySearch: pruned trials are PRUNED in Optuna, and trials that cannot finish are not started."""

from __future__ import annotations

import time

import optuna
import pytest
from ray.tune.search import Searcher

from study.spec import spec_from_dict
from study.tune.optuna_store import OPTUNA_FILE, optuna_file, read_trials
from study.tune.optuna_store import storage as _storage
from study.tune.searcher import SEED_KEY, SpaceFunction, StudySearch
from study.tune.trainable import FINISHED_KEY, OBJECTIVE_KEY

SPEC = spec_from_dict({
    "name": "s", "seed": 0,
    "base": {"preset": "tiny"},
    "search": {"lr": {"float": [1e-3, 1e-2], "log": True}, "mixup": {"choice": [False, True]}},
}, source="<test>")


def _searcher(**kwargs) -> StudySearch:
    return StudySearch(space=SpaceFunction(SPEC), metric=OBJECTIVE_KEY, mode="max",
                       sampler=optuna.samplers.TPESampler(seed=0), **kwargs)


def test_stopped_trial_is_pruned_with_its_last_value_and_finished_is_complete():
    s = _searcher()
    a, b = s.suggest("a"), s.suggest("b")
    assert "trial" in a and "lr" in a and "trial" in b
    for step, acc in enumerate([0.2, 0.3], start=1):
        s.on_trial_result("a", {OBJECTIVE_KEY: acc, "training_iteration": step, FINISHED_KEY: False})
        s.on_trial_result("b", {OBJECTIVE_KEY: acc / 2, "training_iteration": step, FINISHED_KEY: False})
    s.on_trial_result("a", {OBJECTIVE_KEY: 0.5, "training_iteration": 3, FINISHED_KEY: True})
    assert [t.intermediate_values for t in s._ot_study.trials] == [{}, {}], "no storage write per epoch"
    s.on_trial_complete("a", {OBJECTIVE_KEY: 0.5, "training_iteration": 3, FINISHED_KEY: True, "time_total_s": 10.0, "cost": 0.1})
    # b was stopped by the scheduler after epoch 2: its last report is not final
    s.on_trial_complete("b", {OBJECTIVE_KEY: 0.15, "training_iteration": 2, FINISHED_KEY: False})
    trials = {t.number: t for t in s._ot_study.trials}
    assert trials[0].state == optuna.trial.TrialState.COMPLETE and trials[0].value == pytest.approx(0.5)
    assert trials[1].state == optuna.trial.TrialState.PRUNED
    assert trials[1].value == pytest.approx(0.15)  # its last intermediate value
    assert trials[1].intermediate_values == {2: pytest.approx(0.15)}  # written once, at its end
    assert s.seconds_per_cost == [pytest.approx(100.0)]


def test_stock_optuna_search_would_have_called_it_complete():
    """The bug we fix: Ray's OptunaSearch tells Optuna COMPLETE for a trial ASHA stopped."""
    from ray.tune.search.optuna import OptunaSearch

    s = OptunaSearch(space=SpaceFunction(SPEC), metric=OBJECTIVE_KEY, mode="max", sampler=optuna.samplers.TPESampler(seed=0))
    s.suggest("b")
    s.on_trial_result("b", {OBJECTIVE_KEY: 0.1, "training_iteration": 1})
    s.on_trial_complete("b", {OBJECTIVE_KEY: 0.1, "training_iteration": 1, FINISHED_KEY: False})
    assert s._ot_study.trials[0].state == optuna.trial.TrialState.COMPLETE


def test_error_is_fail():
    s = _searcher()
    s.suggest("x")
    s.on_trial_complete("x", None, error=True)
    assert s._ot_study.trials[0].state == optuna.trial.TrialState.FAIL


def test_no_trial_started_that_cannot_finish():
    said: list[str] = []
    s = _searcher(deadline=time.time() + 30, say=said.append)
    s.suggest("a")
    # the first trial finished: 100 s per cost unit; a tiny-preset trial costs 0.125 -> 12.5 s
    s.on_trial_complete("a", {OBJECTIVE_KEY: 0.5, FINISHED_KEY: True, "time_total_s": 12.5, "cost": 0.125})
    assert isinstance(s.suggest("b"), dict)  # 12.5 s fits in ~30 s
    s.deadline = time.time() + 5
    assert s.suggest("c") == Searcher.FINISHED  # nothing fits in 5 s
    assert any("predicted 12 s > " in line for line in said), said
    skipped = [t for t in s._ot_study.trials if "xs_skipped" in t.user_attrs]
    assert len(skipped) == 1 and skipped[0].state == optuna.trial.TrialState.FAIL


def test_the_book_recipes_are_labelled_and_the_searched_trials_are_not():
    points = [{"lr": 0.005, "mixup": False}, {"lr": 0.002, "mixup": True}]
    s = _searcher(points_to_evaluate=points, seed_labels=["baseline", "mixup"])
    first, second, third = s.suggest("a"), s.suggest("b"), s.suggest("c")
    assert (first[SEED_KEY], second[SEED_KEY]) == ("baseline", "mixup")
    assert SEED_KEY not in third
    assert second["lr"] == pytest.approx(0.002) and second["mixup"] is True


def test_the_study_storage_is_opened_once_per_journal_file(tmp_path):
    path = optuna_file(tmp_path)
    first = _storage(path)
    optuna.create_study(study_name="a", storage=first)
    assert _storage(path) is first  # the journal is replayed once per process, not at every query
    (tmp_path / OPTUNA_FILE).unlink()  # a study folder removed and made again at the same place
    again = _storage(path)
    assert again is not first
    optuna.create_study(study_name="a", storage=again)  # a fresh file: the name is free again
    assert [s.study_name for s in optuna.get_all_study_summaries(again)] == ["a"]


def test_a_second_reader_of_the_journal_sees_what_the_first_wrote(tmp_path):
    """The dashboard and a resumed driver open the journal on their own: they see every trial."""
    path = optuna_file(tmp_path)
    study = optuna.create_study(study_name="a", storage=_storage(path), direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    running = study.ask()
    rows = read_trials(tmp_path / OPTUNA_FILE, "a")
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3 + ["RUNNING"]
    assert [r["values"][0] for r in rows[:3]] == [t.value for t in study.trials[:3]]
    assert running.number == rows[3]["number"]
    with pytest.raises(FileNotFoundError, match="no Optuna journal"):
        read_trials(tmp_path / "elsewhere" / OPTUNA_FILE, "a")
    assert not (tmp_path / "elsewhere").exists()  # reading created nothing


def test_before_any_trial_finished_a_cold_start_still_has_to_fit():
    """The 40-s study on the H200 started two trials (book recipes) with 6 s left: none trained."""
    from study.analysis.planning import COLD_START_S

    said: list[str] = []
    s = _searcher(deadline=time.time() + COLD_START_S["cpu"] - 2, say=said.append,
                  points_to_evaluate=[{"lr": 0.005, "mixup": False}], seed_labels=["baseline"])
    assert s.suggest("a") == Searcher.FINISHED  # not even the book's baseline: it could not start up in time
    assert any(f"predicted {COLD_START_S['cpu']:.0f} s > " in line for line in said), said
    s.deadline = time.time() + 60
    assert isinstance(s.suggest("b"), dict)  # a cold start fits in a minute


def test_before_any_trial_finished_the_running_trials_epochs_give_the_rate():
    said: list[str] = []
    s = _searcher(deadline=time.time() + 1000, say=said.append)
    s.suggest("a")
    # a's first epoch at 32 px (cost 1/16 of an epoch at 128 px): 4 s of start-up, then 2 s for the epoch
    s.on_trial_result("a", {OBJECTIVE_KEY: 0.2, "training_iteration": 1, FINISHED_KEY: False, "epoch": 0, "size": 32,
                            "seconds_start": 3.0, "seconds_model": 1.0, "seconds_train": 1.5, "seconds_eval": 0.5})
    assert s.predicted_seconds(0.125) == pytest.approx(4.0 + 2.0 / (1 / 16) * 0.125)  # tiny: 2 epochs at 32 px
    s.deadline = time.time() + 6
    assert s.suggest("b") == Searcher.FINISHED and any("predicted 8 s > " in line for line in said), said
    s.on_trial_complete("a", {OBJECTIVE_KEY: 0.5, FINISHED_KEY: True, "time_total_s": 10.0, "cost": 0.125})
    assert s.running_reports == {} and s.predicted_seconds(0.125) == pytest.approx(10.0)  # finished trials decide now


def test_the_journal_written_without_fsync_is_optunas_own_format_and_survives_pickling(tmp_path):
    """Optuna's own file backend (and optuna-dashboard) reads it; Tune pickles the searcher with its storage."""
    import pickle

    from optuna.storages.journal import JournalFileBackend

    from study.tune.optuna_store import sync

    path = optuna_file(tmp_path)
    study = optuna.create_study(study_name="a", storage=_storage(path), direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 3), n_trials=4)
    sync(path)
    stock = optuna.load_study(study_name="a", storage=optuna.storages.JournalStorage(JournalFileBackend(path)))
    assert [(t.params, t.value) for t in stock.trials] == [(t.params, t.value) for t in study.trials]
    revived = pickle.loads(pickle.dumps(_storage(path)))
    assert [t.value for t in optuna.load_study(study_name="a", storage=revived).trials] == [t.value for t in study.trials]
    assert not list(tmp_path.glob("*.lock")), "the journal's lock is released after each write"
