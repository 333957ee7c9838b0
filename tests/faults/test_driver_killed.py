"""Issue 5, fault 2: the driver of a study is stopped (SIGINT) or killed (SIGKILL) mid-study, and
``study resume`` continues it: finished trials kept, interrupted ones resumed from their
checkpoints, no Optuna trial left RUNNING, the seed recipes not run twice, the budget counted
from what was already spent, the same MLflow parent run, each epoch step logged exactly once.

The driver is a real ``study launch`` process with its own Ray cluster; the signals are real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from study.common.folder import tracking_uri_of
from study.driver.tuner import KEEP_CHECKPOINTS
from study.tune.optuna_store import optuna_file
from study.tune.optuna_store import storage as optuna_storage
from tests.study.helpers import EVERY_EPOCH, write_study

pytestmark = pytest.mark.slow

STUDY = [str(Path(sys.executable).with_name("study"))]


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def _start(args: list[str], log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(STUDY + args, stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)


def _stop_group(proc: subprocess.Popen) -> None:
    """Whatever the killed driver's Ray left behind (agents, workers) goes too."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _journal(study: Path) -> dict[str, dict[str, Any]]:
    path = study / "trials-search.jsonl"
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            out[rec["trial_id"]] = rec
    return out


def _saved_by_tune(study: Path) -> set[str]:
    """The trials that Tune's newest experiment snapshot knows with a reported checkpoint (what a restore can resume)."""
    states = sorted((study / "ray" / "search").glob("experiment_state-*.json"))
    if not states:
        return set()
    try:
        data = json.loads(states[-1].read_text())
    except (OSError, ValueError):  # being replaced: the next poll reads it
        return set()
    saved = set()
    for trial, meta in data.get("trial_data", []):
        trial, meta = (json.loads(x) if isinstance(x, str) else x for x in (trial, meta))
        if (meta.get("last_result") or {}).get("training_iteration"):
            saved.add(trial["trial_id"])
    return saved


def _wait_mid_study(study: Path, proc: subprocess.Popen, timeout: float = 240.0, snapshot: bool = True) -> set[str]:
    """Until a trial has finished and another is running with an early epoch checkpoint (work left); those."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the study ended before it could be interrupted"
        done = _journal(study)
        # A trial's report blocks until the driver has taken the previous one, so once checkpoint_000001
        # is on disk the driver has taken checkpoint_000000: the trial has a checkpoint Tune knows of.
        # checkpoint_000000 on disk alone is not enough: a stop that comes before the driver took it
        # restarts the trial in Tune's eyes (the trainable still finds its checkpoint in its scratch folder,
        # so iterations_since_restore counts every epoch; CI, 2026-12-05).
        # A SIGKILL keeps only what Tune's experiment snapshot holds, and Tune snapshots now and then, not
        # at every report (study.driver.tuner.KEEP_CHECKPOINTS): a trial started since the last snapshot
        # is unknown to the restore, and the search starts another in its place (CI, 2026-12-05), so the
        # SIGKILL case waits for a trial the snapshot has. A graceful stop (SIGINT) saves what the driver
        # has recorded at its end. Tune goes on taking reports while it stops, and a tiny epoch takes well
        # under a second: with 3 epochs the ones left were done before the stop ended (CI, 2026-12-04),
        # so the SIGINT case trains 8 epochs.
        running = {p.parent.name for p in (study / "ray" / "search").glob("*/checkpoint_000001")} - set(done)
        if snapshot:
            running &= _saved_by_tune(study)
        if done and running:
            return running
        time.sleep(0.3)
    raise AssertionError("no trial reached its first checkpoint in time")


def _spec(tmp_path: Path, data: Path, name: str, confirm_top: int, epochs: int) -> Path:
    spec = write_study(tmp_path / "spec", data, name=name, max_trials=4, budget="400s", base=EVERY_EPOCH)
    text = spec.read_text().replace("confirm_top = 1", f"confirm_top = {confirm_top}").replace("confirm_seeds = 2", "confirm_seeds = 1")
    text = text.replace("epochs = 3", f"epochs = {epochs}")
    spec.write_text(text)
    return spec


def _check_records(study: Path, name: str, interrupted: set[str], first_session_s: float, epochs: int) -> dict[str, Any]:
    import optuna
    from mlflow.tracking import MlflowClient

    record = json.loads((study / "study.json").read_text())
    summary = json.loads((study / "summary.json").read_text())
    assert record["phase"] == "done" and record["sessions"] == 2

    # Budget: the time spent before the interruption counts; the study did not start over.
    budget = json.loads((study / "budget.json").read_text())
    assert budget["spent_before"] >= first_session_s - 3
    assert summary["wall_seconds"] >= budget["spent_before"]

    # Tune journal: every search trial ended once; the interrupted ones continued from a checkpoint.
    journal = _journal(study)
    assert len(journal) == 4, f"max_trials = 4, got {sorted(journal)}"
    for tid in interrupted:
        res = journal[tid]["result"]
        assert res["iterations_since_restore"] < res["training_iteration"], f"trial {tid} started over instead of resuming"

    # Disk: Tune keeps at most KEEP_CHECKPOINTS checkpoints per trial (CheckpointConfig(num_to_keep)).
    for trial_dir in (study / "ray" / "search").iterdir():
        if trial_dir.is_dir():
            assert len(list(trial_dir.glob("checkpoint_*"))) <= KEEP_CHECKPOINTS, trial_dir

    # Optuna: nothing RUNNING; each of the book's recipes (enqueued seed points) ran to an end exactly
    # once. A trial the killed driver had just asked for (after the searcher's last save) is lost
    # with it: FAIL, and its recipe runs again.
    ot = optuna.load_study(study_name=name, storage=optuna_storage(optuna_file(study)))
    states = [t.state.name for t in ot.trials]
    assert "RUNNING" not in states and "WAITING" not in states, states
    ended = [t for t in ot.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(ended) == 4, states
    seeds = [json.dumps(t.system_attrs["fixed_params"], sort_keys=True) for t in ended if "fixed_params" in t.system_attrs]
    enqueued = {json.dumps(t.system_attrs["fixed_params"], sort_keys=True) for t in ot.trials if "fixed_params" in t.system_attrs}
    assert len(seeds) == len(set(seeds)), "a recipe ran twice"
    assert set(seeds) == enqueued, "a recipe never ran to its end"
    lost = [t for t in ot.trials if t.state.name == "FAIL"]

    # MLflow: one parent run (the same one), one run per trial, each epoch step once, nothing RUNNING.
    client = MlflowClient(tracking_uri_of(study, record))  # the study folder's own store
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("xs.kind") == "parent"]
    assert [p.info.run_id for p in parents] == [record["parent_run_id"]]
    assert parents[0].info.status == "FINISHED"
    trials = [r for r in runs if r.data.tags.get("xs.kind") == "trial"]
    keys = [r.data.tags["xs.trial_key"] for r in trials]
    assert len(keys) == len(set(keys)), f"a trial has two runs: {keys}"
    tune_ids = {r.data.tags["xs.trial_key"].split("/")[-1] for r in trials} & set(journal)
    assert tune_ids == set(journal), "every trial of the study has its run"
    extra = [r for r in trials if r.data.tags["xs.trial_key"].split("/")[-1] not in journal]
    assert len(extra) <= len(lost), "a run beyond the trials lost with the driver"
    for r in extra:  # lost with the driver: closed as such, not left RUNNING
        assert r.info.status == "KILLED" and r.data.tags.get("xs.outcome") == "interrupted"
    for r in runs:
        assert r.info.status != "RUNNING", r.info.run_name
    for r in trials:
        steps = [m.step for m in client.get_metric_history(r.info.run_id, "accuracy")]
        assert len(steps) == len(set(steps)), f"{r.info.run_name}: epoch steps logged twice: {steps}"
        if r.data.tags.get("xs.outcome") == "finished":
            assert sorted(steps) == list(range(epochs))
    return summary


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_driver_stopped_mid_study_then_resumed(sig: signal.Signals, small_data: Path, tmp_path: Path) -> None:
    name = f"driver-{sig.name.lower()}"
    epochs = 8 if sig == signal.SIGINT else 3
    spec = _spec(tmp_path, small_data, name, confirm_top=1 if sig == signal.SIGINT else 0, epochs=epochs)
    root = tmp_path / "studies"
    study = root / name
    t0 = time.time()
    first = _start(["launch", "--space", str(spec), "--root", str(root)], tmp_path / "launch.log")
    try:
        interrupted = _wait_mid_study(study, first, snapshot=sig == signal.SIGKILL)
        os.kill(first.pid, sig)
        first_session_s = time.time() - t0 - 15  # less the start-up before the study's clock began (generous)
        rc = first.wait(timeout=120)
    finally:
        _stop_group(first)
    log = (tmp_path / "launch.log").read_text()
    if sig == signal.SIGINT:
        assert rc == 130, log
        assert f"resume with:  study resume {name} --root {root}" in log
        assert not (study / "summary.json").exists()
    else:
        assert rc == -signal.SIGKILL
    interrupted -= set(_journal(study))  # a trial whose last report came in while the study stopped has ended
    assert interrupted, "no trial was left mid-epoch by the interruption"

    again = _start(["resume", name, "--root", str(root)], tmp_path / "resume.log")
    try:
        rc = again.wait(timeout=400)
    finally:
        _stop_group(again)
    log = (tmp_path / "resume.log").read_text()
    assert rc == 0, log
    assert f"resuming {name!r}" in log and "continuing the interrupted experiment" in log
    summary = _check_records(study, name, interrupted, first_session_s, epochs)
    if sig == signal.SIGINT:
        assert summary["confirmation"].get("finished", 0) >= 1, summary["confirmation"]

    # Resuming a finished study is a usage error that changes nothing.
    done = subprocess.run(STUDY + ["resume", name, "--root", str(root)], capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 2 and "already done" in done.stderr
