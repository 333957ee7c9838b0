"""A decision in words: what the table, the text and the dashboard say of each verdict."""

from __future__ import annotations

from study.analysis.sequential import SEEDS_CAP, decide, plan_looks
from study.analysis.techniques import DecisionRecord


def _record(diffs: list[float], margin: float = 0.01) -> DecisionRecord:
    plan = plan_looks(3, 8, 0.95, margin=margin)
    d = decide({"arm": diffs, "other": [0.2, 0.21, 0.19]}, plan)["arm"]
    return DecisionRecord.from_dict(DecisionRecord.of(d, plan.level, plan.margin).__dict__)  # through its stored form


def test_a_wide_interval_is_undecided_and_says_how_far_a_verdict_is() -> None:
    near = _record([0.06, 0.03, 0.07])
    assert near.verdict == "undecided" and near.more_seeds and near.label() == f"undecided (about {near.more_seeds} more seeds)"
    assert f"about {near.more_seeds} more seed(s) would likely decide it" in near.sentence()
    far = _record([0.0, 0.02, -0.02])  # +0.000, interval about -0.05 to +0.05: no affordable count decides it
    assert far.verdict == "undecided" and far.more_seeds is None
    assert far.label() == f"undecided (a long shot: over {SEEDS_CAP} seeds)" and far.label(compact=True) == f"undecided (>{SEEDS_CAP} seeds)"
    assert "too wide to call it no difference" in far.sentence() and "-0.04" in far.sentence()


def test_no_difference_shown_names_the_margin_it_was_shown_within() -> None:
    same = _record([0.001, -0.002, 0.0015])
    assert same.verdict == "no difference shown" and same.label() == "no difference shown" and same.margin == 0.01
    assert "within ±0.01" in same.sentence()
    assert _record([0.001, -0.002, 0.0015], margin=0.001).verdict == "undecided"
