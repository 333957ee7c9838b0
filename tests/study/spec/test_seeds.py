"""The book's recipes as seed trials, expressed in the study's own parameters."""

from __future__ import annotations

from study.spec import default_spec, seed_points, spec_from_dict, to_trial_config


def test_default_space_seeds_are_the_chapters_recipes():
    spec = default_spec()
    base = to_trial_config(spec, {})
    points = dict(seed_points(spec, base))
    assert list(points) == ["baseline", "normalized", "progressive", "tta", "mixup", "label-smoothing"]
    baseline = to_trial_config(spec, points["baseline"])
    assert (baseline.normalize, baseline.mixup_alpha, baseline.label_smoothing, baseline.tta_n, baseline.schedule) == (
        "none", 0.0, 0.0, 0, "")
    assert baseline.size == base.size and baseline.lr == base.lr
    assert to_trial_config(spec, points["normalized"]).normalize == "dataset"
    prog = to_trial_config(spec, points["progressive"])
    assert prog.schedule.endswith(":fine_tune") and prog.total_epochs == base.epochs
    tta = to_trial_config(spec, points["tta"])
    assert (tta.tta_n, tta.normalize, tta.schedule) == (4, "none", "")  # TTA alone on the baseline
    assert to_trial_config(spec, points["mixup"]).mixup_alpha == 0.4
    assert to_trial_config(spec, points["label-smoothing"]).label_smoothing == 0.1
    # One factor at a time: each recipe differs from the baseline in its own technique only.
    for label, keys in (("normalized", {"normalize"}), ("tta", {"tta_n", "tta_beta"}), ("mixup", {"mixup", "mixup_alpha"}),
                        ("label-smoothing", {"label_smoothing"})):
        differing = {k for k, v in points[label].items() if points["baseline"].get(k) != v}
        assert differing == keys, (label, differing)


def test_seeds_keep_only_what_the_space_can_express():
    spec = spec_from_dict({"name": "s", "base": {"preset": "tiny"},
                           "search": {"label_smoothing": {"float": [0.0, 0.05]}, "tta_n": {"int": [0, 2]}}}, source="<t>")
    points = seed_points(spec, to_trial_config(spec, {}))
    labels = [label for label, _ in points]
    # 0.1 smoothing is outside the range and tta_n=4 too: those recipes collapse into the baseline
    assert labels == ["baseline"]
    assert points[0][1] == {"label_smoothing": 0.0, "tta_n": 0}


def test_a_recipe_is_labelled_by_what_the_space_lets_it_run():
    """Issue 10: a recipe's label names only what the space let it run."""
    spec = spec_from_dict({"name": "photos", "base": {"preset": "tiny"},
                           "search": {"normalize": {"choice": ["none", "imagenet"]}, "tta_n": {"int": [0, 8]},
                                      "tta_beta": {"float": [0.0, 0.5], "when": {"tta_n": {"min": 1}}}}}, source="<t>")
    points = seed_points(spec, to_trial_config(spec, {}))
    labels = [label for label, _ in points]
    assert labels == ["baseline", "normalized", "tta"]  # no "progressive"
    tta = dict(points)["tta"]
    assert tta == {"normalize": "none", "tta_n": 4, "tta_beta": 0.25}
    config = to_trial_config(spec, tta)
    assert config.schedule == "" and config.tta_n == 4  # what ran: TTA without progressive resizing


def test_a_recipe_without_any_of_its_techniques_is_left_out():
    spec = spec_from_dict({"name": "s", "base": {"preset": "tiny"},
                           "search": {"normalize": {"choice": ["none", "imagenet"]},
                                      "progressive": {"choice": [False, True]}}}, source="<t>")
    labels = [label for label, _ in seed_points(spec, to_trial_config(spec, {}))]
    assert labels == ["baseline", "normalized", "progressive"]


def test_a_searched_size_adds_the_image_size_recipe_at_the_nearest_smaller_size():
    spec = spec_from_dict({"name": "s", "base": {"preset": "tiny", "size": 48},
                           "search": {"size": {"choice": [24, 32, 48, 64]}, "tta_n": {"int": [0, 4]}}}, source="<t>")
    points = dict(seed_points(spec, to_trial_config(spec, {})))
    assert list(points) == ["baseline", "tta", "smaller-images"]
    assert points["smaller-images"] == {**points["baseline"], "size": 32} and points["baseline"]["size"] == 48
    below = spec_from_dict({"name": "s", "base": {"preset": "tiny", "size": 24},
                            "search": {"size": {"choice": [24, 32]}}}, source="<t>")
    assert [label for label, _ in seed_points(below, to_trial_config(below, {}))] == ["baseline"]  # nothing smaller
