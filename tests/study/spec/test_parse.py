"""Reading a study file: the built-in study, every bad file outside [search], paths, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from study.common.errors import UsageError
from study.spec import (
    StudyFileError,
    StudySpec,
    apply_overrides,
    default_spec,
    load_study_file,
    spec_from_dict,
    to_trial_config,
)
from tests.study.spec.helpers import DEFAULT_PARAMS, SEARCH_LR, assert_bad_file, write
from trainable.presets import PRESETS

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


# --- the built-in space -----------------------------------------------------------------------


def test_default_spec_has_the_chapter():
    spec = default_spec()
    assert isinstance(spec, StudySpec)
    assert spec.name == "chapter7" and spec.seed == 0
    assert [p.name for p in spec.params] == DEFAULT_PARAMS  # file order is already dependency order
    # the README demo (issues 12, 19): 10 minutes, most of it after the search for the technique table, an ablation phase
    assert spec.budget.time_s == 600.0
    assert (spec.budget.confirm_share, spec.budget.confirm_top, spec.budget.confirm_seeds) == (0.5, 1, 3)
    assert spec.budget.ablation_share == 0.15 and spec.level == 0.95 and spec.margin == 0.01
    assert [(o.metric, o.direction) for o in spec.objectives] == [("accuracy", "maximize")]
    assert spec.early_stopping.scheduler == "asha" and spec.early_stopping.time_attr == "epoch"
    # the preset is expanded into base, typed
    assert spec.base["data"] == "embedded" and spec.base["model"] == "xresnet18" and spec.base["epochs"] == 4
    overridden = ("epochs", "presize", "size", "batch_size")  # set in default_space.toml over the preset
    assert spec.base.items() >= {k: v for k, v in PRESETS["cpu-baseline"].items() if k not in overridden}.items()
    assert (spec.base["presize"], spec.base["size"], spec.base["batch_size"]) == (72, 48, 32)
    assert spec.source.endswith("default_space.toml")
    assert Path(spec.source).is_file()
    tta_beta = spec.param("tta_beta")
    assert tta_beta is not None and tta_beta.when[0].name == "tta_n"


def test_default_space_is_package_data():
    text = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\n"study.spec" = ["*.toml"]' in text



def test_a_good_file_loads(tmp_path):
    spec = load_study_file(write(tmp_path, GOOD))
    assert (spec.name, spec.seed, spec.base["epochs"], spec.budget.time_s) == ("t", 1, 5, 600.0)
    assert [p.name for p in spec.params] == ["lr", "mixup", "mixup_alpha", "progressive", "resize_start_scale", "size",
                                             "tta_n", "tta_beta"]


# --- bad study files --------------------------------------------------------------------------

# (text of the file, the key the message must name, another fragment it must contain)
BAD_FILES = [
    ("name = 'x'\n[serach]\n" + SEARCH_LR, "serach", "did you mean 'search'"),
    ("[budget]\ntme = '5m'\n[search]\n" + SEARCH_LR, "[budget] tme", "did you mean 'time'"),
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
    ("[objective]\nmargin = 0\n[search]\n" + SEARCH_LR, "[objective] margin", "got 0"),
    ("[objective]\nmargin = 2\n[search]\n" + SEARCH_LR, "[objective] margin", "smallest accuracy difference"),
    ("[objective]\nmetrics = ['train_seconds']\n[search]\n" + SEARCH_LR, "[objective] metrics", "must include accuracy"),
    ("[early_stopping]\nscheduler = 'hyperband'\n[search]\n" + SEARCH_LR, "[early_stopping] scheduler", "asha, none"),
    ("[early_stopping]\ntime_attr = 'epochs'\n[search]\n" + SEARCH_LR, "[early_stopping] time_attr", "did you mean 'epoch'"),
    ("[early_stopping]\ngrace_period = 0\n[search]\n" + SEARCH_LR, "[early_stopping] grace_period", "integer"),
    ("[early_stopping]\nreduction_factor = 1\n[search]\n" + SEARCH_LR, "[early_stopping] reduction_factor", "1.5"),
    ("name = 'bad name!'\n[search]\n" + SEARCH_LR, "name", "A-Z a-z 0-9"),
    ("name = '..'\n[search]\n" + SEARCH_LR, "name", "only dots"),
    ("seed = -1\n[search]\n" + SEARCH_LR, "seed", "[0, 2147483647]"),
    ("budget = 3\n[search]\n" + SEARCH_LR, "[budget]", "must be a table"),
]


@pytest.mark.parametrize("text,key,fragment", BAD_FILES, ids=[f"{i}-{c[1]}" for i, c in enumerate(BAD_FILES)])
def test_bad_study_file(tmp_path, text, key, fragment):
    assert_bad_file(tmp_path, text, key, fragment)


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



# --- overrides --------------------------------------------------------------------------------


def test_apply_overrides():
    spec = default_spec()
    new = apply_overrides(spec, time_budget="2h", max_trials=40, seed=5, name="ch7-gpu", confirm_top=2, confirm_seeds=4)
    assert (new.budget.time_s, new.budget.max_trials, new.seed, new.name) == (7200.0, 40, 5, "ch7-gpu")
    assert (new.budget.confirm_top, new.budget.confirm_seeds) == (2, 4)
    assert spec.budget.time_s == 600.0 and spec.name == "chapter7"  # the original (the 10-minute demo) is untouched
    assert apply_overrides(spec) == spec
    assert to_trial_config(new, {}).seed == 5


@pytest.mark.parametrize("kwargs,needle", [
    ({"time_budget": "soon"}, "--time-budget"),
    ({"time_budget": -1}, "--time-budget"),
    ({"max_trials": -1}, "--max-trials"),
    ({"seed": 2**31}, "--seed"),
    ({"seed": True}, "--seed"),
    ({"name": "a/b"}, "--name"),
    ({"name": ""}, "--name"),
    ({"confirm_seeds": 0}, "--confirm-seeds"),
    ({"confirm_top": -2}, "--confirm-top"),
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
