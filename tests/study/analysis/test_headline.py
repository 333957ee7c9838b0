"""The parent run's metrics and description, from summary.json."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from study.analysis.headline import parent_metrics, parent_note

SUMMARY = {
    "best_trial": {"name": "train_trial_b", "objective": 0.70, "changes_from_base": {"mixup_alpha": 0.4}},
    "baseline_trial": {"name": "train_trial_a", "objective": 0.60},
    "counts": {"finished": 5, "pruned": 2, "budget": 1, "failed": 0},
    "skipped_for_budget": 3,
    "wall_seconds": 400.0,
    "confirmation": {"configs": {"baseline": {"values": [0.58, 0.60, 0.62]}, "train_trial_b": {"values": [0.64, 0.66, 0.68]}},
                     "verdict": "train_trial_b beats the baseline", "best": "train_trial_b", "beats_baseline": True,
                     "difference": 0.06, "noise": math.sqrt(0.02**2 / 3 * 2), "test": "welch", "level": 0.95,
                     "p_value": 0.01, "ci_low": 0.02, "ci_high": 0.10},
}


def test_metrics() -> None:
    m = parent_metrics(SUMMARY)
    assert m["best_objective"] == 0.70 and m["baseline_objective"] == 0.60 and m["search_margin"] == pytest.approx(0.10)
    assert m["confirmed_best_mean"] == pytest.approx(0.66) and m["confirmed_baseline_mean"] == pytest.approx(0.60)
    assert m["confirmed_difference"] == pytest.approx(0.06)
    assert m["confirmed_noise"] == pytest.approx(math.sqrt(0.02**2 / 3 * 2))
    assert m["winners_curse"] == pytest.approx(0.04) and m["confirmed_p_value"] == 0.01
    assert (m["trials_finished"], m["trials_pruned"], m["trials_not_started"]) == (5, 2, 3)
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert parent_metrics({}) == {}  # nothing invented for a study without numbers


def test_note() -> None:
    note = parent_note(SUMMARY, Path("/s/demo/dashboard.html"), study="demo")
    assert note.startswith("## Study `demo`")
    assert "`train_trial_b`, objective **70.00%**" in note and "`mixup_alpha` = `0.4`" in note
    assert "+10.00 pp for the best" in note and "train_trial_b beats the baseline" in note
    assert "`dashboard.html` artifact" in note and "/s/demo/dashboard.html" in note
    assert "has not finished" in parent_note(None, None, study="demo", state="interrupted")
