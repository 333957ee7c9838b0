"""Issue 20: a team's tracking server — `mlflow server` backed by a real PostgreSQL (a cluster of the
test's own: initdb in a temporary folder, pg_ctl, stopped at the end), with README's pool sizes.

64 trials log at once through the trials' own path (``study.testing.tracking_load``: a process
each, a TrialRun with its sender thread, MLflow's system-metrics monitor), then an independent client
reads everything back: one run per trial, every value once, no call failed. A study logged to the
server has its parent run's answer there, and ``study sync`` and ``study ui`` work against it.
The same load on MLflow's default SQLite backend is measured by ``bench/tracking_load.py`` (failed
calls, values missing until the study's closing sync: README says to use PostgreSQL on a cluster);
it takes minutes on 2 cores, more than CI can give it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from study.testing.servers import POOL_ENV, MlflowServer, PostgresCluster
from study.testing.tracking_load import run_load

pytestmark = pytest.mark.slow

TRIALS = 64


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory):
    """A real PostgreSQL cluster and an `mlflow server` on it (2 workers, README's pool sizes), for the module."""
    pg = PostgresCluster()
    server = MlflowServer(tmp_path_factory.mktemp("pg-server"), backend=pg.uri, workers=2, env=POOL_ENV)
    try:
        pg.start()
        server.start(timeout=120)
        yield server
    finally:
        server.stop()
        pg.stop()


def test_64_trials_at_once_on_a_postgresql_backed_server_lose_nothing(postgres_server: MlflowServer, tmp_path: Path) -> None:
    report = run_load(postgres_server.uri, tmp_path, backend="postgresql", trials=TRIALS, epochs=3, every_s=2.0, study="load-pg")
    print(report.line())
    assert report.runs == TRIALS and report.duplicated == (), report.line()
    assert report.values_found == report.values_expected, report.missing
    assert report.not_finished == 0 and report.failures == 0, (report.line(), report.errors)


def test_a_study_on_the_postgresql_backed_server_syncs_and_shows_its_answer(ray_session, postgres_server: MlflowServer, small_data: Path,
                                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from mlflow.tracking import MlflowClient

    from study.cli import main
    from study.driver.launch import LaunchOptions, launch
    from study.testing.faults import TRAINABLE_ENV
    from study.tracking import TAG_KIND
    from study.tracking.display import DASHBOARD_ARTIFACT, NOTE_TAG
    from tests.study.helpers import write_study

    monkeypatch.setenv(TRAINABLE_ENV, "study.testing.stand_in:sleep_trial")
    name = "on-postgres"
    spec = write_study(tmp_path / "spec", small_data, name=name, max_trials=3)
    root = tmp_path / "studies"
    summary = launch(LaunchOptions(space=str(spec), root=str(root), tracking_uri=postgres_server.uri, confirm_top=0, status_every_s=1e9))
    assert summary["counts"]["finished"] + summary["counts"]["pruned"] == 3

    client = MlflowClient(postgres_server.uri)
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], max_results=100)
    (parent,) = [r for r in runs if r.data.tags.get(TAG_KIND) == "parent"]
    trials = [r for r in runs if r.data.tags.get(TAG_KIND) == "trial"]
    assert len(trials) == 3 and not [r for r in runs if r.info.status == "RUNNING"]
    assert parent.info.status == "FINISHED" and summary["best_trial"]["name"] in parent.data.tags[NOTE_TAG]
    assert DASHBOARD_ARTIFACT in [a.path for a in client.list_artifacts(parent.info.run_id)]
    assert parent.data.metrics, "the parent run's headline metrics"

    capsys.readouterr()
    assert main(["sync", name, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "0 run(s) created, 0 param(s), 0 metric value(s), 0 artifact(s)" in out, out

    assert main(["ui", name, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"{postgres_server.uri}/#/experiments/{exp.experiment_id}/runs/{parent.info.run_id}" in out, out
