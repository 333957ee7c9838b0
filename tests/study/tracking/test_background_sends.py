"""A trial's MLflow calls in the background (``TrialRun(background=True)``, as in a Ray worker).

The trial never waits on MLflow: not on a server that does not answer, and not on the first
``import mlflow`` and store set-up of its process. Its record is written at once, whatever MLflow
does; once the sender is flushed, MLflow holds exactly what a synchronous run would send.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from study.tracking import TAG_OUTCOME, TAG_TRIAL_KEY, TrackingInfo, TrialRun, check_tracking, default_tracking_uri, start_parent_run
from study.tracking.records import read_record, records_dir
from study.tracking.sender import SENDER


def _log_a_trial(run: TrialRun) -> None:
    run.log_params({"lr": 0.01, "mixup": True})
    for epoch in range(3):
        run.log_epochs([{"epoch": epoch, "accuracy": 0.1 * (epoch + 1), "train_loss": 2.0 - epoch}])
    run.log_final({"accuracy": 0.3}, {"config.json": {"lr": 0.01}, "epochs.csv": "epoch,accuracy\n0,0.1\n"})
    run.end("FINISHED", "finished")


def test_background_sends_reach_mlflow_in_order_once_flushed(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = default_tracking_uri(tmp_path)
    exp = check_tracking(uri, "bg", artifact_location=(tmp_path / "mlartifacts").as_uri())
    parent = start_parent_run(uri, exp, "bg", {}, {})
    gate = threading.Event()
    SENDER.submit(gate.wait)  # the sender is busy (as with the first `import mlflow` of a worker)
    run = TrialRun(TrackingInfo(uri, exp, parent, "bg"), "L/t1", "t1", record_dir=records_dir(tmp_path), background=True)
    _log_a_trial(run)
    assert run.run_id == ""  # nothing sent yet, and the trial did not wait for it
    state = read_record(records_dir(tmp_path) / "L--t1.jsonl")
    assert sorted(state.epochs) == [0, 1, 2] and state.end["status"] == "FINISHED"  # the record is already whole

    gate.set()
    assert run.flush(60)
    client = MlflowClient(uri)
    r = client.get_run(run.run_id)
    assert r.info.status == "FINISHED" and r.data.tags[TAG_OUTCOME] == "finished" and r.data.tags[TAG_TRIAL_KEY] == "L/t1"
    assert r.data.params == {"lr": "0.01", "mixup": "true"}
    assert [(m.step, m.value) for m in client.get_metric_history(run.run_id, "accuracy")] == [(0, 0.1), (1, 0.2), (2, 0.30000000000000004)]
    assert r.data.metrics["final_accuracy"] == 0.3
    assert {a.path for a in client.list_artifacts(run.run_id)} == {"config.json", "epochs.csv"}
    assert len(client.search_runs([exp], filter_string=f"tags.`{TAG_TRIAL_KEY}` = 'L/t1'")) == 1


def test_a_server_that_does_not_answer_does_not_hold_the_trial(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never answers: each request waits for its timeout
    uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        started = time.monotonic()
        run = TrialRun(TrackingInfo(uri, "1", "p", "silent"), "L/t2", "t2", record_dir=records_dir(tmp_path), background=True)
        _log_a_trial(run)
        held = time.monotonic() - started
        # A synchronous run waits for the request timeout (5 s) at its first call; this one did not wait at all.
        assert held < 2.0, f"the trial waited {held:.1f} s on MLflow"
        assert sorted(read_record(records_dir(tmp_path) / "L--t2.jsonl").epochs) == [0, 1, 2]
        assert run.flush(60)
        assert run.run_id == "" and run.behind and run.last_error  # given up, to be sent by `study sync`
    finally:
        silent.close()


def test_a_first_attempt_makes_its_run_and_a_retry_finds_it_again(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = default_tracking_uri(tmp_path)
    exp = check_tracking(uri, "retry", artifact_location=(tmp_path / "mlartifacts").as_uri())
    info = TrackingInfo(uri, exp, start_parent_run(uri, exp, "retry", {}, {}), "retry")
    first = TrialRun(info, "L/t2", "t2", record_dir=records_dir(tmp_path))
    assert first.record.new and first.run_id  # nothing recorded before: no run to look for, one made
    first.log_epochs([{"epoch": 0, "accuracy": 0.1}])
    again = TrialRun(info, "L/t2", "t2", record_dir=records_dir(tmp_path))  # Ray retried the trial
    assert not again.record.new and again.run_id == first.run_id
    again.log_epochs([{"epoch": 0, "accuracy": 0.1}, {"epoch": 1, "accuracy": 0.2}])
    client = MlflowClient(uri)
    assert len(client.search_runs([exp], filter_string=f"tags.`{TAG_TRIAL_KEY}` = 'L/t2'")) == 1
    assert [m.step for m in client.get_metric_history(first.run_id, "accuracy")] == [0, 1]
