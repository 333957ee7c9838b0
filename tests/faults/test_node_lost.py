"""Issue 20: a worker node of a Ray cluster lost mid-study, with real processes.

A head (1 CPU, the driver's node) and a worker node (its own raylet) are started with `ray start`
on loopback addresses (127.0.0.2, 127.0.0.3: Ray turns 127.0.0.1 into the machine's address), the
study folder on the disk both see, and `study launch --address` runs trials of the sleeping
stand-in (``paced_trial``: the real reporting path, epochs of a second and a half). Mid-epoch, the
worker node's `ray start`, raylet and every process under it (its trial workers) are SIGKILLed.

1. The head can host the lost trials: they restart there from their last checkpoint, and the
   records, Tune's results, MLflow and Optuna say so, each epoch logged once.
2. The lost node was the only one with GPUs: no node left can host a trial; the study ends on what
   it has (after ``--node-wait``), says which trials could not be placed, and leaves nothing RUNNING.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from study.testing.faults import TRAINABLE_ENV
from study.testing.stand_in import EPOCH_S_ENV
from study.tune.optuna_store import optuna_file
from study.tune.optuna_store import storage as optuna_storage
from tests.study.helpers import EVERY_EPOCH, kill_node, start_ray_head, start_ray_worker, stop_ray_head, write_study

pytestmark = pytest.mark.slow

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
EPOCHS = 6
NODE_ENV = {EPOCH_S_ENV: "1.5"}  # the stand-in's epochs, read on the node where a trial runs


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory):
    """One head for the module (1 CPU, no GPU): each test adds its own worker node and loses it."""
    folder = tmp_path_factory.mktemp("node-lost-head")
    head = start_ray_head(folder, cpus=1, gpus=0, ip=HEAD_IP, env=NODE_ENV)
    yield head[0], folder
    stop_ray_head(head)


def _spec(tmp_path: Path, data: Path, name: str, trials: int) -> Path:
    spec = write_study(tmp_path / "spec", data, name=name, max_trials=trials, budget="300s", base=EVERY_EPOCH,
                       search='lr = { float = [1e-3, 1e-2], log = true }\n')
    text = spec.read_text().replace("epochs = 3", f"epochs = {EPOCHS}").replace('scheduler = "asha"', 'scheduler = "none"')
    spec.write_text(text.replace("confirm_top = 1", "confirm_top = 0"))
    return spec


def _records(study: Path) -> dict[str, list[dict[str, Any]]]:
    """Trial id -> the events of its record (whole lines only)."""
    out = {}
    for path in (study / "records").glob("*.jsonl") if (study / "records").is_dir() else []:
        events = []
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        out[path.stem.rsplit("--", 1)[-1]] = events
    return out


def _journal(study: Path) -> dict[str, dict[str, Any]]:
    path = study / "trials-search.jsonl"
    return {r["trial_id"]: r for r in map(json.loads, path.read_text().splitlines())} if path.exists() else {}


def _launch(args: list[str], log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # as a user has it: study finds the token
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1", TRAINABLE_ENV: "study.testing.stand_in:paced_trial"})
    return subprocess.Popen([str(Path(sys.executable).with_name("study")), "launch", *args], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _kill_when(study: Path, driver: subprocess.Popen, worker: subprocess.Popen, lost: int, epochs: int,
               timeout: float = 180) -> tuple[set[str], float]:
    """SIGKILL the worker node once ``lost`` trials run there with ``epochs`` epochs recorded and no end
    (mid-epoch: the next one is under way); (those trials, the kill's time)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert driver.poll() is None, "the study ended before the node could be lost"
        there = set()
        for trial_id, events in _records(study).items():
            attempts = [e for e in events if e.get("event") == "attempt"]
            done = {e["step"] for e in events if e.get("event") == "epoch"}
            if attempts and attempts[-1]["node_ip"] == WORKER_IP and len(done) >= epochs and not any(e.get("event") == "end" for e in events):
                there.add(trial_id)
        if len(there) >= lost:
            time.sleep(0.5)  # into the next epoch
            kill_node(worker)
            return there, time.time()
        time.sleep(0.2)
    raise AssertionError(f"{lost} trial(s) never ran on the worker node")


def _wait(driver: subprocess.Popen, log: Path, timeout: float = 300) -> str:
    try:
        rc = driver.wait(timeout=timeout)
    finally:
        if driver.poll() is None:
            kill_node(driver)
    text = log.read_text()
    assert rc == 0, text
    return text


def _mlflow_runs(study: Path, name: str) -> tuple[Any, list[Any]]:
    from mlflow.tracking import MlflowClient

    from study.common.folder import read_study, tracking_uri_of

    client = MlflowClient(tracking_uri_of(study, read_study(study)))
    exp = client.get_experiment_by_name(name)
    return client, client.search_runs([exp.experiment_id], max_results=1000)


def test_trials_of_a_lost_worker_node_fail_over_from_their_checkpoints(head, small_data: Path, tmp_path: Path) -> None:
    import optuna

    from dashboards.load import load_study
    from dashboards.panels import timeline_info

    address, _ = head
    worker = start_ray_worker(address, tmp_path, ip=WORKER_IP, cpus=2, env=NODE_ENV)
    try:
        name = "node-lost"
        root = tmp_path / "studies"
        study = root / name
        log = tmp_path / "launch.log"
        driver = _launch(["--space", str(_spec(tmp_path, small_data, name, trials=4)), "--root", str(root), "--address", address,
                          "--cpus-per-trial", "1"], log)
        lost, _ = _kill_when(study, driver, worker, lost=2, epochs=2)  # 3 slots: 1 on the head, 2 on the worker
        out = _wait(driver, log)
    finally:
        kill_node(worker)
    assert "ray: 3 CPUs, 0 GPUs; 3 trial(s) at once" in out

    # Tune's results: every trial finished; the lost ones were restored from a checkpoint, on the head.
    journal = _journal(study)
    assert len(journal) == 4 and all(r["outcome"] == "finished" for r in journal.values()), journal
    for tid in lost:
        res = journal[tid]["result"]
        assert res["iterations_since_restore"] < res["training_iteration"] == EPOCHS, f"{tid} started over: {res}"
        assert res["node_ip"] == HEAD_IP, res["node_ip"]

    # The records: two attempts each, the second on the head from the epochs its checkpoint held.
    records = _records(study)
    summary = json.loads((study / "summary.json").read_text())
    failovers = {f["trial"]: f for f in summary["nodes"]["failovers"]}
    for tid in lost:
        attempts = [e for e in records[tid] if e["event"] == "attempt"]
        assert [a["node_ip"] for a in attempts] == [WORKER_IP, HEAD_IP], attempts
        kept = attempts[1]["from_epoch"]
        assert 1 <= kept < EPOCHS and journal[tid]["result"]["iterations_since_restore"] == EPOCHS - kept
        f = failovers.pop(journal[tid]["name"])
        assert f["moved"] and f["from_node"].startswith(WORKER_IP) and f["to_node"].startswith(HEAD_IP)
        assert f["resumed_after_epoch"] == kept
        assert f"{journal[tid]['name']} (search): from {f['from_node']} to {f['to_node']}, resumed after epoch {kept}" in out
    assert not failovers, f"failovers of trials that were not lost: {failovers}"
    assert summary["nodes"]["not_placed"] == []

    # The terminal has the study's words for it; Ray's own message is in study.log.
    assert "lost its worker" in out and "2 trial(s) failed over to another node" in out
    assert "marked dead" not in out and "(raylet)" not in out
    assert "marked dead" in (study / "study.log").read_text()

    # MLflow: one run per trial, each epoch once, nothing RUNNING.
    client, runs = _mlflow_runs(study, name)
    trial_runs = [r for r in runs if r.data.tags.get("xs.kind") == "trial"]
    assert sorted(r.info.run_name for r in trial_runs) == sorted(r["name"] for r in journal.values())
    for r in runs:
        assert r.info.status == "FINISHED", (r.info.run_name, r.info.status)
    for r in trial_runs:
        steps = [m.step for m in client.get_metric_history(r.info.run_id, "accuracy")]
        assert sorted(steps) == list(range(EPOCHS)), f"{r.info.run_name}: {steps}"

    # Optuna == MLflow: the same trials (by their searched lr), the same values, all COMPLETE.
    ot = optuna.load_study(study_name=name, storage=optuna_storage(optuna_file(study)))
    assert sorted(t.state.name for t in ot.trials) == ["COMPLETE"] * 4
    by_lr = {round(t.params["lr"], 12): t.value for t in ot.trials}
    assert by_lr == {round(float(r.data.params["search.lr"]), 12): r.data.metrics["final_objective"] for r in trial_runs}

    # The dashboard's timeline marks where each lost trial went on.
    marks = timeline_info(load_study(study)).restarts
    assert sorted(m.restart.trial for m in marks) == sorted(journal[t]["name"] for t in lost)


def test_a_node_lost_for_good_ends_the_study_on_what_remains(head, small_data: Path, tmp_path: Path) -> None:
    import optuna

    address, _ = head
    worker = start_ray_worker(address, tmp_path, ip=WORKER_IP, cpus=2, gpus=2, env=NODE_ENV)  # the only GPUs
    try:
        name = "node-gone"
        root = tmp_path / "studies"
        study = root / name
        log = tmp_path / "launch.log"
        driver = _launch(["--space", str(_spec(tmp_path, small_data, name, trials=3)), "--root", str(root), "--address", address,
                          "--gpus-per-trial", "1", "--cpus-per-trial", "1", "--node-wait", "5s"], log)
        lost, killed_at = _kill_when(study, driver, worker, lost=2, epochs=1)
        out = _wait(driver, log)
        ended_after_kill = time.time() - killed_at
    finally:
        kill_node(worker)
    assert "ray: 3 CPUs, 2 GPUs; 2 trial(s) at once" in out

    summary = json.loads((study / "summary.json").read_text())
    record = json.loads((study / "study.json").read_text())
    assert record["phase"] == "done"
    # Not the 300 s budget: Ray's detection of the lost node, --node-wait, the end of the study.
    assert summary["wall_seconds"] < 150 and ended_after_kill < 90, (summary["wall_seconds"], ended_after_kill)

    journal = _journal(study)
    names = {tid: r["name"] for tid, r in journal.items()}
    not_placed = set(summary["nodes"]["not_placed"])
    assert {names[t] for t in lost} <= not_placed, (lost, not_placed)
    for tid, r in journal.items():
        if r["name"] in not_placed:
            assert r["outcome"] == "failed" and r["error"].startswith("could not be placed: no live node has 1 CPU + 1 GPU"), r
    assert summary["counts"]["failed"] == len(not_placed)
    assert f"{len(not_placed)} trial(s) could not be placed" in out and all(n in out for n in not_placed)

    # Nothing left RUNNING: not in MLflow (the lost trials' runs FAILED), not in Optuna.
    _, runs = _mlflow_runs(study, name)
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    failed = {r.info.run_name for r in runs if r.data.tags.get("xs.kind") == "trial" and r.info.status == "FAILED"}
    assert {names[t] for t in lost} <= failed
    ot = optuna.load_study(study_name=name, storage=optuna_storage(optuna_file(study)))
    assert not [t.number for t in ot.trials if t.state.name in ("RUNNING", "WAITING")]
