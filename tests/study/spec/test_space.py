"""The study file and search space: the built-in space, sampling, translation, and every bad file."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import optuna
import pytest

from study.common.errors import UsageError
from study.spec.space import (
    StudyFileError,
    StudySpec,
    apply_overrides,
    default_spec,
    describe,
    load_study_file,
    parse_duration,
    resize_schedule,
    spec_from_dict,
    suggest,
    to_trial_config,
)
from trainable.config import TrialConfig
from trainable.presets import PRESETS

optuna.logging.set_verbosity(optuna.logging.WARNING)

DEFAULT_PARAMS = ["lr", "normalize", "mixup", "mixup_alpha", "label_smoothing", "progressive", "resize_start_scale",
                  "resize_frac", "resize_mode", "size", "tta_n", "tta_beta"]

GOOD = """\
name = "t"
seed = 1
[base]
preset = "cpu-baseline"
epochs = 5
[budget]
time = "10m"
[search]
lr = { float = [1e-3, 1e-2], log = true }
mixup = { choice = [false, true] }
mixup_alpha = { float = [0.1, 1.0], log = true, when = { mixup = true } }
progressive = { choice = [false, true] }
resize_start_scale = { float = [0.5, 0.8], when = { progressive = true } }
size = { choice = [48, 64] }
tta_n = { int = [0, 8] }
tta_beta = { float = [0.0, 0.5], when = { tta_n = { min = 1 } } }
"""


def write(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the built-in space -----------------------------------------------------------------------


def test_default_spec_has_the_chapter():
    spec = default_spec()
    assert isinstance(spec, StudySpec)
    assert spec.name == "chapter7" and spec.seed == 0
    assert [p.name for p in spec.params] == DEFAULT_PARAMS  # file order is already dependency order
    assert spec.budget.time_s == 420.0  # the README demo: 7 minutes
    assert (spec.budget.confirm_share, spec.budget.confirm_top, spec.budget.confirm_seeds) == (0.35, 1, 2)
    assert [(o.metric, o.direction) for o in spec.objectives] == [("accuracy", "maximize")]
    assert spec.early_stopping.scheduler == "asha" and spec.early_stopping.time_attr == "epoch"
    # the preset is expanded into base, typed
    assert spec.base["data"] == "embedded" and spec.base["model"] == "xresnet18" and spec.base["epochs"] == 3
    overridden = ("epochs", "presize", "size", "batch_size")  # set in default_space.toml over the preset
    assert spec.base.items() >= {k: v for k, v in PRESETS["cpu-baseline"].items() if k not in overridden}.items()
    assert (spec.base["presize"], spec.base["size"], spec.base["batch_size"]) == (64, 32, 32)
    assert spec.source.endswith("default_space.toml")
    assert Path(spec.source).is_file()
    tta_beta = spec.param("tta_beta")
    assert tta_beta is not None and tta_beta.when[0].name == "tta_n"


def test_default_space_is_package_data():
    text = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\n"study.spec" = ["*.toml"]' in text


def test_describe_one_line_per_param():
    spec = default_spec()
    text = describe(spec)
    lines = text.splitlines()
    for name in DEFAULT_PARAMS:
        assert sum(line.split()[0] == name for line in lines if line.startswith("    ")) == 1
    assert "7m" in text and "maximize accuracy" in text and "when mixup = true" in text


# --- sampling ---------------------------------------------------------------------------------


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
        assert cfg.final_size == params["size"]
        assert cfg.mixup_alpha == (params["mixup_alpha"] if params["mixup"] else 0.0)
        if params["progressive"]:
            stages = cfg.stages()
            assert len(stages) == 2 and stages[0].size < stages[1].size == params["size"]
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


# --- translation ------------------------------------------------------------------------------


@pytest.mark.parametrize("size,epochs,lr,scale,frac,mode,expected", [
    (64, 5, 3e-3, 0.5, 0.5, "fine_tune", "32x3@0.003,64x1@0.001:fine_tune"),  # n1 = round(2.5) = 3 (half up)
    (64, 5, 3e-3, 0.8, 0.8, "fine_tune", "48x4@0.003,64x0@0.001:fine_tune"),  # fine_tune with 0 extra epochs
    (48, 5, 3e-3, 0.5, 0.3, "cont", "24x2@0.003,48x3:cont"),
    (224, 10, 3e-3, 0.57, 0.4, "cycle", "128x4@0.003,224x6@0.001"),
    (64, 5, 3e-3, 0.5, 0.01, "cont", "32x1@0.003,64x4:cont"),  # n1 clamped up to 1
    (64, 5, 3e-3, 0.5, 0.99, "cont", "32x4@0.003,64x1:cont"),  # n1 clamped down to epochs - 1
    (24, 2, 1e-2, 0.3, 0.5, "fine_tune", "16x1@0.01,24x0@0.00333333:fine_tune"),  # start size at least 16
])
def test_resize_schedule_strings(size, epochs, lr, scale, frac, mode, expected):
    text = resize_schedule(size, epochs, lr, start_scale=scale, frac=frac, mode=mode)
    assert text == expected
    cfg = TrialConfig.from_dict({"schedule": text, "presize": 2 * size, "epochs": epochs, "size": size})
    assert cfg.total_epochs == epochs  # every mode keeps the base epoch count


@pytest.mark.parametrize("kwargs,needle", [
    (dict(size=64, epochs=1, lr=3e-3, start_scale=0.5, frac=0.5, mode="cont"), "epochs >= 2"),
    (dict(size=24, epochs=5, lr=3e-3, start_scale=0.9, frac=0.5, mode="cont"), "start size of 24 px"),
    (dict(size=64, epochs=5, lr=3e-3, start_scale=0.5, frac=0.5, mode="sideways"), "resize_mode"),
    (dict(size=64, epochs=5, lr=3e-3, start_scale=1.5, frac=0.5, mode="cont"), "(0, 1)"),
])
def test_resize_schedule_rejects(kwargs, needle):
    with pytest.raises(UsageError, match=None) as info:
        resize_schedule(**kwargs)
    assert needle in str(info.value)


def test_to_trial_config_translates_virtual_params():
    spec = default_spec()
    off = to_trial_config(spec, {"mixup": False, "progressive": False, "size": 64})
    assert off.mixup_alpha == 0.0 and off.schedule == "" and off.size == 64
    on = to_trial_config(spec, {"mixup": True, "progressive": True, "resize_start_scale": 0.5, "resize_frac": 0.5,
                                "resize_mode": "cont", "size": 64, "lr": 0.004}, seed=7)
    assert on.mixup_alpha == 0.4  # no mixup_alpha sampled: fastai's default
    # 3 base epochs, frac 0.5 -> round half up -> 2 at 32 px, 1 at 64 px
    assert on.schedule == "32x2@0.004,64x1:cont" and on.seed == 7 and on.lr == 0.004
    # progressive on with the resize parameters left out uses their defaults (scale 0.5, frac 0.5, fine_tune)
    assert to_trial_config(spec, {"progressive": True}).schedule == "16x2@0.003,32x0@0.001:fine_tune"
    # resize parameters alone imply progressive resizing
    assert to_trial_config(spec, {"resize_mode": "cont"}).schedule == "16x2@0.003,32x1:cont"


@pytest.mark.parametrize("params,needle", [
    ({"lr": 20.0}, "lr must be in (0, 10)"),
    ({"size": 16, "progressive": True, "resize_start_scale": 0.9}, "start size"),
    ({"mixup": "yes"}, "mixup must be true or false"),
    ({"learning_rate": 0.1}, "unknown parameter"),
    ({"lr": 10**400}, "plain value"),
    ({"epochs": 1, "progressive": True}, "epochs >= 2"),
])
def test_to_trial_config_errors_are_usage_errors(params, needle):
    with pytest.raises(UsageError) as info:
        to_trial_config(default_spec(), params)
    assert needle in str(info.value)


# --- bad study files --------------------------------------------------------------------------

SEARCH_LR = 'lr = { float = [1e-3, 1e-2], log = true }\n'

# (text of the file, the key the message must name, another fragment it must contain)
BAD_FILES = [
    ("name = 'x'\n[serach]\n" + SEARCH_LR, "serach", "did you mean 'search'"),
    ("[budget]\ntme = '5m'\n[search]\n" + SEARCH_LR, "[budget] tme", "did you mean 'time'"),
    ("[search]\nlrr = { float = [1e-3, 1e-2] }\n", "[search] lrr", "did you mean 'lr'"),
    ("[search]\nlr = { float = [1e-3, 1e-2], lgo = true }\n", "lr.lgo", "did you mean 'log'"),
    ("[search]\nlr = 0.01\n", "[search] lr", "put it in [base]"),
    ("[search]\nlr = { float = [1e-2, 1e-2] }\n", "[search] lr", "holds one value"),
    ("[search]\nlr = { float = [1e-2, 1e-3] }\n", "[search] lr", "inverted"),
    ("[search]\nlr = { float = [] }\n", "[search] lr", "two numbers"),
    ("[search]\nlr = { float = [0.0, 1e-2], log = true }\n", "[search] lr", "log scale needs lo > 0"),
    ("[search]\ntta_n = { int = [0, 8.5] }\n", "[search] tta_n", "int bounds must be integers"),
    ("[search]\ntta_n = { float = [0, 8] }\n", "[search] tta_n", "integer setting"),
    ("[search]\nnormalize = { choice = [] }\n", "[search] normalize", "non-empty"),
    ("[search]\nnormalize = { choice = ['none', 1] }\n", "[search] normalize", "mixes types"),
    ("[search]\nnormalize = { choice = ['none', 'none'] }\n", "[search] normalize", "twice"),
    ("[search]\nnormalize = { choice = ['none', 'batch'] }\n", "[search] normalize", "'batch'"),
    ("[search]\nflip = { choice = [0, 1] }\n", "[search] flip", "true/false setting"),
    ("[search]\nlr = { float = [1e-3, 20] }\n", "[search] lr", "lr must be in (0, 10)"),
    ("[search]\nlabel_noise = { int = [0, 5] }\n", "[search] label_noise", "label_noise must be one of"),
    ("[search]\nsize = { choice = [48, 256] }\n", "[search] size", "more than twice presize"),
    ("[search]\nlr = { float = [1e-3, 1e-2], log = true, step = 1e-3 }\n", "lr.step", "cannot be combined with log"),
    ("[search]\nlr = { float = [1e-3, 1e-2], step = 4e-3 }\n", "lr.step", "does not divide"),
    ("[search]\nseed = { int = [0, 9] }\n", "[search] seed", "cannot be searched"),
    ("[search]\nschedule = { choice = ['32x5'] }\n", "[search] schedule", "search progressive"),
    ("[search]\ndevice = { choice = ['cpu', 'cuda'] }\n", "[search] device", "cannot be searched"),
    ("[search]\nmixup_alpha = { float = [0.1, 1.0], when = { mixupp = true } }\n", "mixup_alpha.when",
     "not searched"),
    ("[search]\nmixup = { choice = [false, true] }\nmixup_alpha = { float = [0.1, 1.0], when = { mixupp = true } }\n",
     "mixup_alpha.when", "did you mean 'mixup'"),
    ("[search]\nlr = { float = [1e-3, 1e-2], when = { lr = { min = 0.005 } } }\n", "lr.when", "itself"),
    ("[search]\nmixup = { choice = [false, true], when = { progressive = true } }\n"
     "progressive = { choice = [false, true], when = { mixup = true } }\n", ".when", "cycle"),
    ("[search]\nmixup = { choice = [false, true] }\nmixup_alpha = { float = [0.1, 1.0], when = { mixup = 'yes' } }\n",
     "mixup_alpha.when.mixup", "not a value of mixup"),
    ("[search]\nmixup = { choice = [false, true] }\nmixup_alpha = { float = [0.1, 1.0], when = { mixup = 1 } }\n",
     "mixup_alpha.when.mixup", "not a value of mixup"),
    ("[search]\ntta_n = { int = [0, 8] }\ntta_beta = { float = [0.0, 0.5], when = { tta_n = { min = 9 } } }\n",
     "tta_beta.when.tta_n", "never holds"),
    ("[search]\ntta_n = { int = [0, 8] }\ntta_beta = { float = [0.0, 0.5], when = { tta_n = 12 } }\n",
     "tta_beta.when.tta_n", "not a value of tta_n"),
    ("[search]\ntta_n = { int = [0, 8] }\ntta_beta = { float = [0.0, 0.5], when = { tta_n = { least = 1 } } }\n",
     "tta_beta.when.tta_n", "unknown key"),
    ("[search]\nprogressive = { choice = [false, true] }\nsize = { choice = [24, 32] }\n"
     "resize_start_scale = { float = [0.5, 0.95], when = { progressive = true } }\n", "resize_start_scale",
     "not smaller than the final size"),
    ("[search]\nresize_frac = { float = [0.0, 0.5] }\n", "[search] resize_frac", "(0, 1)"),
    ("[search]\nresize_mode = { choice = ['fine_tune', 'sideways'] }\n", "[search] resize_mode", "unknown mode"),
    ("[base]\nepochs = 1\n[search]\nprogressive = { choice = [false, true] }\n", "progressive = true",
     "epochs >= 2"),
    ("[base]\nschedule = '32x3,48x2'\n[search]\nsize = { choice = [48, 64] }\n", "[search] size", "no effect"),
    ("[base]\nlr = -1.0\n[search]\n" + SEARCH_LR, "[base] lr", "lr must be in"),
    ("[base]\nmodel = 'resnet9'\n[search]\n" + SEARCH_LR, "[base] model", "'resnet9'"),
    ("[base]\nlrr = 0.1\n[search]\n" + SEARCH_LR, "[base] lrr", "did you mean 'lr'"),
    ("[base]\npreset = 'cpu-basline'\n[search]\n" + SEARCH_LR, "[base] preset", "did you mean 'cpu-baseline'"),
    ("[base]\nseed = 3\n[search]\n" + SEARCH_LR, "[base] seed", "top-level `seed`"),
    ("[base]\nsize = 512\n[search]\n" + SEARCH_LR, "[base] size", "more than twice presize"),
    ("[base]\nepochs = [1, 2]\n[search]\n" + SEARCH_LR, "[base] epochs", "plain value"),
    ("[budget]\ntime = '5 minutes please'\n[search]\n" + SEARCH_LR, "[budget] time", "not a duration"),
    ("[budget]\ntime = 0\n[search]\n" + SEARCH_LR, "[budget] time", "more than 0"),
    ("[budget]\ntime = -60\n[search]\n" + SEARCH_LR, "[budget] time", "more than 0"),
    ("[budget]\ntime = nan\n[search]\n" + SEARCH_LR, "[budget] time", "finite"),
    ("[budget]\nconfirm_share = 0.95\n[search]\n" + SEARCH_LR, "[budget] confirm_share", "[0, 0.9]"),
    ("[budget]\nconfirm_seeds = 0\n[search]\n" + SEARCH_LR, "[budget] confirm_seeds", "[1, 100]"),
    ("[budget]\nmax_trials = -1\n[search]\n" + SEARCH_LR, "[budget] max_trials", "integer"),
    ("[budget]\nmax_trials = true\n[search]\n" + SEARCH_LR, "[budget] max_trials", "integer"),
    ("[objective]\nmetrics = ['accurracy']\n[search]\n" + SEARCH_LR, "[objective] metrics",
     "did you mean 'accuracy'"),
    ("[objective]\nmetrics = []\n[search]\n" + SEARCH_LR, "[objective] metrics", "non-empty"),
    ("[objective]\nmetrics = ['train_seconds']\n[search]\n" + SEARCH_LR, "[objective] metrics", "must include accuracy"),
    ("[early_stopping]\nscheduler = 'hyperband'\n[search]\n" + SEARCH_LR, "[early_stopping] scheduler", "asha, none"),
    ("[early_stopping]\ntime_attr = 'epochs'\n[search]\n" + SEARCH_LR, "[early_stopping] time_attr", "did you mean 'epoch'"),
    ("[early_stopping]\ngrace_period = 0\n[search]\n" + SEARCH_LR, "[early_stopping] grace_period", "integer"),
    ("[early_stopping]\nreduction_factor = 1\n[search]\n" + SEARCH_LR, "[early_stopping] reduction_factor", "1.5"),
    ("name = 'bad name!'\n[search]\n" + SEARCH_LR, "name", "A-Z a-z 0-9"),
    ("name = '..'\n[search]\n" + SEARCH_LR, "name", "only dots"),
    ("seed = -1\n[search]\n" + SEARCH_LR, "seed", "[0, 2147483647]"),
    ("name = 'x'\n", "[search]", "missing"),
    ("[search]\n", "[search]", "empty"),
    ("search = 3\n", "[search]", "must be a table"),
    ("budget = 3\n[search]\n" + SEARCH_LR, "[budget]", "must be a table"),
]


@pytest.mark.parametrize("text,key,fragment", BAD_FILES, ids=[f"{i}-{c[1]}" for i, c in enumerate(BAD_FILES)])
def test_bad_study_file(tmp_path, text, key, fragment):
    path = write(tmp_path, text)
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert key in message, message
    assert fragment in message, message
    assert "; " in message  # problem; fix
    assert isinstance(info.value, UsageError)


def test_not_toml_and_missing_file(tmp_path):
    path = write(tmp_path, "[search\nlr = 1\n")
    with pytest.raises(StudyFileError, match="is not valid TOML") as info:
        load_study_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(StudyFileError, match="no such file"):
        load_study_file(tmp_path / "absent.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"name = '\xe9'\n")
    with pytest.raises(StudyFileError, match="UTF-8"):
        load_study_file(bad)


@pytest.mark.parametrize("text,fragment", [
    ("seed = 1" + "0" * 5000 + "\n", "cannot be read as TOML"),  # tomllib's own limit on integer digits
    ("seed = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("seed = 1" + "0" * 400 + "\n[search]\n" + SEARCH_LR, "seed: must be an integer"),
    ("[search]\nlr = { float = [1e-3, 1" + "0" * 400 + "] }\n", "[search] lr: bounds must be finite"),
])
def test_hostile_toml_files(tmp_path, text, fragment):
    with pytest.raises(StudyFileError) as info:
        load_study_file(write(tmp_path, text))
    assert fragment in str(info.value)
    assert len(str(info.value)) < 1000


def test_study_file_error_pickles():
    err = StudyFileError("f.toml", "search", "lr", "range inverted", "swap the bounds")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) == "f.toml: [search] lr: range inverted; swap the bounds"


def test_name_defaults_to_file_stem(tmp_path):
    spec = load_study_file(write(tmp_path, "[search]\n" + SEARCH_LR, name="my study.toml"))
    assert spec.name == "my-study"


# --- paths ------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_study_folder(tmp_path):
    (tmp_path / "pets" / "train").mkdir(parents=True)
    spec = load_study_file(write(tmp_path, "[base]\ndata = 'pets'\ndata_dir = 'cache'\n[search]\n" + SEARCH_LR))
    assert spec.base["data"] == str(tmp_path / "pets")
    assert spec.base["data_dir"] == str(tmp_path / "cache")
    spec = load_study_file(write(tmp_path, "[base]\ndata = '../elsewhere/pets'\n[search]\n" + SEARCH_LR))
    assert spec.base["data"] == str(tmp_path.parent / "elsewhere" / "pets")  # reading from anywhere is fine
    spec = load_study_file(write(tmp_path, "[base]\ndata = 'imagenette-160'\n[search]\n" + SEARCH_LR))
    assert spec.base["data"] == "imagenette-160"  # a data-set name stays a name
    spec = load_study_file(write(tmp_path, f"[base]\ndata_dir = '{tmp_path / 'abs'}'\n[search]\n" + SEARCH_LR))
    assert spec.base["data_dir"] == str(tmp_path / "abs")


@pytest.mark.parametrize("data_dir,fragment", [
    ("/", "system or home folder"),
    ("/etc", "inside the system folder"),
    ("/usr/share/x", "inside the system folder"),
    ("/proc/self", "inside the system folder"),
    ("/tmp", "system or home folder"),
    ("~", "system or home folder"),
    ("../outside", "leaves the study file's folder"),
    ("a/../../outside", "leaves the study file's folder"),
    ("cache\\u0000x", "control characters"),
    ("cache\\nx", "control characters"),
])
def test_data_dir_cannot_point_at_system_folders(tmp_path, data_dir, fragment):
    path = write(tmp_path, f'[base]\ndata_dir = "{data_dir}"\n[search]\n' + SEARCH_LR)
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    assert "[base] data_dir" in str(info.value) and fragment in str(info.value)


def test_data_dir_symlink_into_system_folder(tmp_path):
    (tmp_path / "sneaky").symlink_to("/etc")
    with pytest.raises(StudyFileError, match="inside the system folder"):
        load_study_file(write(tmp_path, "[base]\ndata_dir = 'sneaky/cache'\n[search]\n" + SEARCH_LR))


# --- durations and overrides ------------------------------------------------------------------


@pytest.mark.parametrize("value,seconds", [
    ("90s", 90), ("10m", 600), ("2h", 7200), ("1h30m", 5400), (" 1H30M ", 5400), ("1.5h", 5400),
    ("1d2h", 93600), ("2 hours", 7200), ("45 min", 2700), ("600", 600), ("1e3", 1000), (600, 600), (0.5, 0.5),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [
    "5 minutes please", "", "   ", "-5", -5, 0, "0s", "0", math.nan, math.inf, -math.inf, "inf", "nan", "1e999",
    True, None, [], "30m1h", "1h1h", "10 parsecs", "h", "1.2.3s", 10**400, "400d", 10**9, "x" * 1000,
])
def test_parse_duration_rejects(value):
    with pytest.raises(UsageError):
        parse_duration(value)


def test_apply_overrides():
    spec = default_spec()
    new = apply_overrides(spec, time_budget="2h", max_trials=40, seed=5, name="ch7-gpu", confirm_top=2, confirm_seeds=4)
    assert (new.budget.time_s, new.budget.max_trials, new.seed, new.name) == (7200.0, 40, 5, "ch7-gpu")
    assert (new.budget.confirm_top, new.budget.confirm_seeds) == (2, 4)
    assert spec.budget.time_s == 420.0  # the README demo: 7 minutes and spec.name == "chapter7"  # the original is untouched
    assert apply_overrides(spec) == spec
    assert to_trial_config(new, {}).seed == 5


@pytest.mark.parametrize("kwargs,needle", [
    (dict(time_budget="soon"), "--time-budget"),
    (dict(time_budget=-1), "--time-budget"),
    (dict(max_trials=-1), "--max-trials"),
    (dict(seed=2**31), "--seed"),
    (dict(seed=True), "--seed"),
    (dict(name="a/b"), "--name"),
    (dict(name=""), "--name"),
    (dict(confirm_seeds=0), "--confirm-seeds"),
    (dict(confirm_top=-2), "--confirm-top"),
])
def test_apply_overrides_rejects(kwargs, needle):
    with pytest.raises(UsageError) as info:
        apply_overrides(default_spec(), **kwargs)
    assert needle in str(info.value)


def test_spec_from_dict_without_a_file():
    spec = spec_from_dict({"search": {"lr": {"float": [1e-3, 1e-2]}}}, "<dict>")
    assert spec.name == "study" and spec.budget.time_s == 600.0 and spec.base == {}
    with pytest.raises(StudyFileError, match=r"^<dict>: \[search\] lr: "):
        spec_from_dict({"search": {"lr": {"float": [1e-2, 1e-3]}}}, "<dict>")
    with pytest.raises(StudyFileError, match="must be a table of sections"):
        spec_from_dict([1, 2], "<dict>")  # type: ignore[arg-type]
