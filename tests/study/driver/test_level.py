"""A study's verdict is decided once, at the study's own level, and every place that shows it shows
that one: the terminal, summary.json, the MLflow parent run's metrics and description, the dashboard.

The trials are the stand-in whose mixup gain is borderline (``study.testing.stand_in.borderline_trial``:
paired differences 0.03, 0.05, 0.01 over three seeds — the search's run of the mixup recipe and two
fresh ones; one look, ``max_seeds = 3`` — two-sided p = 0.12), so the verdict is "beats the baseline"
at ``level = 0.8`` and "not shown" at the default 0.95.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from study.driver.launch import LaunchOptions, launch
from study.testing.faults import TRAINABLE_ENV
from tests.study.helpers import write_study

pytestmark = pytest.mark.slow


def test_a_study_at_level_0_8_shows_one_verdict_everywhere(ray_session, small_data: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from mlflow.tracking import MlflowClient

    from dashboards.load import load_study
    from dashboards.panels import answer_info

    monkeypatch.setenv(TRAINABLE_ENV, "study.testing.stand_in:borderline_trial")
    spec = write_study(tmp_path / "spec", small_data, name="level", max_trials=2, budget="240s",
                       extra="[objective]\nlevel = 0.8\n", search="mixup = { choice = [false, true] }\n")
    text = spec.read_text().replace("confirm_seeds = 2", "confirm_seeds = 3\nmax_seeds = 3").replace('scheduler = "asha"', 'scheduler = "none"')
    spec.write_text(text)
    summary = launch(LaunchOptions(space=str(spec), root=str(tmp_path / "studies"), status_every_s=1e9))
    terminal = capsys.readouterr().out

    conf = summary["confirmation"]
    assert conf["level"] == 0.8 and conf["test"] == "paired" and conf["n_pairs"] == 3 and conf["plan"]["pairs"] == [3]
    assert 0.05 < conf["p_value"] < 0.2, conf  # the planted borderline: shown at 80 %, not at 95 %
    assert conf["beats_baseline"] is True and "at the 80 % level" in conf["verdict"] and "it beats the baseline" in conf["verdict"]
    assert conf["difference"] == pytest.approx(0.03, abs=1e-9)

    assert "confirmation: " + conf["verdict"] in terminal  # the terminal prints the phase's sentence
    assert "TEST HOOKS ON" in terminal and summary["test_hooks"].startswith("trainable study.testing.stand_in:borderline_trial")

    client = MlflowClient(summary["tracking_uri"])
    exp = client.get_experiment_by_name("level")
    parent = client.search_runs([exp.experiment_id], filter_string="tags.`xs.kind` = 'parent'")[0]
    m = parent.data.metrics
    assert m["confirmed_beats_baseline"] == 1.0 and m["confirmed_level"] == 0.8
    assert m["confirmed_p_value"] == pytest.approx(conf["p_value"]) and m["confirmed_ci_low"] == pytest.approx(conf["ci_low"])
    assert conf["verdict"] in parent.data.tags["mlflow.note.content"]
    assert parent.data.tags["xs.test_hooks"] == summary["test_hooks"]  # a stand-in's numbers are marked as such
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`xs.kind` != 'parent'")
    assert runs and all(r.data.tags.get("xs.test_hooks") == summary["test_hooks"] for r in runs)

    info = answer_info(load_study(Path(summary["folder"])))
    assert (info.verdict, info.beats_baseline, info.level) == (conf["verdict"], True, 0.8)
    assert info.ci == (pytest.approx(conf["ci_low"]), pytest.approx(conf["ci_high"]))
