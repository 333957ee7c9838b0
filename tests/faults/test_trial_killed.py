"""Issue 5, fault 1: a trial process SIGKILLed mid-epoch is retried by Ray from its last epoch
checkpoint, ends with the same metrics as an uninterrupted run, and continues the same MLflow run.
That the kill happened is read back from Tune's result and the trial's record (issue 20), not
from the fault's own marker."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from study.driver.launch import LaunchOptions, launch
from study.testing.faults import FAULT_ENV
from study.tracking import TAG_KIND
from study.tracking.records import read_records
from study.tune.monitor import read_outcomes
from tests.study.helpers import EVERY_EPOCH, write_study

pytestmark = pytest.mark.slow


def test_killed_trial_resumes_to_the_same_result_in_the_same_run(ray_session, small_data: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from study.spec import load_study_file, to_trial_config
    from trainable.train import run_trial

    marker = tmp_path / "killed-once"
    spec_file = write_study(tmp_path / "spec", small_data, name="killed", max_trials=1,
                            base=EVERY_EPOCH, search='lr = { float = [1e-3, 1e-2], log = true }\n')
    text = spec_file.read_text().replace('scheduler = "asha"', 'scheduler = "none"')
    spec_file.write_text(text)
    fault = {"kill_after_epoch": 0, "marker": str(marker), "delay_s": 0.2}
    monkeypatch.setenv(FAULT_ENV, json.dumps(fault))  # the test hook, not a product option
    summary = launch(LaunchOptions(space=str(spec_file), root=str(tmp_path / "studies"), confirm_top=0, status_every_s=1e9))
    assert marker.exists(), "the fault was not injected"
    killed_pid = int(marker.read_text())  # written just before the kill was armed: proof of intent only
    assert summary["counts"]["finished"] == 1 and summary["counts"]["failed"] == 0

    # Proof that it fired: Tune restored the trial from a checkpoint (fewer reports since the restore
    # than in all), the record holds two attempts, the first in the process the fault marked, which is
    # gone, the second in another one, from the checkpoint of epoch 1.
    study = tmp_path / "studies" / "killed"
    (outcome,) = read_outcomes(study / "trials-search.jsonl").values()
    res = outcome.result
    assert res["iterations_since_restore"] < res["training_iteration"] == 3, f"the trial was not restored: {res}"
    (state,) = read_records(study)
    pids = [a["pid"] for a in state.attempts]
    assert len(pids) == 2 and pids[0] == killed_pid != pids[1], state.attempts
    assert [a["from_epoch"] for a in state.attempts] == [0, 1]
    assert res["iterations_since_restore"] == 3 - state.attempts[1]["from_epoch"]
    with pytest.raises(ProcessLookupError):
        os.kill(killed_pid, 0)
    (retry,) = summary["nodes"]["retries"]
    assert not retry["moved"] and retry["resumed_after_epoch"] == 1 and summary["nodes"]["failovers"] == []

    client = MlflowClient(summary["tracking_uri"])
    exp = client.get_experiment_by_name("killed")
    trials = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get(TAG_KIND) == "trial"]
    assert len(trials) == 1, "a retried trial must continue its run, not start another"
    run = trials[0]
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "accuracy")
    assert sorted(m.step for m in history) == [0, 1, 2], "each epoch logged exactly once"

    # The same configuration, uninterrupted, in this process: identical metrics (CPU, fixed seed).
    spec = load_study_file(spec_file)
    params = summary["best_trial"]["params"]
    cfg = to_trial_config(spec, params).replace(threads=1, device="cpu")
    clean = run_trial(cfg)
    logged = {m.step: m.value for m in history}
    assert [logged[e] for e in range(3)] == pytest.approx([h["accuracy"] for h in clean.history], abs=1e-6)
    losses = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "train_loss")}
    assert [losses[e] for e in range(3)] == pytest.approx([h["train_loss"] for h in clean.history], rel=1e-5)
    assert run.data.metrics["final_accuracy"] == pytest.approx(clean.accuracy, abs=1e-6)
