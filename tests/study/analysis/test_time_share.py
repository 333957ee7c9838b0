"""The study's training share and where the rest of its slot time went."""

from __future__ import annotations

import pytest

from study.analysis.headline import parent_metrics
from study.analysis.time_share import TimeShare, time_share
from trainable.timing import PARTS, TrialTimes


def test_the_share_is_training_seconds_over_slots_times_wall() -> None:
    trials = [TrialTimes(start=2, train=40, eval=5), TrialTimes(train=30, final=3, report=1), None]  # None: no times recorded
    ts = time_share(trials, slots=2, wall_s=50)
    assert ts.trials == 2 and ts.train_s == 70
    assert ts.share == pytest.approx(70 / 100)
    assert ts.parts["eval"] == 5 and ts.parts["final"] == 3 and set(ts.parts) == set(PARTS)
    assert ts.outside_trials_s == pytest.approx(100 - 81)


def test_no_times_or_no_wall_has_no_share() -> None:
    assert time_share([None, None], slots=2, wall_s=100).share is None
    assert time_share([TrialTimes(train=1)], slots=2, wall_s=0).share is None
    with pytest.raises(ValueError, match="slots=-1"):
        time_share([], slots=-1, wall_s=10)


def test_summary_json_round_trip_and_the_parent_runs_metrics() -> None:
    ts = time_share([TrialTimes(train=80, checkpoint=4)], slots=1, wall_s=100)
    d = ts.to_dict()
    assert d["training_share"] == pytest.approx(0.8) and d["seconds"]["checkpoint"] == 4
    assert TimeShare.from_dict(d) == ts
    assert TimeShare.from_dict({"training_share": 0.5}) is None
    metrics = parent_metrics({"time_share": d})
    assert metrics["training_share"] == pytest.approx(0.8)
    assert metrics["seconds_train_total"] == 80 and metrics["seconds_checkpoint_total"] == 4
    assert "training_share" not in parent_metrics({})
