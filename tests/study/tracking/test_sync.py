"""study sync: MLflow made to hold what the trial records hold, each item once, on a real SQLite store
that already has part of it (as after an outage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from study.cli import main
from study.common.errors import UsageError
from study.common.folder import FORMAT
from study.tracking import (
    PARENT,
    TAG_KIND,
    TAG_OUTCOME,
    TAG_STUDY,
    TAG_TRIAL_KEY,
    TrialRun,
    check_tracking,
    default_tracking_uri,
    start_parent_run,
)
from study.tracking.records import record_end, records_dir
from study.tracking.sync import sync_study

EPOCHS = [{"epoch": e, "accuracy": 0.2 * (e + 1), "train_loss": 2.0 - 0.5 * e, "lr": 1e-3} for e in range(3)]


def _client(uri: str):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def make_study(folder: Path, phase: str = "done") -> tuple[Path, str, str, str]:
    """A study folder with a SQLite MLflow store and parent run; (folder, uri, experiment id, parent run id)."""
    study_dir = folder / "studies" / "synced"
    study_dir.mkdir(parents=True)
    uri = default_tracking_uri(study_dir)
    experiment = check_tracking(uri, "synced", artifact_location=(study_dir / "mlartifacts").resolve().as_uri())
    parent = start_parent_run(uri, experiment, "synced", {"seed": 0}, {"xs.launch_id": "L"})
    (study_dir / "study.json").write_text(json.dumps({"format": FORMAT,
        "name": "synced", "launch_id": "L", "tracking_uri": uri, "parent_run_id": parent, "phase": phase}))
    return study_dir, uri, experiment, parent


def record_trial(study_dir: Path, key: str, finished: bool) -> TrialRun:
    """A trial that could not reach MLflow at all: only its record (``info=None``)."""
    run = TrialRun(None, key, key.split("/")[1], record_dir=records_dir(study_dir))
    run.log_params({"lr": 1e-3, "model": "xresnet18", "search.lr": 1e-3})
    run.log_epochs(EPOCHS)
    if finished:
        run.log_final({"accuracy": 0.6, "objective": 0.6}, {"config.json": {"lr": 1e-3}, "result.json": "{}"})
        run.end("FINISHED", "finished")
    return run


def test_sync_sends_exactly_what_is_missing_and_nothing_the_second_time(tmp_path: Path) -> None:
    from mlflow.entities import Metric, Param

    study_dir, uri, experiment, parent = make_study(tmp_path)
    record_trial(study_dir, "L/done", finished=True)
    record_trial(study_dir, "L/pruned", finished=False)
    record_end(study_dir, "L/pruned", "KILLED", "pruned")  # the driver's verdict on a trial stopped from outside
    record_trial(study_dir, "L/cut", finished=False)  # the study ended without a word about it
    # "done" reached MLflow in part before the outage: its run, one param, one metric value, one artifact
    client = _client(uri)
    run = client.create_run(experiment, run_name="done", tags={TAG_TRIAL_KEY: "L/done", PARENT: parent, TAG_STUDY: "synced",
                                                               TAG_KIND: "trial"})
    client.log_batch(run.info.run_id, params=[Param("lr", "0.001")], metrics=[Metric("accuracy", 0.2, 0, 0)])
    (tmp_path / "config.json").write_text(json.dumps({"lr": 1e-3}, indent=2))
    client.log_artifact(run.info.run_id, str(tmp_path / "config.json"))
    with open(records_dir(study_dir) / "L--done.jsonl", "a") as f:
        f.write('{"time": 1, "event": "epoch", "step": 3, "metr')  # a write cut short by a crash

    report = sync_study(study_dir, say=lambda _: None)
    assert report.complete and report.trials == 3 and report.bad_lines == 1
    assert report.runs_created == 2
    assert report.sent.params == 3 * 3 - 1
    per_trial = 3 * 3  # 3 epochs x 3 metrics
    assert report.sent.metrics == 3 * per_trial + 2 - 1  # + done's 2 final metrics, - the one already there
    assert report.sent.artifacts == 2 - 1
    assert report.sent.statuses == 3 + 1  # each trial's end, and the parent
    assert report.sent.present == 3

    runs = {r.data.tags[TAG_TRIAL_KEY]: r for r in client.search_runs([experiment]) if TAG_TRIAL_KEY in r.data.tags}
    assert sorted(runs) == ["L/cut", "L/done", "L/pruned"]
    for key, r in runs.items():
        assert r.data.tags[PARENT] == parent
        for metric in ("accuracy", "train_loss", "lr"):
            history = client.get_metric_history(r.info.run_id, metric)
            assert sorted(m.step for m in history) == [0, 1, 2], (key, metric)
    assert {k: (r.info.status, r.data.tags[TAG_OUTCOME]) for k, r in runs.items()} == {
        "L/done": ("FINISHED", "finished"), "L/pruned": ("KILLED", "pruned"), "L/cut": ("KILLED", "interrupted")}
    assert runs["L/done"].data.metrics["final_accuracy"] == 0.6
    assert {a.path for a in client.list_artifacts(runs["L/done"].info.run_id)} == {"config.json", "result.json"}
    assert client.get_run(parent).info.status == "FINISHED"

    again = sync_study(study_dir, say=lambda _: None)
    assert again.complete and again.runs_created == 0 and again.sent.sent == 0
    assert again.sent.present == 3 * 3 + 3 * per_trial + 2 + 2 + 3


def test_a_record_end_replaces_the_interrupted_placeholder(tmp_path: Path) -> None:
    from study.tracking import close_leftover_runs

    study_dir, uri, experiment, parent = make_study(tmp_path)
    record_trial(study_dir, "L/late-end", finished=True)  # its end never reached MLflow...
    sync_study(study_dir, say=lambda _: None)
    client = _client(uri)
    (run,) = [r for r in client.search_runs([experiment]) if r.data.tags.get(TAG_TRIAL_KEY) == "L/late-end"]
    client.update_run(run.info.run_id, status="RUNNING")
    client.delete_tag(run.info.run_id, TAG_OUTCOME)
    assert close_leftover_runs(uri, experiment, parent) == 1  # ...so the launch closed it as KILLED / interrupted
    report = sync_study(study_dir, say=lambda _: None)
    assert report.sent.statuses == 1
    run = client.get_run(run.info.run_id)
    assert (run.info.status, run.data.tags[TAG_OUTCOME]) == ("FINISHED", "finished")


def test_a_study_that_may_be_resumed_keeps_its_open_runs_open(tmp_path: Path) -> None:
    study_dir, uri, experiment, parent = make_study(tmp_path, phase="search")
    record_trial(study_dir, "L/running", finished=False)
    report = sync_study(study_dir, say=lambda _: None)
    assert report.complete and report.sent.statuses == 0
    (run,) = [r for r in _client(uri).search_runs([experiment]) if r.data.tags.get(TAG_TRIAL_KEY) == "L/running"]
    assert run.info.status == "RUNNING" and TAG_OUTCOME not in run.data.tags
    assert _client(uri).get_run(parent).info.status == "RUNNING"


def test_sync_command(tmp_path: Path, capsys) -> None:
    study_dir, uri, experiment, parent = make_study(tmp_path)
    record_trial(study_dir, "L/one", finished=True)
    root = str(study_dir.parent)
    assert main(["sync", "--root", root]) == 0  # the newest study under --root
    assert "1 run(s) created" in capsys.readouterr().out
    assert main(["sync", "synced", "--root", root]) == 0
    assert "0 run(s) created, 0 param(s), 0 metric value(s), 0 artifact(s), 0 status(es) sent" in capsys.readouterr().out
    assert main(["sync", "nope", "--root", root]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


def test_a_study_without_mlflow_needs_a_tracking_uri(tmp_path: Path) -> None:
    study_dir = tmp_path / "quiet"
    study_dir.mkdir()
    (study_dir / "study.json").write_text(json.dumps({"format": FORMAT, "name": "quiet", "launch_id": "L", "tracking_uri": None}))
    with pytest.raises(UsageError, match="--no-mlflow; pass --tracking-uri"):
        sync_study(study_dir)
