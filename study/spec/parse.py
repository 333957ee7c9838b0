"""Reading a study file: TOML into a validated :class:`~study.spec.model.StudySpec`, before anything runs.

A study file is TOML (``study/spec/default_space.toml`` is the built-in one, and documents the format)::

    name = "chapter7"                       # [A-Za-z0-9._-]{1,64}
    seed = 0
    [base]                                  # TrialConfig values for every trial; may hold preset = NAME
    [budget]                                # time, max_trials, confirm_share, confirm_top, confirm_seeds, max_seeds
    [objective]                             # metrics = ["accuracy", ...], level, margin
    [early_stopping]                        # scheduler, time_attr, grace_period, reduction_factor
    [search]                                # NAME = { float|int = [lo, hi] (log, step) | choice = [...], when = {...} }

A searched name is a :class:`~trainable.config.TrialConfig` key or a *virtual* parameter that the
chapter talks about but the config spells differently (:data:`VIRTUAL`): ``mixup`` (on/off; off sets
``mixup_alpha = 0``), and ``progressive`` with ``resize_start_scale``, ``resize_frac`` and
``resize_mode``, which become a resize ``schedule`` (see :mod:`study.spec.translate`).

Validation happens in :func:`spec_from_dict`, before Ray starts: every problem is a
:class:`~study.spec.model.StudyFileError` naming the file, the section, the key and the fix. The
``[search]`` grammar is :mod:`study.spec.params`; beyond the shape of the file it checks
(:mod:`study.spec.checks`) that every value the sampler can draw gives a valid ``TrialConfig`` (each bound and
choice of each parameter, and every corner of the parameters that build the resize schedule), so a
trial never fails on its config.

Paths: ``base.data`` (a folder) and ``base.data_dir`` (downloads and decoded caches) may be
relative; they are resolved against the study file's folder. ``data_dir`` is the only path a trial
writes to that a study file chooses, so it must not contain control characters, a relative
``data_dir`` must stay inside the study file's folder (no ``..`` out of it), and it must not be a
filesystem root, a top-level system folder (``/home``, ``/tmp``, ``/var`` …), the home folder
itself, or anything inside ``/etc``, ``/usr``, ``/bin``, ``/sbin``, ``/lib*``, ``/boot``, ``/dev``,
``/proc``, ``/sys`` (checked after following symbolic links).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from study.analysis.sequential import MARGIN
from study.common.errors import UsageError
from study.common.messages import (
    MAX_PLAIN_INT,
    finite,
    hint,
    key_text,
    kind_text,
    short,
)
from study.spec.durations import MAX_DURATION_S, parse_duration
from study.spec.model import (
    METRICS,
    Budget,
    EarlyStopping,
    FileContext,
    Objective,
    StudyFileError,
    StudySpec,
)
from study.spec.params import parse_search
from study.spec.translate import check_plain
from trainable.config import ConfigError, TrialConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["apply_overrides", "default_spec", "load_study_file", "spec_from_dict"]

_SECTIONS = {
    "name": None, "seed": None, "base": None,
    "budget": ("time", "max_trials", "confirm_share", "confirm_top", "confirm_seeds", "max_seeds", "ablation_share"),
    "objective": ("metrics", "level", "margin"),
    "early_stopping": ("scheduler", "time_attr", "grace_period", "reduction_factor"),
    "search": None,
}
_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys", "/usr", "/System")
_SYSTEM_FOLDERS = ("/", "/home", "/media", "/mnt", "/opt", "/root", "/run", "/srv", "/tmp", "/var", "/Users", "/Volumes", "/Library")
_MAX_FILE_BYTES = 1 << 20


def load_study_file(path: str | os.PathLike[str]) -> StudySpec:
    """Read and validate a TOML study file; relative paths in it are resolved against its folder."""
    p = Path(path)
    file = str(p)
    fix = "check the path (or leave out --space to use the built-in space)"
    try:
        if not p.is_file():
            raise StudyFileError(file, "", "", "no such file", fix)
        if p.stat().st_size > _MAX_FILE_BYTES:
            raise StudyFileError(file, "", "", f"is larger than {_MAX_FILE_BYTES} bytes", "a study file is a few lines of TOML")
        raw = p.read_bytes()
    except (OSError, ValueError) as e:
        raise StudyFileError(file, "", "", f"cannot be read ({getattr(e, 'strerror', None) or e})", fix) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise StudyFileError(file, "", "", f"is not UTF-8 text ({e.reason} at byte {e.start})", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise StudyFileError(file, "", "", f"is not valid TOML ({e})", "fix the syntax there") from None
    except RecursionError:
        raise StudyFileError(file, "", "", "is nested too deeply to read", "a study file is a few flat tables") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise StudyFileError(file, "", "", f"cannot be read as TOML ({e})", "use plain, short values") from None
    return spec_from_dict(data, file, base_dir=p.resolve().parent)


def default_spec() -> StudySpec:
    """The built-in study (``study/spec/default_space.toml``): chapter 7 at CPU scale, on the embedded set."""
    from importlib.resources import files

    resource = files("study.spec").joinpath("default_space.toml")
    return spec_from_dict(tomllib.loads(resource.read_text(encoding="utf-8")), str(resource))


def spec_from_dict(data: Any, source: str, *, base_dir: str | os.PathLike[str] | None = None) -> StudySpec:
    """Validate a parsed study file; ``source`` names it in errors, ``base_dir`` anchors relative paths.

    Raises :class:`StudyFileError` for the first problem found (see the module docstring).
    """
    ctx = FileContext(str(source), Path(base_dir).absolute() if base_dir is not None else Path.cwd())
    if not isinstance(data, dict):
        ctx.fail("", "", f"must be a table of sections, got {kind_text(data)}", "start from study/spec/default_space.toml")
    for k in data:
        if not isinstance(k, str) or k not in _SECTIONS:
            ctx.fail("", key_text(k), "unknown section or key" + hint(k, _SECTIONS),
                     f"the top level holds {', '.join(_SECTIONS)}")
    base = _parse_base(ctx, _table(ctx, data, "base"))
    budget = _parse_budget(ctx, _table(ctx, data, "budget"))
    objective = _table(ctx, data, "objective")
    return StudySpec(
        name=_parse_name(ctx, data.get("name")),
        seed=_int_in(ctx, "", "seed", data.get("seed", 0), 0, 2**31 - 1),
        base=base,
        params=parse_search(ctx, data.get("search"), base),
        objectives=_parse_objectives(ctx, objective),
        budget=budget,
        early_stopping=_parse_early_stopping(ctx, _table(ctx, data, "early_stopping")),
        source=ctx.file,
        level=_number_in(ctx, "objective", "level", objective.get("level", 0.95), 0.5, 0.999,
                         "write e.g. level = 0.95 (the confidence level of every verdict)"),
        margin=_number_in(ctx, "objective", "margin", objective.get("margin", MARGIN), 0.001, 0.5,
                          "write e.g. margin = 0.01 (the smallest accuracy difference worth knowing: "
                          "\"no difference shown\" needs the interval within ± margin)"),
    )


def apply_overrides(
    spec: StudySpec,
    *,
    time_budget: str | float | None = None,
    max_trials: int | None = None,
    seed: int | None = None,
    name: str | None = None,
    confirm_top: int | None = None,
    confirm_seeds: int | None = None,
) -> StudySpec:
    """The spec with command-line flags applied (``None`` = keep the file's value); same checks."""
    ctx = FileContext("command line", Path.cwd())
    budget = spec.budget
    if time_budget is not None:
        try:
            budget = dataclasses.replace(budget, time_s=parse_duration(time_budget))
        except UsageError as e:
            raise UsageError(f"--time-budget: {e}") from None
    if max_trials is not None:
        budget = dataclasses.replace(budget, max_trials=_int_in(ctx, "", "--max-trials", max_trials, 0, 10**7))
    if confirm_top is not None:
        budget = dataclasses.replace(budget, confirm_top=_int_in(ctx, "", "--confirm-top", confirm_top, 0, 1000))
    if confirm_seeds is not None:
        budget = dataclasses.replace(budget, confirm_seeds=_int_in(ctx, "", "--confirm-seeds", confirm_seeds, 1, 100))
    changes: dict[str, Any] = {"budget": budget}
    if seed is not None:
        changes["seed"] = _int_in(ctx, "", "--seed", seed, 0, 2**31 - 1)
    if name is not None:
        changes["name"] = _parse_name(ctx, name, key="--name")
    return dataclasses.replace(spec, **changes)


def _table(ctx: FileContext, data: Mapping[str, Any], section: str) -> dict[str, Any]:
    raw = data.get(section, {})
    if not isinstance(raw, dict):
        ctx.fail(section, "", f"must be a table, got {kind_text(raw)}", f"write it as a [{section}] section")
    allowed = _SECTIONS[section]
    for k in raw:
        if not isinstance(k, str) or (allowed is not None and k not in allowed):
            ctx.fail(section, key_text(k), "unknown key" + hint(k, allowed or ()),
                     f"[{section}] takes {', '.join(allowed or ())}")
    return raw


def _parse_name(ctx: FileContext, raw: Any, key: str = "name") -> str:
    if raw is None:
        if ctx.file.startswith("<"):
            return "study"
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(ctx.file).stem)[:64].strip(".-")
        return stem or "study"
    if not isinstance(raw, str) or not _NAME_RE.fullmatch(raw) or set(raw) == {"."}:
        ctx.fail("", key, f"must be 1 to 64 of A-Z a-z 0-9 . _ - (not only dots), got {short(raw)}",
                 'use a name like "chapter7" or "mixup-vs-ls"')
    return raw


def _int_in(ctx: FileContext, section: str, key: str, raw: Any, low: int, high: int) -> int:
    if isinstance(raw, float) and raw.is_integer() and abs(raw) <= MAX_PLAIN_INT:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        example = low + 1 if low + 1 <= high else low
        fix = f"pass e.g. {key} {example}" if key.startswith("--") else f"write e.g. {key} = {example}"
        ctx.fail(section, key, f"must be an integer in [{low}, {high}], got {short(raw)}", fix)
    return raw


def _number_in(ctx: FileContext, section: str, key: str, raw: Any, low: float, high: float, fix: str) -> float:
    if not finite(raw) or not low <= raw <= high:
        ctx.fail(section, key, f"must be a number in [{low:g}, {high:g}], got {short(raw)}", fix)
    return float(raw)


def _parse_base(ctx: FileContext, raw: dict[str, Any]) -> dict[str, Any]:
    from trainable.presets import PRESETS

    known = {f.name for f in fields(TrialConfig)}
    values: dict[str, Any] = {}
    if "preset" in raw:
        name = raw["preset"]
        if not isinstance(name, str) or name not in PRESETS:
            ctx.fail("base", "preset", f"unknown preset {short(name)}" + hint(name, PRESETS),
                     f"choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[name])
    own: dict[str, Any] = {}
    for k, v in raw.items():
        if k == "preset":
            continue
        if k not in known:
            ctx.fail("base", key_text(k), "not a TrialConfig key" + hint(k, [*known, "preset"]),
                     "see `study trial --print-config` for the keys")
        if k == "seed":
            ctx.fail("base", k, "trial seeds come from the study seed", "set the top-level `seed` instead")
        try:
            check_plain(k, v)
        except UsageError as e:
            ctx.fail("base", k, str(e), "write a single value")
        own[k] = _resolve_path(ctx, k, v) if k in ("data", "data_dir") and isinstance(v, str) else v
    merged = {**values, **own}
    try:
        cfg = TrialConfig.from_dict(merged)
    except ConfigError as e:
        culprit = next((k for k in own if not _valid_config({**values, k: own[k]})), None)
        ctx.fail("base", culprit or ", ".join(own), str(e), "change the value to one the trial accepts")
    typed = cfg.to_dict()
    return {k: typed[k] for k in merged}


def _valid_config(values: Mapping[str, Any]) -> bool:
    try:
        TrialConfig.from_dict(values)
        return True
    except ConfigError:
        return False


def _resolve_path(ctx: FileContext, key: str, text: str) -> str:
    """``data``: a folder (names of data sets stay as they are); ``data_dir``: the cache folder."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        ctx.fail("base", key, f"contains control characters: {short(text)}", "write a plain path")
    if key == "data" and (text in _data_names() or not text.strip()):
        return text
    if key == "data_dir" and text == "":
        return text
    try:
        p = Path(text).expanduser()
    except RuntimeError:
        ctx.fail("base", key, f"cannot expand ~ in {short(text)}", "write an absolute path or one relative to the study file")
    looks_like_path = "/" in text or os.sep in text or text.startswith((".", "~"))
    if key == "data" and not looks_like_path and not _is_dir(ctx.base_dir / p):
        return text  # a data-set name the trainable may know, or its error to report
    full = Path(os.path.normpath(p if p.is_absolute() else ctx.base_dir / p))
    if key == "data_dir":
        _check_data_dir(ctx, text, p, full)
    return str(full)


def _check_data_dir(ctx: FileContext, text: str, p: Path, full: Path) -> None:
    fix = "use a folder of its own, e.g. data_dir = \"cache\" (next to the study file) or ~/.cache/xresnet-study"
    if not p.is_absolute() and os.path.commonpath([str(full), os.path.normpath(ctx.base_dir)]) != os.path.normpath(ctx.base_dir):
        ctx.fail("base", "data_dir", f"{short(text)} leaves the study file's folder", fix)
    try:
        real = full.resolve()
    except (OSError, RuntimeError) as e:
        ctx.fail("base", "data_dir", f"{short(text)} cannot be resolved ({e})", fix)
    try:
        home = str(Path.home())
    except (RuntimeError, KeyError):
        home = ""
    for candidate in {str(full), str(real)}:
        if candidate in _SYSTEM_FOLDERS or candidate == home or Path(candidate).parent == Path(candidate):
            ctx.fail("base", "data_dir", f"{short(text)} is {candidate}, a system or home folder", fix)
        if any(candidate == t or candidate.startswith(t + "/") for t in _SYSTEM_TREES):
            ctx.fail("base", "data_dir", f"{short(text)} is inside the system folder {candidate}", fix)


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except (OSError, ValueError):
        return False


def _parse_budget(ctx: FileContext, raw: dict[str, Any]) -> Budget:
    d = Budget()
    time_s = d.time_s
    if "time" in raw:
        try:
            time_s = parse_duration(raw["time"])
        except UsageError as e:
            ctx.fail("budget", "time", str(e).split("; ")[0], f'write e.g. time = "10m" (at most {MAX_DURATION_S / 86400:.0f} days)')
    return Budget(
        time_s=time_s,
        max_trials=_int_in(ctx, "budget", "max_trials", raw.get("max_trials", d.max_trials), 0, 10**7),
        confirm_share=_number_in(ctx, "budget", "confirm_share", raw.get("confirm_share", d.confirm_share), 0.0, 0.9,
                                 "write e.g. confirm_share = 0.2 (0 = no confirmation time)"),
        confirm_top=_int_in(ctx, "budget", "confirm_top", raw.get("confirm_top", d.confirm_top), 0, 1000),
        confirm_seeds=_int_in(ctx, "budget", "confirm_seeds", raw.get("confirm_seeds", d.confirm_seeds), 1, 100),
        max_seeds=_max_seeds(ctx, raw, d),
        ablation_share=_ablation_share(ctx, raw, d),
    )


def _max_seeds(ctx: FileContext, raw: dict[str, Any], d: Budget) -> int:
    most = _int_in(ctx, "budget", "max_seeds", raw.get("max_seeds", d.max_seeds), 0, 1000)
    first = raw.get("confirm_seeds", d.confirm_seeds)
    if most and isinstance(first, int) and most < max(2, first):
        ctx.fail("budget", "max_seeds", f"is {most}, below the first look's {max(2, first)} seeds (confirm_seeds)",
                 "raise it, or 0 for as many as the budget allows")
    return most


def _ablation_share(ctx: FileContext, raw: dict[str, Any], d: Budget) -> float:
    share = _number_in(ctx, "budget", "ablation_share", raw.get("ablation_share", d.ablation_share), 0.0, 0.9,
                       "write e.g. ablation_share = 0.25 (0 = no ablation phase)")
    confirm = float(raw.get("confirm_share", d.confirm_share))
    if confirm + share >= 0.95:
        ctx.fail("budget", "ablation_share", f"and confirm_share leave no time for the search ({confirm:g} + {share:g})",
                 "keep confirm_share + ablation_share below 0.95")
    return share


def _parse_objectives(ctx: FileContext, raw: dict[str, Any]) -> tuple[Objective, ...]:
    metrics = raw.get("metrics", ["accuracy"])
    if isinstance(metrics, str):
        metrics = [metrics]
    fix = f'write e.g. metrics = ["accuracy", "train_seconds"]; known: {", ".join(METRICS)}'
    if not isinstance(metrics, list) or not metrics:
        ctx.fail("objective", "metrics", f"must be a non-empty list of metric names, got {short(metrics)}", fix)
    for m in metrics:
        if not isinstance(m, str) or m not in METRICS:
            ctx.fail("objective", "metrics", f"unknown metric {short(m)}" + hint(m, METRICS), fix)
    if len(set(metrics)) != len(metrics):
        ctx.fail("objective", "metrics", f"lists a metric twice: {metrics}", "list each metric once")
    if "accuracy" not in metrics:
        ctx.fail("objective", "metrics", "must include accuracy (the others alone favour a trial that learns nothing)",
                 'add "accuracy"')
    return tuple(Objective(m, METRICS[m]) for m in metrics)


def _parse_early_stopping(ctx: FileContext, raw: dict[str, Any]) -> EarlyStopping:
    d = EarlyStopping()
    for key, options in (("scheduler", ("asha", "none")), ("time_attr", ("epoch", "seconds"))):
        v = raw.get(key, getattr(d, key))
        if v not in options or not isinstance(v, str):
            ctx.fail("early_stopping", key, f"must be one of {', '.join(options)}, got {short(v)}" + hint(v, options),
                     f'write e.g. {key} = "{options[0]}"')
    return EarlyStopping(
        scheduler=raw.get("scheduler", d.scheduler),
        time_attr=raw.get("time_attr", d.time_attr),
        grace_period=_int_in(ctx, "early_stopping", "grace_period", raw.get("grace_period", d.grace_period), 1, 10**6),
        reduction_factor=_number_in(ctx, "early_stopping", "reduction_factor",
                                    raw.get("reduction_factor", d.reduction_factor), 1.5, 100.0,
                                    "write e.g. reduction_factor = 3 (ASHA keeps 1/3 at each rung)"),
    )


def _data_names() -> set[str]:
    """The names a trial's ``data`` may give instead of a folder: the embedded variants and the archives."""
    from trainable.data.sources import source_names  # only here: it imports numpy and PIL

    return set(source_names())
