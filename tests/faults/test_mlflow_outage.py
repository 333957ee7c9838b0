"""Issue 5, fault 3: MLflow unreachable.

At launch: a clear error before any trial starts. Mid-study (a real ``mlflow server`` stopped, then
started again on the same port and store): training goes on, every trial keeps its record in the
study folder, and ``study sync`` puts into MLflow exactly what is missing — one run per trial, each
epoch once per metric, final metrics, artifacts, statuses — and nothing on a second run. A trial
also catches up by itself when the server is back while it runs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from study.cli import main
from study.tracking import PARENT, TAG_KIND, TAG_OUTCOME, TAG_TRIAL_KEY, TrackingInfo, TrialRun, set_run_outcome, start_parent_run
from study.tracking.records import read_records, records_dir
from study.tracking.sync import sync_study
from tests.study.helpers import MlflowServer, free_port, write_study

pytestmark = pytest.mark.slow

ARTIFACTS = {"config.json", "epochs.csv", "result.json", "confusion_matrix.png"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One real server for the module (a start costs ~10-15 s on 2 cores); tests stop and restart it."""
    srv = MlflowServer(tmp_path_factory.mktemp("outage-server"))
    srv.start()
    yield srv
    srv.stop()


def _client(uri: str):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def test_unreachable_mlflow_at_launch_is_a_clear_error_before_any_trial(tmp_path: Path, small_data: Path, capsys) -> None:
    spec = write_study(tmp_path / "spec", small_data, name="down-at-launch")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.perf_counter()
    code = main(["launch", "--space", str(spec), "--root", str(tmp_path / "studies"), "--tracking-uri", uri])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2
    assert uri in err and "start the server" in err and "--no-mlflow" in err
    assert "Traceback" not in err
    study_dir = tmp_path / "studies" / "down-at-launch"
    assert not (study_dir / "records").exists() and not (study_dir / "ray").exists() and not (study_dir / "optuna.journal").exists()
    assert elapsed < 15, f"the check took {elapsed:.1f} s"  # a refused connection is not retried with back-off


def test_a_trial_goes_on_while_mlflow_is_down_and_catches_up_when_it_is_back(server: MlflowServer, tmp_path: Path) -> None:
    client = _client(server.uri)
    experiment = client.create_experiment("catch-up")
    parent = start_parent_run(server.uri, experiment, "catch-up", {"seed": 0}, {})
    info = TrackingInfo(server.uri, experiment, parent, "catch-up")
    folder = tmp_path / "records"
    early = TrialRun(info, "L/early", "early", record_dir=folder, retry_after_s=1.0)
    early.log_params({"lr": 0.01})
    early.log_epochs([{"epoch": 0, "accuracy": 0.1, "train_loss": 2.0}])
    assert early.run_id and not early.behind

    server.stop(grace_s=3)
    t = time.perf_counter()
    late = TrialRun(info, "L/late", "late", record_dir=folder, retry_after_s=1.0)  # its run cannot be created now
    late.log_params({"lr": 0.02})
    for epoch in (1, 2):
        early.log_epochs([{"epoch": epoch, "accuracy": 0.1 * (epoch + 1), "train_loss": 2.0 - epoch}])
        late.log_epochs([{"epoch": epoch - 1, "accuracy": 0.3, "train_loss": 1.5}])
    with pytest.raises(Exception):
        set_run_outcome(server.uri, early.run_id, "KILLED", "pruned")  # the driver's call: raises, quickly
    assert time.perf_counter() - t < 3, "MLflow calls must fail fast while the server is down"
    assert early.behind and late.behind and late.run_id == ""
    assert "Connection" in (early.last_error or "") or "connect" in (early.last_error or "").lower()

    server.start()  # same port, same backend store
    time.sleep(1.0)  # the back-off
    for run in (early, late):
        run.log_final({"accuracy": 0.5}, {"config.json": {"lr": 0.01}})
        run.end("FINISHED", "finished")
        assert not run.behind, run.last_error

    runs = {r.data.tags[TAG_TRIAL_KEY]: r for r in client.search_runs([experiment]) if TAG_TRIAL_KEY in r.data.tags}
    assert sorted(runs) == ["L/early", "L/late"], "one run per trial, the late one created when the server was back"
    assert runs["L/late"].data.tags[PARENT] == parent
    for key, steps in (("L/early", [0, 1, 2]), ("L/late", [0, 1])):
        r = runs[key]
        for metric in ("accuracy", "train_loss"):
            assert sorted(m.step for m in client.get_metric_history(r.info.run_id, metric)) == steps, (key, metric)
        assert r.info.status == "FINISHED" and r.data.tags[TAG_OUTCOME] == "finished"
        assert r.data.metrics["final_accuracy"] == 0.5 and "lr" in r.data.params
        assert [a.path for a in client.list_artifacts(r.info.run_id)] == ["config.json"]


def _wait_for_a_logged_epoch(uri: str, name: str, stop: threading.Event, timeout: float = 120) -> bool:
    """True once MLflow holds an epoch of some trial of study ``name``."""
    client = _client(uri)
    deadline = time.time() + timeout
    while time.time() < deadline and not stop.is_set():
        try:
            exp = client.get_experiment_by_name(name)
            if exp is not None and any("accuracy" in r.data.metrics for r in client.search_runs([exp.experiment_id])):
                return True
        except Exception:
            pass
        time.sleep(0.2)
    return False


def test_study_survives_an_outage_and_sync_fills_mlflow_exactly_once(
    ray_session, small_data: Path, tmp_path: Path, server: MlflowServer, capsys
) -> None:
    from study.driver.launch import LaunchOptions, launch

    name = "outage"
    trials = 2  # one at a time (2 CPUs each): the second starts while the server is down
    spec = write_study(tmp_path / "spec", small_data, name=name, max_trials=trials, budget="600s",
                       search='lr = { float = [1e-3, 1e-2], log = true }\n')
    spec.write_text(spec.read_text().replace('scheduler = "asha"', 'scheduler = "none"'))  # every trial runs to its end
    root = tmp_path / "studies"
    study_dir = root / name

    # The server goes down once MLflow holds the first epoch of a trial, and stays down until the study is over.
    stopped = threading.Event()
    quit_waiting = threading.Event()

    def outage() -> None:
        if _wait_for_a_logged_epoch(server.uri, name, quit_waiting):
            server.stop(grace_s=3)
            stopped.set()

    thread = threading.Thread(target=outage, daemon=True)
    thread.start()
    try:
        summary = launch(LaunchOptions(space=str(spec), root=str(root), tracking_uri=server.uri, confirm_top=0, cpus_per_trial=2,
                                       status_every_s=1e9))
    finally:
        quit_waiting.set()
        thread.join(timeout=30)
    assert stopped.is_set(), "the server was not stopped during the study"
    assert server.proc is None

    # Training went on: every trial finished, and each one's record holds all of it.
    counts = summary["counts"]
    assert counts["finished"] == trials and counts["failed"] == 0, counts
    states = read_records(study_dir)
    assert len(states) == trials and len({s.trial_key for s in states}) == trials
    for s in states:
        assert sorted(s.epochs) == [0, 1, 2] and s.final and set(s.artifacts) == ARTIFACTS
        assert s.end == {"status": "FINISHED", "outcome": "finished", "error": None}
        assert all(Path(p).is_file() for p in s.artifacts.values())

    # While the server is down, sync says what is missing, and exit 1.
    capsys.readouterr()
    assert main(["sync", name, "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{trials} of {trials} trial record(s) not checked" in err and f"study sync {name}" in err and "again when the server is up" in err

    # What MLflow holds before the restart (read from its store, the server being down)
    store = _client(f"sqlite:///{server.folder / 'mlflow.db'}")
    exp_id = store.get_experiment_by_name(name).experiment_id
    before = {r.data.tags[TAG_TRIAL_KEY]: r for r in store.search_runs([exp_id]) if TAG_TRIAL_KEY in r.data.tags}
    assert len(before) == 1, "the second trial started while the server was down: it has no run yet"
    values_before = sum(len(store.get_metric_history(r.info.run_id, k)) for r in before.values() for k in r.data.metrics)
    params_before = sum(len(r.data.params) for r in before.values())

    server.start()  # the same port and backend store
    assert main(["sync", name, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    report = out  # the sync sentence: its counts are checked below against what MLflow holds
    assert f"{trials - len(before)} run(s) created" in report

    client = _client(server.uri)
    runs = client.search_runs([exp_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get(TAG_KIND) == "parent"]
    trial_runs = [r for r in runs if r.data.tags.get(TAG_KIND) == "trial"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags[TAG_TRIAL_KEY] for r in trial_runs) == sorted(s.trial_key for s in states), "exactly one run per trial"
    by_key = {s.trial_key: s for s in states}
    values_after = params_after = 0
    for r in trial_runs:
        s = by_key[r.data.tags[TAG_TRIAL_KEY]]
        assert r.data.tags[PARENT] == parents[0].info.run_id
        assert r.info.status == "FINISHED" and r.data.tags[TAG_OUTCOME] == "finished"
        assert r.data.params == s.params
        for key in {k for m in s.epochs.values() for k in m}:
            steps = [m.step for m in client.get_metric_history(r.info.run_id, key)]
            assert sorted(steps) == [0, 1, 2], f"{key}: each epoch exactly once, got steps {steps}"
            assert {m.step: m.value for m in client.get_metric_history(r.info.run_id, key)} == {
                step: m[key] for step, m in s.epochs.items()}
        for k, v in s.final.items():
            assert r.data.metrics[f"final_{k}"] == pytest.approx(v)
        assert {a.path for a in client.list_artifacts(r.info.run_id)} == ARTIFACTS
        values_after += sum(len(client.get_metric_history(r.info.run_id, k)) for k in r.data.metrics)
        params_after += len(r.data.params)
    expected_values = sum(s.metric_count() for s in states)
    assert values_after == expected_values
    assert f"{params_after - params_before} param(s)" in report and f"{values_after - values_before} metric value(s)" in report

    # A second sync finds everything there and sends nothing.
    again = sync_study(study_dir)
    assert again.complete and again.runs_created == 0 and again.sent.sent == 0
    assert again.sent.present == expected_values + params_after + trials * (len(ARTIFACTS) + 1)  # + each end
    assert records_dir(study_dir).is_dir()
