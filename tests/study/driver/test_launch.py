"""End to end: a tiny real study on the session's Ray, then MLflow and Optuna read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from study.driver.launch import LaunchOptions, launch
from study.tracking import PARENT, TAG_KIND, TAG_OUTCOME
from study.tune.journal import read_outcomes
from study.tune.optuna_store import storage as optuna_storage
from tests.study.helpers import write_study

pytestmark = pytest.mark.slow


def _read_back(uri: str, name: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    assert exp is not None, f"no MLflow experiment {name!r}"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return client, runs


def _check_records(uri: str, summary: dict, name: str) -> None:
    import optuna

    client, runs = _read_back(uri, name)
    parents = [r for r in runs if r.data.tags.get(TAG_KIND) == "parent"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    children = [r for r in runs if r is not parent]
    assert all(r.data.tags.get(PARENT) == parent.info.run_id for r in children)
    assert not [r for r in runs if r.info.status == "RUNNING"], "a run was left RUNNING"

    trials = [r for r in children if r.data.tags.get(TAG_KIND) == "trial"]
    confirmations = [r for r in children if r.data.tags.get(TAG_KIND) == "confirmation"]
    counts = summary["counts"]
    assert len(trials) == sum(counts[k] for k in ("finished", "pruned", "budget", "failed"))
    assert len(trials) >= 2
    for r in trials + confirmations:
        assert r.data.params["model"] == "xresnet18"
        assert "lr" in r.data.params and "mixup_alpha" in r.data.params
        # every epoch has its training loss; the confirmation's runs are validated after their last epoch only
        steps = [m.step for m in client.get_metric_history(r.info.run_id, "train_loss")]
        validated = [m.step for m in client.get_metric_history(r.info.run_id, "accuracy")]
        assert validated == (steps[-1:] if r in confirmations else steps), (r.info.run_name, validated, steps)
        assert steps == sorted(set(steps)), f"duplicate or unordered epoch steps {steps}"
        assert steps == list(range(len(steps))), f"missing epoch steps {steps}"
        outcome = r.data.tags.get(TAG_OUTCOME)
        if r.info.status == "FINISHED":
            assert outcome == "finished"
            assert len(steps) == 3  # every epoch of the tiny preset, logged once
            assert "final_accuracy" in r.data.metrics and "final_infer_ms_per_image" in r.data.metrics
            artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
            assert {"config.json", "epochs.csv", "result.json", "confusion_matrix.png"} <= artifacts
        else:
            assert r.info.status == "KILLED" and outcome in ("pruned", "budget"), (r.info.status, outcome)
    for r in confirmations:  # the configuration it repeats: the baseline, or the search trial's own run
        assert r.data.tags.get("xs.confirms") in {"baseline"} | {t.info.run_id for t in trials}

    # Optuna: the search's states match what happened (PRUNED is not COMPLETE)
    study = optuna.load_study(study_name=name, storage=optuna_storage(summary["optuna_storage"]))
    by_state = {s: [t for t in study.trials if t.state == s] for s in optuna.trial.TrialState}
    ran = [t for t in study.trials if "xs_skipped" not in t.user_attrs]
    assert not by_state[optuna.trial.TrialState.RUNNING], "an Optuna trial was left RUNNING"
    assert len(by_state[optuna.trial.TrialState.COMPLETE]) == counts["finished"]
    assert len(by_state[optuna.trial.TrialState.PRUNED]) == counts["pruned"] + counts["budget"]
    assert len(ran) == len(trials)
    mlflow_finished = sorted(round(r.data.metrics["final_objective"], 6) for r in trials if r.info.status == "FINISHED")
    optuna_complete = sorted(round(t.value, 6) for t in by_state[optuna.trial.TrialState.COMPLETE])
    assert mlflow_finished == optuna_complete


def test_tiny_study_end_to_end(ray_session, small_data: Path, tmp_path: Path, capsys) -> None:
    spec = write_study(tmp_path / "spec", small_data, name="e2e")
    summary = launch(LaunchOptions(space=str(spec), root=str(tmp_path / "studies"), status_every_s=1e9))
    out = capsys.readouterr().out
    assert "seed trials (the book's recipes): baseline" in out
    assert summary["best_trial"] is not None and 0.0 <= summary["best_trial"]["objective"] <= 1.0
    assert summary["confirmation"]["runs"] >= 2
    assert "study ui e2e" in out
    assert (tmp_path / "studies" / "e2e" / "summary.json").exists()
    _check_records(summary["tracking_uri"], summary, "e2e")
    # A SQLite store: the driver sent every trial's run from its record while the study ran, so the
    # closing sync found nothing missing but the parent run's end (the trials sent nothing: study.tracking.follow)
    assert "0 run(s) created, 0 param(s), 0 metric value(s), 0 artifact(s), 1 status(es) sent" in out
    # Ended trials keep no model checkpoint (a demo study kept 2.2 GB of them).
    trial_dirs = [d for d in (tmp_path / "studies" / "e2e" / "ray").glob("*/*") if d.is_dir()]  # ray/<phase>/<trial>
    assert trial_dirs and not [c for d in trial_dirs for c in d.glob("checkpoint_*")]
    # ...and a trial's final report carries none (Tune would copy it into the study folder, only to be removed)
    finished = [o for o in read_outcomes(tmp_path / "studies" / "e2e" / "trials-search.jsonl").values() if o.outcome == "finished"]
    assert finished and all("checkpoint_dir_name" in o.result and o.result["checkpoint_dir_name"] is None for o in finished)


def test_tracking_over_http_to_a_real_mlflow_server(ray_session, small_data: Path, tmp_path: Path, mlflow_server) -> None:
    spec = write_study(tmp_path / "spec", small_data, name="http", max_trials=2)
    summary = launch(LaunchOptions(space=str(spec), root=str(tmp_path / "studies"), tracking_uri=mlflow_server.uri,
                                   confirm_top=0, status_every_s=1e9))
    assert summary["tracking_uri"] == mlflow_server.uri
    client, runs = _read_back(mlflow_server.uri, "http")
    trials = [r for r in runs if r.data.tags.get(TAG_KIND) == "trial"]
    assert len(trials) == 2
    assert {r.info.status for r in trials} <= {"FINISHED", "KILLED"}
    assert any(client.get_metric_history(r.info.run_id, "accuracy") for r in trials)
