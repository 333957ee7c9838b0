"""The budget's deadline reaches trials in the middle of an epoch, not at their next report.

Tune's stopper acts on a trial only when the trial reports (the end of an epoch: minutes on a
real data set), so a study whose trials were in a long epoch at the deadline overran it by up to
an epoch (seen on a real H100: 10 s over a 90 s budget, with 4 trials starting up). Trials now stop
themselves at their phase's deadline, read from the study's clock.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from study.driver.launch import LaunchOptions, launch
from study.testing.faults import TRAINABLE_ENV
from study.testing.stand_in import LONG_WORK_S
from study.tracking import TAG_KIND, TAG_OUTCOME
from tests.study.helpers import write_study

pytestmark = pytest.mark.slow


def test_trials_in_a_long_epoch_stop_at_the_deadline(ray_session, small_data: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    budget_s = 20
    spec = write_study(tmp_path / "spec", small_data, name="deadline", budget=f"{budget_s}s", max_trials=2)
    started = time.monotonic()
    monkeypatch.setenv(TRAINABLE_ENV, "study.testing.stand_in:long_trial")
    summary = launch(LaunchOptions(space=str(spec), root=str(tmp_path / "studies"), confirm_top=0, status_every_s=1e9))
    wall = time.monotonic() - started
    epoch_s = LONG_WORK_S / 3  # the tiny study's 3 epochs
    # Both trials were in their first epoch (epoch_s long) at the deadline; they ended there.
    assert summary["counts"]["budget"] == 2 and summary["counts"]["finished"] == 0, summary["counts"]
    assert wall < budget_s + 30 < epoch_s, f"launch took {wall:.0f} s for a {budget_s} s budget"
    assert summary["wall_seconds"] < budget_s + 10

    client = MlflowClient(summary["tracking_uri"])
    exp = client.get_experiment_by_name("deadline")
    trials = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get(TAG_KIND) == "trial"]
    assert len(trials) == 2
    for r in trials:
        assert (r.info.status, r.data.tags.get(TAG_OUTCOME)) == ("KILLED", "budget")
        assert client.get_metric_history(r.info.run_id, "accuracy") == []  # no epoch was done, none made up
