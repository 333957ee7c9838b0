"""Hostile input (issue 5): random study files and ``--set`` overrides end in a valid result or a
UsageError, never a traceback; and a study that validates only ever yields valid trial configs."""

from __future__ import annotations

import copy
import math
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import optuna
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from study.commands.overrides import resolve_config
from study.common.errors import UsageError
from study.spec import (
    VIRTUAL,
    StudySpec,
    default_spec,
    describe,
    load_study_file,
    spec_from_dict,
    suggest,
    to_trial_config,
)
from trainable.config import TrialConfig
from trainable.presets import DEFAULT_PRESET, PRESETS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

optuna.logging.set_verbosity(optuna.logging.WARNING)

FIELDS = [f.name for f in fields(TrialConfig)]
DEFAULT_TEXT = (Path(__file__).parents[3] / "study" / "spec" / "default_space.toml").read_text(encoding="utf-8")
DEFAULT = tomllib.loads(DEFAULT_TEXT)
# SPACE_HOSTILE_EXAMPLES=5000 for a long hunt; 200 keeps the suite fast
EXAMPLES = int(os.environ.get("SPACE_HOSTILE_EXAMPLES", "200"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -------------------------------------------------------------------------------

huge = st.sampled_from([10**400, -(10**4000), 2**63, 2**53 + 1, 1e308, -1e308, 5e-324])
numbers = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), huge,
                    st.integers(min_value=-3, max_value=300), st.floats(min_value=-1, max_value=2))
texts = st.one_of(st.text(max_size=12), st.sampled_from(["", "none", "imagenet", "fine_tune", "cont", "cycle",
                                                         "10m", "1h30m", "\x00", "../..", "/etc", "~", "ǅ\u202e"]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                    max_leaves=8)
param_names = st.one_of(st.sampled_from(FIELDS + list(VIRTUAL)), st.text(max_size=8))
bounds = st.one_of(st.lists(numbers, min_size=2, max_size=2), st.lists(numbers, max_size=3), junk)
conditions = st.one_of(scalars, st.lists(scalars, max_size=3),
                       st.fixed_dictionaries({}, optional={"min": numbers, "max": numbers}), junk)
param_tables = st.one_of(
    st.fixed_dictionaries({}, optional={
        "float": bounds, "int": bounds, "choice": st.lists(scalars, max_size=5) | junk,
        "log": st.booleans() | junk, "step": numbers | junk,
        "when": st.dictionaries(param_names, conditions, max_size=2) | junk,
    }),
    junk,
)
study_dicts = st.fixed_dictionaries({}, optional={
    "name": texts | junk,
    "seed": numbers | junk,
    "base": st.dictionaries(st.sampled_from(FIELDS + ["preset"]) | texts, scalars | junk, max_size=4) | junk,
    "budget": st.fixed_dictionaries({}, optional={k: scalars | junk for k in
                                                  ("time", "max_trials", "confirm_share", "confirm_top", "confirm_seeds")}),
    "objective": st.fixed_dictionaries({}, optional={"metrics": st.lists(texts, max_size=3) | junk}),
    "early_stopping": st.fixed_dictionaries({}, optional={k: scalars for k in
                                                          ("scheduler", "time_attr", "grace_period", "reduction_factor")}),
    "search": st.dictionaries(param_names, param_tables, max_size=5) | junk,
    "junk": junk,
})

# One to three edits of the built-in space: most results stay close to valid, so deep checks run.
paths = st.sampled_from([
    ("name",), ("seed",), ("base", "epochs"), ("base", "preset"), ("base", "size"), ("base", "presize"),
    ("base", "data"), ("base", "data_dir"), ("base", "lr"), ("budget", "time"), ("budget", "confirm_share"),
    ("objective", "metrics"), ("early_stopping", "grace_period"),
    ("search", "lr", "float"), ("search", "lr", "log"), ("search", "size", "choice"), ("search", "tta_n", "int"),
    ("search", "tta_n", "step"), ("search", "mixup_alpha", "when"), ("search", "tta_beta", "when", "tta_n"),
    ("search", "resize_start_scale", "float"), ("search", "resize_frac", "float"), ("search", "resize_mode", "choice"),
    ("search", "progressive", "choice"), ("search", "epochs"), ("search", "presize"), ("search", "label_noise"),
])
edits = st.lists(st.tuples(paths, st.one_of(scalars, bounds, conditions, param_tables, st.just(None))), min_size=1,
                 max_size=3)


POOLS: dict[str, list[Any]] = {
    "lr": [1e-4, 1e-3, 3e-3, 0.01, 0.1, 1.0, 9.99, 20.0],
    "size": [8, 16, 20, 24, 32, 40, 48, 64, 100, 104, 128, 192, 256],
    "presize": [16, 32, 48, 64, 96, 128],
    "epochs": [1, 2, 3, 5, 10],
    "resize_start_scale": [0.05, 0.3, 0.5, 0.8, 0.9, 0.97],
    "resize_frac": [0.05, 0.3, 0.5, 0.8, 0.99],
    "tta_n": [0, 1, 4, 8, 70],
    "label_noise": [0, 1, 3, 5, 25, 50],
    "mixup_alpha": [0.0, 0.1, 0.4, 1.0],
    "mixup": [False, True],
    "progressive": [False, True],
    "resize_mode": ["fine_tune", "cont", "cycle"],
    "normalize": ["none", "imagenet", "dataset"],
}


@st.composite
def plausible_searches(draw: st.DrawFn) -> dict[str, Any]:
    """[search] tables built from plausible values: many validate, so the sampling property is exercised."""
    names = draw(st.lists(st.sampled_from(sorted(POOLS)), min_size=1, max_size=7, unique=True))
    search: dict[str, Any] = {}
    for name in names:
        pool = POOLS[name]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pool)
        if numeric and draw(st.booleans()):
            lo, hi = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2, unique=True)))
            kind = "int" if isinstance(lo, int) and isinstance(hi, int) else "float"
            table: dict[str, Any] = {kind: [lo, hi]}
            if kind == "float" and lo > 0 and draw(st.booleans()):
                table["log"] = True
        else:
            table = {"choice": draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))}
        if search and draw(st.booleans()):
            ref = draw(st.sampled_from(sorted(search)))
            ref_pool = POOLS[ref]
            options = [st.sampled_from(ref_pool), st.lists(st.sampled_from(ref_pool), max_size=2)]
            if not isinstance(ref_pool[0], (bool, str)):
                options.append(st.builds(lambda v: {"min": v}, st.sampled_from(ref_pool)))
            table["when"] = {ref: draw(st.one_of(options))}
        search[name] = table
    return search


def edited_default(changes: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    data = copy.deepcopy(DEFAULT)
    for path, value in changes:
        node = data
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return data


def check_spec(data: Any, base_dir: Path) -> None:
    """The property: a UsageError, or a spec whose every sample converts to a valid TrialConfig."""
    try:
        spec = spec_from_dict(data, "hostile.toml", base_dir=base_dir)
    except UsageError as e:
        assert str(e).startswith("hostile.toml: ")
        event(f"rejected in [{getattr(e, 'section', '')}]")
        return
    event("valid")
    assert isinstance(spec, StudySpec)
    describe(spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        params = suggest(study.ask(), spec)
        assert isinstance(to_trial_config(spec, params), TrialConfig)  # no UsageError for a validated spec


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@FAST
@given(data=study_dicts)
def test_random_study_dicts(folder, data):
    check_spec(data, folder)


@FAST
@given(changes=edits)
def test_edited_default_space(folder, changes):
    check_spec(edited_default(changes), folder)


@FAST
@given(search=plausible_searches(), base=st.fixed_dictionaries({}, optional={
    "preset": st.sampled_from(list(PRESETS)), "epochs": st.sampled_from([1, 2, 5]), "size": st.sampled_from([16, 32, 64]),
    "schedule": st.sampled_from(["", "32x2,48x2:cont"])}))
def test_plausible_search_spaces(folder, search, base):
    check_spec({"base": base, "search": search}, folder)


@FAST
@given(data=junk)
def test_junk_instead_of_a_study(folder, data):
    check_spec(data, folder)


@settings(max_examples=max(1, EXAMPLES // 2), deadline=None)
@given(cuts=st.lists(st.tuples(st.integers(0, len(DEFAULT_TEXT)), st.text(max_size=6)), min_size=1, max_size=4))
def test_mangled_study_file_text(folder, cuts):
    text = DEFAULT_TEXT
    for at, insert in cuts:
        text = text[:at] + insert + text[at + len(insert):]
    path = folder / "mangled.toml"
    path.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        spec = load_study_file(path)
    except UsageError as e:
        assert str(e).startswith(f"{path}: ")
        return
    assert isinstance(spec, StudySpec)


set_values = st.one_of(
    texts, numbers.map(str), st.sampled_from(["1e400", "-inf", "nan", "9" * 5000, "true", "off", "٣٢", "0x10",
                                              "128x4@3e-3,224x5@1e-3:fine_tune", "٣٢x٢", "8x0:fine_tune", "1_000"]),
)
set_items = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(FIELDS) | st.text(max_size=8), set_values),
    st.text(max_size=16),
)


@FAST
@given(sets=st.lists(set_items, max_size=5), preset=st.none() | st.sampled_from(list(PRESETS)) | st.text(max_size=8),
       data=st.none() | texts)
def test_random_set_overrides(sets, preset, data):
    try:
        config = resolve_config(preset, None, sets, data, default_preset=DEFAULT_PRESET)
    except UsageError:
        return
    assert isinstance(config, TrialConfig)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in config.to_dict().values())


@FAST
@given(params=st.dictionaries(st.sampled_from(FIELDS + list(VIRTUAL)) | st.text(max_size=6), scalars | junk, max_size=4))
def test_random_params_to_trial_config(params):
    spec = _default_spec()
    try:
        config = to_trial_config(spec, params)
    except UsageError:
        return
    assert isinstance(config, TrialConfig)


_SPEC: list[StudySpec] = []


def _default_spec() -> StudySpec:
    if not _SPEC:
        _SPEC.append(default_spec())
    return _SPEC[0]
