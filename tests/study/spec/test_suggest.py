"""Optuna's sampling of a study's [search] parameters, alone and through Ray's OptunaSearch."""

from __future__ import annotations

import optuna

from study.spec import default_spec, load_study_file, suggest, to_trial_config
from tests.study.spec.helpers import write
from trainable.config import TrialConfig

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_suggest_respects_conditions_and_gives_valid_configs():
    spec = default_spec()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=10))
    seen = {"mixup": set(), "progressive": set(), "resize_mode": set(), "tta_on": set()}
    for i in range(50):
        trial = study.ask()
        params = suggest(trial, spec)
        assert params == trial.params  # everything sampled is returned, nothing else
        assert ("mixup_alpha" in params) == params["mixup"]
        for k in ("resize_start_scale", "resize_frac", "resize_mode"):
            assert (k in params) == params["progressive"]
        assert ("tta_beta" in params) == (params["tta_n"] >= 1)
        cfg = to_trial_config(spec, params)
        assert isinstance(cfg, TrialConfig)
        assert cfg.seed == spec.seed and cfg.total_epochs == spec.base["epochs"]
        assert cfg.final_size == spec.base["size"]
        assert cfg.mixup_alpha == (params["mixup_alpha"] if params["mixup"] else 0.0)
        if params["progressive"]:
            stages = cfg.stages()
            assert len(stages) == 2 and stages[0].size < stages[1].size == spec.base["size"]
            assert stages[1].mode == params["resize_mode"]
        else:
            assert cfg.schedule == ""
        seen["mixup"].add(params["mixup"])
        seen["progressive"].add(params["progressive"])
        seen["resize_mode"].add(params.get("resize_mode"))
        seen["tta_on"].add(params["tta_n"] > 0)
        study.tell(trial, float(i % 7) / 7)
    assert seen["mixup"] == {False, True} and seen["progressive"] == {False, True}
    assert seen["resize_mode"] >= {"fine_tune", "cont"} and seen["tta_on"] == {False, True}


def test_suggest_orders_by_dependency(tmp_path):
    text = ("[search]\n"
            "tta_beta = { float = [0.0, 0.5], when = { tta_n = { min = 1 } } }\n"  # before what it depends on
            "tta_n = { int = [0, 8] }\n")
    spec = load_study_file(write(tmp_path, text))
    assert [p.name for p in spec.params] == ["tta_n", "tta_beta"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        params = suggest(study.ask(), spec)
        assert ("tta_beta" in params) == (params["tta_n"] >= 1)
        to_trial_config(spec, params)


def test_suggest_drives_rays_optuna_search():
    """The real consumer: Ray's OptunaSearch with a define-by-run space (driver side, no cluster needed)."""
    from ray.tune.search.optuna import OptunaSearch

    spec = default_spec()
    searcher = OptunaSearch(space=lambda trial: suggest(trial, spec), metric="accuracy", mode="max",
                            sampler=optuna.samplers.TPESampler(seed=spec.seed))
    for i in range(4):
        config = searcher.suggest(f"t{i}")
        assert isinstance(to_trial_config(spec, config), TrialConfig)
        assert ("mixup_alpha" in config) == config["mixup"]
        searcher.on_trial_complete(f"t{i}", {"accuracy": 0.1 * i})

