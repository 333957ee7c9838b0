"""No secret (tracking token, a secret-named environment variable) in params, tags, artifacts or
the study folder's records (issue 5, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

from study.common.folder import FORMAT
from study.tracking import TAG_TRIAL_KEY, TrackingInfo, TrialRun, check_tracking, default_tracking_uri, start_parent_run
from study.tracking.records import record_end, records_dir
from study.tracking.secrets import scrub
from study.tracking.sync import sync_study

TOKEN = "mlflow-token-5e3f1b2a"
CUSTOM = "s3cr3t-value-of-my-api"


def test_scrub_masks_known_and_secret_named_variables(monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    monkeypatch.setenv("MY_SERVICE_API_KEY", CUSTOM)
    monkeypatch.setenv("SOME_TOKEN_FLAG", "1")  # too short to be a secret: "1" stays everywhere
    assert scrub(f"https://x:{TOKEN}@host/{CUSTOM}?a=1") == "https://x:***@host/***?a=1"


def test_no_secret_reaches_mlflow_or_the_records(tmp_path: Path, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    monkeypatch.setenv("MY_SERVICE_API_KEY", CUSTOM)
    leaky = f"https://user:{TOKEN}@data.example/{CUSTOM}/set"  # a config value that carries both
    study_dir = tmp_path / "leaky"
    study_dir.mkdir()
    uri = default_tracking_uri(study_dir)
    experiment = check_tracking(uri, "leaky", artifact_location=(study_dir / "mlartifacts").resolve().as_uri())
    parent = start_parent_run(uri, experiment, "leaky", {"study_file": leaky, "budget_s": 60}, {"xs.note": leaky},
                              artifacts={"study.toml": f'data = "{leaky}"\n', "space.txt": {"data": leaky}})
    run = TrialRun(TrackingInfo(uri, experiment, parent, "leaky"), "L/t", "t", extra_tags={"xs.confirms": leaky},
                   record_dir=records_dir(study_dir))
    run.log_params({"data": leaky, "lr": 0.01})
    run.log_epochs([{"epoch": 0, "accuracy": 0.5}])
    run.log_final({"accuracy": 0.5}, {"config.json": {"data": leaky}, "epochs.csv": f"epoch,data\n0,{leaky}\n"})
    run.end("FINISHED", "finished")
    record_end(study_dir, "L/t", "FAILED", "failed", f"Traceback ... open({leaky!r})")
    (study_dir / "study.json").write_text(json.dumps({"format": FORMAT, "name": "leaky", "launch_id": "L", "tracking_uri": uri,
                                                      "parent_run_id": parent}))
    assert sync_study(study_dir, say=lambda _: None).complete

    client = MlflowClient(uri)
    runs = client.search_runs([experiment])
    assert len(runs) == 2 and any(TAG_TRIAL_KEY in r.data.tags for r in runs)
    seen = []
    for r in runs:
        seen += list(r.data.params.values()) + list(r.data.tags.values())
        local = Path(client.download_artifacts(r.info.run_id, "", str(tmp_path / r.info.run_id)))
        seen += [p.read_text() for p in local.rglob("*") if p.is_file()]
    seen += [p.read_text() for p in records_dir(study_dir).rglob("*") if p.is_file()]
    assert len(seen) > 10 and any("***" in text for text in seen)
    for text in seen:
        assert TOKEN not in text and CUSTOM not in text, text[:200]
