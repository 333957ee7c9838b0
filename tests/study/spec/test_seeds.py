"""The book's recipes as seed trials, expressed in the study's own parameters."""

from __future__ import annotations

from study.spec.seeds import seed_points
from study.spec.space import default_spec, spec_from_dict, to_trial_config


def test_default_space_seeds_are_the_chapters_recipes():
    spec = default_spec()
    base = to_trial_config(spec, {})
    points = dict(seed_points(spec, base))
    assert list(points) == ["baseline", "normalized", "progressive", "progressive-tta", "mixup", "label-smoothing"]
    baseline = to_trial_config(spec, points["baseline"])
    assert (baseline.normalize, baseline.mixup_alpha, baseline.label_smoothing, baseline.tta_n, baseline.schedule) == (
        "none", 0.0, 0.0, 0, "")
    assert baseline.size == base.size and baseline.lr == base.lr
    assert to_trial_config(spec, points["normalized"]).normalize == "dataset"
    prog = to_trial_config(spec, points["progressive"])
    assert prog.schedule.endswith(":fine_tune") and prog.total_epochs == base.epochs
    assert to_trial_config(spec, points["progressive-tta"]).tta_n == 4
    assert to_trial_config(spec, points["mixup"]).mixup_alpha == 0.4
    assert to_trial_config(spec, points["label-smoothing"]).label_smoothing == 0.1


def test_seeds_keep_only_what_the_space_can_express():
    spec = spec_from_dict({"name": "s", "base": {"preset": "tiny"},
                           "search": {"label_smoothing": {"float": [0.0, 0.05]}, "tta_n": {"int": [0, 2]}}}, source="<t>")
    points = seed_points(spec, to_trial_config(spec, {}))
    labels = [label for label, _ in points]
    # 0.1 smoothing is outside the range and tta_n=4 too: those recipes collapse into the baseline
    assert labels == ["baseline"]
    assert points[0][1] == {"label_smoothing": 0.0, "tta_n": 0}
