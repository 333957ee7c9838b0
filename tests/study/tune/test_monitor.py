"""StudyMonitor: each trial's outcome told truthfully, on the terminal and in its MLflow run.

The trials are plain data objects with the attributes Tune's ``Trial`` gives a callback
(``trial_id``, ``config``, ``last_result``, ``str()``); the MLflow store is a real SQLite one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from study.tracking import TAG_OUTCOME, TrackingInfo, TrialRun, check_tracking, default_tracking_uri, start_parent_run
from study.tune.monitor import StudyMonitor
from study.tune.searcher import SEED_KEY
from study.tune.trainable import FINISHED_KEY, OBJECTIVE_KEY, RUN_ID_KEY


@dataclass
class StandInTrial:
    trial_id: str
    config: dict[str, Any] = field(default_factory=dict)
    last_result: dict[str, Any] = field(default_factory=dict)
    error_file: str | None = None

    def __str__(self) -> str:
        return f"sleep_trial_{self.trial_id}"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrackingInfo:
    folder = tmp_path_factory.mktemp("monitor")
    uri = default_tracking_uri(folder)
    experiment = check_tracking(uri, "monitor", artifact_location=(folder / "artifacts").as_uri())
    parent = start_parent_run(uri, experiment, "monitor", {"seed": 0}, {})
    return TrackingInfo(uri, experiment, parent, "monitor")


def open_run(store: TrackingInfo, key: str) -> str:
    """A trial's MLflow run as the trial leaves it when it is stopped from outside: RUNNING."""
    return TrialRun(store, trial_key=f"launch/{key}", run_name=key).run_id


def run_of(store: TrackingInfo, run_id: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(store.uri).get_run(run_id)


def monitor(store: TrackingInfo | None, *, deadline_in_s: float = 600.0) -> StudyMonitor:
    import tempfile

    from study.tune.clock import Deadline, begin_session

    clock = begin_session(Path(tempfile.mkdtemp(prefix="xs-monitor-")), 900.0, new_study=True)
    return StudyMonitor(clock=clock, deadline_at=Deadline(clock, deadline_in_s), budget_s=900.0,
                        tracking_uri=store.uri if store else None, status_every_s=1e9)


def trial(tid: str, run_id: str, epoch: int, accuracy: float, finished: bool, **config: Any) -> StandInTrial:
    config = {"trial": {"lr": 0.01, "seed": 0}, "xs": {"kind": "trial"}, "lr": 0.01, **config}
    return StandInTrial(tid, config, {OBJECTIVE_KEY: accuracy, FINISHED_KEY: finished, RUN_ID_KEY: run_id, "epoch": epoch})


def test_finished_pruned_and_budget_stopped_trials(store: TrackingInfo, capsys) -> None:
    m = monitor(store)
    done = trial("done", open_run(store, "done"), 2, 0.8, True, **{SEED_KEY: "baseline"})
    pruned = trial("pruned", open_run(store, "pruned"), 0, 0.2, False)
    for t in (done, pruned):
        m.on_trial_start(0, [], t)
    assert m.counts()["running"] == 2
    m.on_trial_complete(0, [], done)
    m.on_trial_complete(0, [], pruned)  # stopped by ASHA: its last report is not final, well before the deadline

    assert {k: o.outcome for k, o in m.outcomes.items()} == {"done": "finished", "pruned": "pruned"}
    assert m.counts() == {"running": 0, "finished": 1, "pruned": 1, "budget": 0, "failed": 0}
    assert m.best() is m.outcomes["done"] and m.best().objective == 0.8
    assert m.outcomes["done"].params == {"lr": 0.01}  # what was searched, not the study's plumbing
    assert m.outcomes["done"].config == {"lr": 0.01, "seed": 0}

    # A finished trial closes its own run (report_final, or the closing sync from its record): the
    # driver leaves it to it, and spends nothing on it between trials.
    assert run_of(store, done.last_result[RUN_ID_KEY]).info.status == "RUNNING"
    killed = run_of(store, pruned.last_result[RUN_ID_KEY])
    assert killed.info.status == "KILLED" and killed.data.tags[TAG_OUTCOME] == "pruned"

    out = capsys.readouterr().out
    assert "sleep_trial_done started (book recipe: baseline)" in out
    assert "sleep_trial_pruned pruned after epoch 1 objective 0.2000" in out
    assert "best 0.8000 (sleep_trial_done)" in out


def test_a_trial_ended_at_the_deadline_is_budget_not_pruned(store: TrackingInfo) -> None:
    m = monitor(store, deadline_in_s=0.5)  # within a second of the deadline counts as the budget's doing
    late = trial("late", open_run(store, "late"), 1, 0.5, False)
    m.on_trial_start(0, [], late)
    m.on_trial_complete(0, [], late)
    assert m.outcomes["late"].outcome == "budget"
    r = run_of(store, late.last_result[RUN_ID_KEY])
    assert r.info.status == "KILLED" and r.data.tags[TAG_OUTCOME] == "budget"


def test_trials_still_running_when_tune_returns_are_closed_as_budget(store: TrackingInfo) -> None:
    m = monitor(store)
    left = [trial(f"left{i}", open_run(store, f"left{i}"), 0, 0.3, False) for i in range(2)]
    for t in left:
        m.on_trial_start(0, [], t)
    m.close_remaining("budget")
    assert m.counts()["running"] == 0 and m.counts()["budget"] == 2
    for t in left:
        r = run_of(store, t.last_result[RUN_ID_KEY])
        assert r.info.status == "KILLED" and r.data.tags[TAG_OUTCOME] == "budget"


def test_a_failed_trial_carries_its_error(store: TrackingInfo, tmp_path: Path) -> None:
    error = tmp_path / "error.txt"
    error.write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")
    m = monitor(store)
    bad = trial("bad", open_run(store, "bad"), 0, 0.1, False)
    bad.error_file = str(error)
    m.on_trial_start(0, [], bad)
    m.on_trial_error(0, [], bad)
    assert m.outcomes["bad"].outcome == "failed" and "CUDA out of memory" in (m.outcomes["bad"].error or "")
    r = run_of(store, bad.last_result[RUN_ID_KEY])
    assert r.info.status == "FAILED" and r.data.tags[TAG_OUTCOME] == "failed"
    assert "CUDA out of memory" in r.data.tags["xs.error"]


def test_a_run_the_trial_already_closed_is_left_as_it_is(store: TrackingInfo) -> None:
    run_id = open_run(store, "closed")
    TrialRun(store, trial_key="launch/closed", run_name="closed").end("FINISHED", "finished")  # the trial's own close
    m = monitor(store)
    t = trial("closed", run_id, 2, 0.7, True)
    m.on_trial_start(0, [], t)
    m.on_trial_complete(0, [], t)
    r = run_of(store, run_id)
    assert r.info.status == "FINISHED" and r.data.tags[TAG_OUTCOME] == "finished"


def test_without_mlflow_outcomes_are_still_recorded() -> None:
    m = monitor(None)
    t = trial("plain", "", 2, 0.6, True)
    m.on_trial_start(0, [], t)
    m.on_trial_complete(0, [], t)
    assert m.outcomes["plain"].outcome == "finished" and m.best() is m.outcomes["plain"]
