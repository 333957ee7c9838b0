"""The driver's sends of trial runs from their records (``study.tracking.follow``), for a SQLite store.

The trial writes only its record, as a Ray worker does when the driver sends (``TrialRun(None, ...)``);
the follower makes MLflow hold exactly what the record holds, each epoch once, however often it is
asked and however the record grew in between; a resumed study's trial goes on in its earlier run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from study.tracking import TAG_OUTCOME, TAG_TRIAL_KEY, TrackingInfo, TrialRun, check_tracking, default_tracking_uri, start_parent_run
from study.tracking.follow import RunFollower, driver_sends
from study.tracking.records import record_end, records_dir


def _store(tmp_path: Path, name: str) -> TrackingInfo:
    uri = default_tracking_uri(tmp_path)
    exp = check_tracking(uri, name, artifact_location=(tmp_path / "mlartifacts").as_uri())
    return TrackingInfo(uri, exp, start_parent_run(uri, exp, name, {}, {}), name)


def test_the_store_decides_who_sends() -> None:
    assert driver_sends("sqlite:////tmp/s/mlflow.db")
    assert not driver_sends("http://127.0.0.1:5000") and not driver_sends(None)


def test_the_driver_sends_what_the_record_holds_each_epoch_once(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    info = _store(tmp_path, "follow")
    follower = RunFollower(info, tmp_path, since=time.time())
    trial = TrialRun(None, "L/t1", "t1", extra_tags={"xs.confirms": "abc"}, record_dir=records_dir(tmp_path))  # the worker
    trial.log_params({"lr": 0.01, "mixup": True})
    trial.log_epochs([{"epoch": 0, "accuracy": 0.1}])
    follower.push("L/t1")
    assert follower.flush(60) and follower.last_error is None
    run_id = follower.run_id("L/t1")
    client = MlflowClient(info.uri)
    assert client.get_run(run_id).info.status == "RUNNING"  # while the trial runs, its epochs so far
    trial.log_epochs([{"epoch": 1, "accuracy": 0.2}, {"epoch": 2, "accuracy": 0.3}])
    trial.log_final({"accuracy": 0.3}, {"config.json": {"lr": 0.01}, "epochs.csv": "epoch,accuracy\n0,0.1\n"})
    trial.end("FINISHED", "finished")
    for _ in range(3):  # asked again and again: nothing is sent twice
        follower.push("L/t1")
    assert follower.flush(60) and not follower.changed("L/t1")

    r = client.get_run(run_id)
    assert r.info.status == "FINISHED" and r.data.tags[TAG_OUTCOME] == "finished"
    assert r.data.tags[TAG_TRIAL_KEY] == "L/t1" and r.data.tags["xs.confirms"] == "abc"
    assert r.data.tags["mlflow.parentRunId"] == info.parent_run_id
    assert r.data.params == {"lr": "0.01", "mixup": "true"}
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "accuracy")] == [(0, 0.1), (1, 0.2), (2, 0.3)]
    assert r.data.metrics["final_accuracy"] == 0.3
    assert {a.path for a in client.list_artifacts(run_id)} == {"config.json", "epochs.csv"}
    assert len(client.search_runs([info.experiment_id], filter_string=f"tags.`{TAG_TRIAL_KEY}` = 'L/t1'")) == 1


def test_a_pruned_trial_is_closed_with_the_drivers_verdict(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    info = _store(tmp_path, "pruned")
    follower = RunFollower(info, tmp_path, since=time.time())
    trial = TrialRun(None, "L/t2", "t2", record_dir=records_dir(tmp_path))
    trial.log_epochs([{"epoch": 0, "accuracy": 0.1}])
    record_end(tmp_path, "L/t2", "KILLED", "pruned")  # the driver's monitor, for a trial ASHA stopped
    follower.push("L/t2")
    assert follower.flush(60)
    r = MlflowClient(info.uri).get_run(follower.run_id("L/t2"))
    assert r.info.status == "KILLED" and r.data.tags[TAG_OUTCOME] == "pruned"


def test_a_resumed_studys_trial_goes_on_in_its_run(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    info = _store(tmp_path, "resumed")
    trial = TrialRun(None, "L/t3", "t3", record_dir=records_dir(tmp_path))
    trial.log_epochs([{"epoch": 0, "accuracy": 0.1}])
    first = RunFollower(info, tmp_path, since=time.time() - 60)  # the first session's driver
    first.push("L/t3")
    assert first.flush(60)
    # The driver stopped; the next session's follower knows nothing, the record was opened before it began
    again = RunFollower(info, tmp_path, since=time.time())
    trial = TrialRun(None, "L/t3", "t3", record_dir=records_dir(tmp_path))  # the trial resumed
    trial.log_epochs([{"epoch": 0, "accuracy": 0.1}, {"epoch": 1, "accuracy": 0.2}])
    again.push("L/t3")
    assert again.flush(60)
    assert again.run_id("L/t3") == first.run_id("L/t3")
    client = MlflowClient(info.uri)
    assert [m.step for m in client.get_metric_history(first.run_id("L/t3"), "accuracy")] == [0, 1]
    trial.log_epochs([{"epoch": 2, "accuracy": 0.3}])
    trial.end("FINISHED", "finished")
    again.push("L/t3")  # and from there on, as any run of this session
    assert again.flush(60)
    assert [m.step for m in client.get_metric_history(first.run_id("L/t3"), "accuracy")] == [0, 1, 2]
    assert client.get_run(first.run_id("L/t3")).info.status == "FINISHED"


def test_a_store_that_fails_is_retried_later_and_stops_nothing(tmp_path: Path) -> None:
    info = _store(tmp_path, "locked")
    broken = TrackingInfo("sqlite:///" + str(tmp_path / "missing" / "dir" / "mlflow.db"), info.experiment_id,
                          info.parent_run_id, "locked")
    follower = RunFollower(broken, tmp_path, since=time.time())
    TrialRun(None, "L/t4", "t4", record_dir=records_dir(tmp_path)).log_epochs([{"epoch": 0, "accuracy": 0.1}])
    follower.push("L/t4")  # does not raise
    assert follower.flush(60)
    assert follower.last_error and follower.run_id("L/t4") == ""


def test_the_sends_run_in_a_process_of_their_own_at_a_lower_priority(tmp_path: Path) -> None:
    """Not a thread of the driver: there they held the interpreter lock that Tune's loop needs."""
    import os

    import psutil

    from study.tracking.follow import NICE

    info = _store(tmp_path, "process")
    follower = RunFollower(info, tmp_path, since=time.time())
    TrialRun(None, "L/t5", "t5", record_dir=records_dir(tmp_path)).log_epochs([{"epoch": 0, "accuracy": 0.1}])
    follower.push("L/t5")
    assert follower.flush(60) and follower.run_id("L/t5")
    pid = follower.pid()
    assert pid is not None and pid != os.getpid()
    assert psutil.Process(pid).nice() == min(19, os.nice(0) + NICE)
    assert follower.close(60)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(RuntimeError, match="closed"):  # a new process would not know what was sent
        follower.push("L/t5")


def test_a_sending_process_that_died_stops_nothing(tmp_path: Path) -> None:
    """Killed (out of memory, by hand): the driver's pushes go on without raising; the closing sync sends the rest."""
    import os
    import signal

    info = _store(tmp_path, "died")
    follower = RunFollower(info, tmp_path, since=time.time())
    TrialRun(None, "L/t6", "t6", record_dir=records_dir(tmp_path)).log_epochs([{"epoch": 0, "accuracy": 0.1}])
    follower.push("L/t6")
    assert follower.flush(60)
    pid = follower.pid()
    assert pid is not None
    os.kill(pid, signal.SIGINT)  # a Ctrl-C reaches the whole process group: ignored there
    follower.push("L/t6")
    assert follower.flush(60) and follower.last_error is None and follower.pid() == pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 30
    while time.time() < deadline and not follower.last_error:
        follower.push("L/t6")  # raises nothing, before and after the pool notices
        follower.flush(5)
        time.sleep(0.2)
    assert follower.last_error and "Broken" in follower.last_error
    follower.close(5)
