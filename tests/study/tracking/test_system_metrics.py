"""MLflow's system-metrics monitor on a trial's run: on where there is a GPU (or when asked), stopped before the run closes."""

from __future__ import annotations

from pathlib import Path

import pytest

from study.tracking import TrackingInfo, TrialRun, check_tracking, default_tracking_uri, start_parent_run, system
from study.tracking.records import records_dir


@pytest.mark.parametrize("value,gpu,wanted", [
    ("true", False, True), ("1", False, True), ("false", True, False), ("off", True, False),
    ("", True, True), ("", False, False),
])
def test_wanted_follows_mlflows_switch_else_a_gpu(monkeypatch, value: str, gpu: bool, wanted: bool) -> None:
    pytest.importorskip("psutil")
    monkeypatch.setenv(system.ENABLE_ENV, value)
    monkeypatch.setattr(system, "_gpu_present", lambda: gpu)
    assert system.system_metrics_wanted() is wanted


def test_a_trials_run_gets_system_metrics_and_the_monitor_stops_at_its_end(monkeypatch, tmp_path: Path) -> None:
    pytest.importorskip("psutil")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv(system.ENABLE_ENV, "true")
    monkeypatch.setenv(system.INTERVAL_ENV, "0.2")
    uri = default_tracking_uri(tmp_path)
    exp = check_tracking(uri, "sys", artifact_location=(tmp_path / "mlartifacts").as_uri())
    parent = start_parent_run(uri, exp, "sys", {}, {})
    run = TrialRun(TrackingInfo(uri, exp, parent, "sys"), "L/t1", "t1", record_dir=records_dir(tmp_path))
    monitor = run.system_metrics
    assert monitor is not None
    run.log_epochs([{"epoch": 0, "accuracy": 0.5}])
    import time

    time.sleep(1.0)  # a few samples
    run.end("FINISHED", "finished")
    assert run.system_metrics is None and monitor._process is None  # stopped (and flushed) before the run closed
    client = MlflowClient(uri)
    history = client.get_metric_history(run.run_id, "system/cpu_utilization_percentage")
    assert len(history) >= 1 and all(0 <= m.value <= 100 for m in history)
    assert client.get_run(run.run_id).info.status == "FINISHED"


def test_off_means_no_monitor(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(system.ENABLE_ENV, "false")
    uri = default_tracking_uri(tmp_path)
    exp = check_tracking(uri, "nosys", artifact_location=(tmp_path / "mlartifacts").as_uri())
    run = TrialRun(TrackingInfo(uri, exp, start_parent_run(uri, exp, "nosys", {}, {}), "nosys"), "L/t", "t")
    assert run.run_id and run.system_metrics is None
    run.end("FINISHED", "finished")
