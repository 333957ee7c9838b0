"""A trial that ASHA stops while its epoch reports go out in the background ends at once, and its
worker runs the next trial (Tune reuses its actors): no trial fails, no worker is replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from study.driver.launch import LaunchOptions, launch
from study.testing.faults import TRAINABLE_ENV
from tests.study.helpers import write_study

pytestmark = pytest.mark.slow


def test_pruned_trials_end_and_their_workers_run_the_next_trials(ray_session, small_data: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    spec = write_study(tmp_path / "spec", small_data, name="reuse", budget="300s", max_trials=8)
    monkeypatch.setenv(TRAINABLE_ENV, "study.testing.stand_in:sleep_trial")
    summary = launch(LaunchOptions(space=str(spec), root=str(tmp_path / "studies"), confirm_top=0, status_every_s=1e9,
                                   no_mlflow=True))
    counts = summary["counts"]
    assert counts["failed"] == 0 and counts["finished"] + counts["pruned"] == 8, counts
    assert counts["pruned"] >= 1, counts  # ASHA stopped some: the case under test happened
    study = Path(summary["folder"])
    said = capfd.readouterr()
    log = (study / "study.log").read_text() if (study / "study.log").exists() else ""
    assert "re-use actor" not in log + said.out + said.err, "a stopped trial kept its worker from the next trial"
    journal = [json.loads(line) for line in (study / "trials-search.jsonl").read_text().splitlines()]
    workers = {row["result"]["pid"] for row in journal if row["result"].get("pid")}
    assert len(workers) <= 2 + 1, f"{len(workers)} worker processes for 8 trials on 2 slots: workers were replaced"
