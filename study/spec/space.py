"""The study file and its search space: parse, validate before anything runs, sample, translate.

A study file is TOML (``study/spec/default_space.toml`` is the built-in one, and documents the format)::

    name = "chapter7"                       # [A-Za-z0-9._-]{1,64}
    seed = 0
    [base]                                  # TrialConfig values for every trial; may hold preset = NAME
    [budget]                                # time, max_trials, confirm_share, confirm_top, confirm_seeds
    [objective]                             # metrics = ["accuracy", ...]
    [early_stopping]                        # scheduler, time_attr, grace_period, reduction_factor
    [search]                                # NAME = { float|int = [lo, hi] (log, step) | choice = [...], when = {...} }

A searched name is a :class:`~trainable.config.TrialConfig` key or a *virtual* parameter that the
chapter talks about but the config spells differently (:data:`VIRTUAL`): ``mixup`` (on/off; off sets
``mixup_alpha = 0``), and ``progressive`` with ``resize_start_scale``, ``resize_frac`` and
``resize_mode``, which become a resize ``schedule`` (see :func:`resize_schedule`).

Validation happens in :func:`spec_from_dict`, before Ray starts: every problem is a
:class:`StudyFileError` naming the file, the section, the key and the fix. Beyond the shape of the
file it checks that every value the sampler can draw gives a valid ``TrialConfig`` (each bound and
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
import difflib
import math
import os
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, NoReturn

from study.spec.durations import MAX_DURATION_S, format_duration, parse_duration
from study.common.errors import UsageError
from trainable.config import ConfigError, TrialConfig
from trainable.schedules import MODES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

if TYPE_CHECKING:
    import optuna

__all__ = [
    "METRICS",
    "VIRTUAL",
    "Budget",
    "Condition",
    "EarlyStopping",
    "Objective",
    "Param",
    "StudyFileError",
    "StudySpec",
    "apply_overrides",
    "default_spec",
    "describe",
    "load_study_file",
    "parse_duration",
    "resize_schedule",
    "spec_from_dict",
    "suggest",
    "to_trial_config",
]

METRICS = {"accuracy": "maximize", "train_seconds": "minimize", "infer_ms_per_image": "minimize"}
VIRTUAL = ("mixup", "progressive", "resize_start_scale", "resize_frac", "resize_mode")
_RESIZE = ("resize_start_scale", "resize_frac", "resize_mode")
_RESIZE_DEFAULTS = {"resize_start_scale": 0.5, "resize_frac": 0.5, "resize_mode": "fine_tune"}
MIXUP_ALPHA_ON = 0.4  # fastai's default α when mixup is switched on without a searched α
_SCHEDULE_GROUP = {"size", "epochs", "lr", "presize", "progressive", *_RESIZE}
_NOT_SEARCHABLE = {
    "data": "a study compares trials on one data set; set it in [base]",
    "data_dir": "it is a folder, not a hyperparameter; set it in [base]",
    "device": "Ray places trials on devices; set it in [base] if you must",
    "seed": "trial seeds come from the study's top-level seed (confirmation runs add fresh ones)",
    "schedule": "search progressive, resize_start_scale, resize_frac and resize_mode instead",
    "threads": "it changes speed, not what is learned; set it in [base]",
    "checkpoint_keep": "it changes disk use, not what is learned; set it in [base]",
    "compile": "it changes speed, not what is learned; set it in [base]",
    "bf16": "it is a runtime setting; set it in [base]",
    "channels_last": "it changes speed, not what is learned; set it in [base]",
}
_SECTIONS = {
    "name": None, "seed": None, "base": None,
    "budget": ("time", "max_trials", "confirm_share", "confirm_top", "confirm_seeds"),
    "objective": ("metrics",),
    "early_stopping": ("scheduler", "time_attr", "grace_period", "reduction_factor"),
    "search": None,
}
_PARAM_KEYS = ("float", "int", "choice", "log", "step", "when")
_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_DATA_NAMES = {"embedded", "imagenette", "imagenette-320", "imagenette-160", "imagewoof", "imagewoof-320", "imagewoof-160"}
_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys", "/usr", "/System")
_SYSTEM_FOLDERS = ("/", "/home", "/media", "/mnt", "/opt", "/root", "/run", "/srv", "/tmp", "/var", "/Users", "/Volumes", "/Library")
_MAX_INT = 2**53  # larger integers are not plain data (JSON, MLflow params) and no setting needs them
_MAX_CHOICES = 1000
_MAX_PARAMS = 200
_MAX_FILE_BYTES = 1 << 20


class StudyFileError(UsageError):
    """A study file (or study dict) is wrong: ``"{file}: [{section}] {key}: {problem}; {fix}"``."""

    def __init__(self, file: str, section: str, key: str, problem: str, fix: str) -> None:
        self.file, self.section, self.key, self.problem, self.fix = file, section, key, problem, fix
        where = (f"[{section}] " if section else "") + (f"{key}: " if key else "")
        super().__init__(f"{file}: {where}{problem}; {fix}")

    def __reduce__(self) -> Any:  # picklable for Ray, which ships exceptions between processes
        return (type(self), (self.file, self.section, self.key, self.problem, self.fix))


# --- the spec ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """``when = { name = ... }``: equal to one of ``values``, or (no values) within [low, high]."""

    name: str  # the searched parameter it looks at
    values: tuple[Any, ...] = ()  # accepted values (equality / membership)
    low: float = -math.inf  # inclusive bounds when ``values`` is empty
    high: float = math.inf

    def holds(self, sampled: Mapping[str, Any]) -> bool:
        """True when ``sampled`` has the parameter (it is active) and its value satisfies this."""
        if self.name not in sampled:
            return False
        v = sampled[self.name]
        if self.values:
            return any(_same(v, x) for x in self.values)
        return _is_number(v) and self.low <= v <= self.high

    def __str__(self) -> str:
        if self.values:
            shown = _toml(self.values[0]) if len(self.values) == 1 else "[" + ", ".join(map(_toml, self.values)) + "]"
            return f"{self.name} = {shown}"
        bounds = [f"min = {self.low:g}"] * (self.low > -math.inf) + [f"max = {self.high:g}"] * (self.high < math.inf)
        return f"{self.name} = {{ {', '.join(bounds)} }}"


@dataclass(frozen=True)
class Param:
    """One searched parameter: a range (``float`` / ``int``) or a ``choice``, active when ``when`` holds."""

    name: str  # TrialConfig key or one of VIRTUAL
    kind: str  # float | int | choice
    low: float | int | None = None  # inclusive range (float / int)
    high: float | int | None = None
    log: bool = False  # sample on a log scale
    step: float | int | None = None  # discretization of the range
    choices: tuple[Any, ...] = ()  # choice values (one type: str, bool, int or float)
    when: tuple[Condition, ...] = ()  # all must hold for the parameter to be sampled

    def is_active(self, sampled: Mapping[str, Any]) -> bool:
        return all(c.holds(sampled) for c in self.when)

    def __str__(self) -> str:
        if self.kind == "choice":
            text = "choice [" + ", ".join(map(_toml, self.choices)) + "]"
        else:
            text = f"{self.kind} [{self.low:g}, {self.high:g}]" + " log" * self.log
            text += f" step {self.step:g}" if self.step is not None else ""
        if self.when:
            text += "  when " + " and ".join(map(str, self.when))
        return text


@dataclass(frozen=True)
class Budget:
    """The study's wall clock and its split between search and confirmation."""

    time_s: float = 600.0  # s, wall clock of the whole study
    max_trials: int = 0  # search trials at most; 0 = only the time limits them
    confirm_share: float = 0.2  # fraction of time_s reserved for confirmation runs
    confirm_top: int = 3  # best configs re-run with fresh seeds (0 = no confirmation)
    confirm_seeds: int = 3  # fresh seeds per re-run config


@dataclass(frozen=True)
class Objective:
    metric: str  # accuracy | train_seconds | infer_ms_per_image
    direction: str  # maximize | minimize


@dataclass(frozen=True)
class EarlyStopping:
    scheduler: str = "asha"  # asha | none
    time_attr: str = "epoch"  # epoch | seconds: what grace_period counts
    grace_period: int = 1  # epochs (or seconds) a trial runs before it may be stopped
    reduction_factor: float = 3.0  # ASHA keeps 1/reduction_factor of the trials at each rung


@dataclass(frozen=True)
class StudySpec:
    """A validated study. ``params`` are in dependency order (a parameter after those its ``when`` reads)."""

    name: str  # MLflow experiment and Optuna study name
    seed: int  # seeds the sampler and every search trial
    base: dict[str, Any]  # TrialConfig values of every trial, preset expanded, paths absolute (do not mutate)
    params: tuple[Param, ...]
    objectives: tuple[Objective, ...]
    budget: Budget
    early_stopping: EarlyStopping
    source: str  # where it came from (a file path), for messages and records

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


# --- entry points -----------------------------------------------------------------------------


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
    """The built-in study (``study/spec/default_space.toml``): chapter 7 at CPU scale, 5 minutes."""
    from importlib.resources import files

    resource = files("study.spec").joinpath("default_space.toml")
    return spec_from_dict(tomllib.loads(resource.read_text(encoding="utf-8")), str(resource))


def spec_from_dict(data: Any, source: str, *, base_dir: str | os.PathLike[str] | None = None) -> StudySpec:
    """Validate a parsed study file; ``source`` names it in errors, ``base_dir`` anchors relative paths.

    Raises :class:`StudyFileError` for the first problem found (see the module docstring).
    """
    ctx = _Ctx(str(source), Path(base_dir).absolute() if base_dir is not None else Path.cwd())
    if not isinstance(data, dict):
        ctx.fail("", "", f"must be a table of sections, got {_kind(data)}", "start from study/spec/default_space.toml")
    for k in data:
        if not isinstance(k, str) or k not in _SECTIONS:
            ctx.fail("", _key(k), "unknown section or key" + _hint(k, _SECTIONS),
                     f"the top level holds {', '.join(_SECTIONS)}")
    base = _parse_base(ctx, _table(ctx, data, "base"))
    budget = _parse_budget(ctx, _table(ctx, data, "budget"))
    return StudySpec(
        name=_parse_name(ctx, data.get("name")),
        seed=_int_in(ctx, "", "seed", data.get("seed", 0), 0, 2**31 - 1),
        base=base,
        params=_parse_search(ctx, data.get("search"), base),
        objectives=_parse_objectives(ctx, _table(ctx, data, "objective")),
        budget=budget,
        early_stopping=_parse_early_stopping(ctx, _table(ctx, data, "early_stopping")),
        source=ctx.file,
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
    ctx = _Ctx("command line", Path.cwd())
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


def suggest(trial: "optuna.Trial", spec: StudySpec) -> dict[str, Any]:
    """Sample one configuration, define-by-run (Ray's ``OptunaSearch(space=callable)``).

    Parameters are suggested in dependency order; one whose ``when`` fails is skipped (not sampled,
    not returned). Returns the sampled values by name.
    """
    sampled: dict[str, Any] = {}
    for p in spec.params:
        if not p.is_active(sampled):
            continue
        if p.kind == "float":
            sampled[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log, step=p.step)  # type: ignore[arg-type]
        elif p.kind == "int":
            sampled[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log, step=p.step or 1)  # type: ignore[arg-type]
        else:
            sampled[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return sampled


def to_trial_config(spec: StudySpec, params: Mapping[str, Any], *, seed: int | None = None) -> TrialConfig:
    """The trial's config: ``spec.base``, then ``params`` (virtual ones translated), then the seed.

    ``seed`` defaults to the study seed. Raises :class:`UsageError` when the combination is invalid.
    """
    known = {f.name for f in fields(TrialConfig)}
    for k in params:
        if not isinstance(k, str) or (k not in known and k not in VIRTUAL):
            raise UsageError(f"unknown parameter {_short(k)}{_hint(k, [*known, *VIRTUAL])}; parameters are "
                             f"TrialConfig keys or one of {', '.join(VIRTUAL)}")
    values = {k: v for k, v in params.items() if k not in VIRTUAL}
    values["seed"] = spec.seed if seed is None else seed
    return _build(spec.base, values, {k: v for k, v in params.items() if k in VIRTUAL})


def resize_schedule(size: int, epochs: int, lr: float, *, start_scale: float, frac: float, mode: str) -> str:
    """The two-stage resize schedule of the virtual parameters (fastbook ch. 7, progressive resizing).

    Start size ``s1 = max(16, round(size·start_scale/8)·8)`` (round half up; must stay < size) for
    ``n1 = clamp(round(frac·epochs), 1, epochs-1)`` epochs, then ``size`` for ``n2 = epochs - n1``:
    ``fine_tune`` = ``"{s1}x{n1}@{lr},{size}x{n2-1}@{lr/3}:fine_tune"`` (a fine_tune stage trains one
    epoch more, so the total stays ``epochs``); ``cont`` = ``"{s1}x{n1}@{lr},{size}x{n2}:cont"`` (one
    cycle across both sizes); ``cycle`` = ``"{s1}x{n1}@{lr},{size}x{n2}@{lr/3}"`` (two fresh cycles).
    """
    if epochs < 2:
        raise UsageError(f"progressive resizing needs epochs >= 2 (some at each size), got {epochs=}")
    if not (_is_number(start_scale) and 0 < start_scale < 1 and _is_number(frac) and 0 < frac < 1):
        raise UsageError(f"resize_start_scale and resize_frac must be in (0, 1), got {start_scale!r} and {frac!r}")
    if mode not in MODES:
        raise UsageError(f"resize_mode must be one of {MODES}, got {_short(mode)}")
    s1 = _start_size(size, start_scale)
    if s1 >= size:
        raise UsageError(f"resize_start_scale {start_scale:g} of size {size} px gives a start size of {s1} px, "
                         f"not smaller than {size} px; use a smaller scale or a larger size")
    n1 = min(max(_round_half_up(frac * epochs), 1), epochs - 1)
    n2 = epochs - n1
    first = f"{s1}x{n1}@{_lr_text(lr)}"
    if mode == "fine_tune":
        return f"{first},{size}x{n2 - 1}@{_lr_text(lr / 3)}:fine_tune"
    if mode == "cont":
        return f"{first},{size}x{n2}:cont"
    return f"{first},{size}x{n2}@{_lr_text(lr / 3)}"


def describe(spec: StudySpec) -> str:
    """A short summary for the launch log: the study, then one line per searched parameter."""
    b = spec.budget
    limit = f", at most {b.max_trials} trials" if b.max_trials else ""
    confirm = (f"confirm top {b.confirm_top} x {b.confirm_seeds} seeds in {b.confirm_share:.0%} of it"
               if b.confirm_top else "no confirmation runs")
    goals = ", ".join(f"{o.direction} {o.metric}" for o in spec.objectives)
    es = spec.early_stopping
    stop = (f"{es.scheduler} over {es.time_attr.rstrip('s')}s (grace {es.grace_period}, reduction {es.reduction_factor:g})"
            if es.scheduler != "none" else "none")
    base = ", ".join(f"{k}={v!r}" for k, v in spec.base.items())
    lines = [
        f"study {spec.name} (seed {spec.seed}) from {spec.source}",
        f"  budget {format_duration(b.time_s)}{limit}; {confirm}",
        f"  objective: {goals}; early stopping: {stop}",
        f"  base: {base if len(base) <= 200 else base[:197] + '...'}",
        f"  search ({len(spec.params)} parameters):",
    ]
    width = max((len(p.name) for p in spec.params), default=0)
    lines += [f"    {p.name:<{width}}  {p}" for p in spec.params]
    return "\n".join(lines)


# --- translation ------------------------------------------------------------------------------


def _build(base: Mapping[str, Any], values: Mapping[str, Any], virtual: Mapping[str, Any]) -> TrialConfig:
    """base + values + the virtual parameters' translation, as a TrialConfig (UsageError if invalid)."""
    merged = {**base, **values}
    for k, v in merged.items():
        _check_plain(k, v)
    try:
        if "mixup" in virtual:
            if not _as_bool("mixup", virtual["mixup"]):
                merged["mixup_alpha"] = 0.0
            elif "mixup_alpha" not in values:
                alpha = float(base.get("mixup_alpha", 0.0))
                merged["mixup_alpha"] = alpha if alpha > 0 else MIXUP_ALPHA_ON
        progressive = _as_bool("progressive", virtual["progressive"]) if "progressive" in virtual else None
        if progressive is None and any(k in virtual for k in _RESIZE):
            progressive = True
        if progressive is not None:
            merged["schedule"] = ""
            if progressive:
                plain = TrialConfig.from_dict(merged)
                r = {**_RESIZE_DEFAULTS, **{k: virtual[k] for k in _RESIZE if k in virtual}}
                merged["schedule"] = resize_schedule(plain.size, plain.epochs, plain.lr,
                                                     start_scale=r["resize_start_scale"], frac=r["resize_frac"],
                                                     mode=r["resize_mode"])
        return TrialConfig.from_dict(merged)
    except ConfigError as e:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in {**values, **virtual}.items() if k != "seed")
        raise UsageError(f"{e} (with {shown or 'the base config'})") from None


def _start_size(size: int, scale: float) -> int:
    return max(16, _round_half_up(size * scale / 8) * 8)


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _lr_text(lr: float) -> str:
    text = f"{lr:.6g}"
    return text if 0 < float(text) < 10 else repr(lr)


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise UsageError(f"{name} must be true or false, got {_short(value)}")


def _check_plain(key: str, value: Any) -> None:
    if isinstance(value, bool) or isinstance(value, float) or (isinstance(value, str) and len(value) <= 4096):
        return
    if isinstance(value, int) and abs(value) <= _MAX_INT:
        return
    raise UsageError(f"{key} must be a plain value (text, number or true/false), got {_short(value)}")


# --- parsing and validation -------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    file: str
    base_dir: Path

    def fail(self, section: str, key: str, problem: str, fix: str) -> NoReturn:
        raise StudyFileError(self.file, section, key, problem, fix)


def _table(ctx: _Ctx, data: Mapping[str, Any], section: str) -> dict[str, Any]:
    raw = data.get(section, {})
    if not isinstance(raw, dict):
        ctx.fail(section, "", f"must be a table, got {_kind(raw)}", f"write it as a [{section}] section")
    allowed = _SECTIONS[section]
    for k in raw:
        if not isinstance(k, str) or (allowed is not None and k not in allowed):
            ctx.fail(section, _key(k), "unknown key" + _hint(k, allowed or ()),
                     f"[{section}] takes {', '.join(allowed or ())}")
    return raw


def _parse_name(ctx: _Ctx, raw: Any, key: str = "name") -> str:
    if raw is None:
        if ctx.file.startswith("<"):
            return "study"
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(ctx.file).stem)[:64].strip(".-")
        return stem or "study"
    if not isinstance(raw, str) or not _NAME_RE.fullmatch(raw) or set(raw) == {"."}:
        ctx.fail("", key, f"must be 1 to 64 of A-Z a-z 0-9 . _ - (not only dots), got {_short(raw)}",
                 'use a name like "chapter7" or "mixup-vs-ls"')
    return raw


def _int_in(ctx: _Ctx, section: str, key: str, raw: Any, low: int, high: int) -> int:
    if isinstance(raw, float) and raw.is_integer() and abs(raw) <= _MAX_INT:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        example = low + 1 if low + 1 <= high else low
        fix = f"pass e.g. {key} {example}" if key.startswith("--") else f"write e.g. {key} = {example}"
        ctx.fail(section, key, f"must be an integer in [{low}, {high}], got {_short(raw)}", fix)
    return raw


def _number_in(ctx: _Ctx, section: str, key: str, raw: Any, low: float, high: float, fix: str) -> float:
    if not _finite(raw) or not low <= raw <= high:
        ctx.fail(section, key, f"must be a number in [{low:g}, {high:g}], got {_short(raw)}", fix)
    return float(raw)


def _parse_base(ctx: _Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    from trainable.presets import PRESETS

    known = {f.name for f in fields(TrialConfig)}
    values: dict[str, Any] = {}
    if "preset" in raw:
        name = raw["preset"]
        if not isinstance(name, str) or name not in PRESETS:
            ctx.fail("base", "preset", f"unknown preset {_short(name)}" + _hint(name, PRESETS),
                     f"choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[name])
    own: dict[str, Any] = {}
    for k, v in raw.items():
        if k == "preset":
            continue
        if k not in known:
            ctx.fail("base", _key(k), "not a TrialConfig key" + _hint(k, [*known, "preset"]),
                     "see `study trial --print-config` for the keys")
        if k == "seed":
            ctx.fail("base", k, "trial seeds come from the study seed", "set the top-level `seed` instead")
        try:
            _check_plain(k, v)
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


def _resolve_path(ctx: _Ctx, key: str, text: str) -> str:
    """``data``: a folder (names of data sets stay as they are); ``data_dir``: the cache folder."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        ctx.fail("base", key, f"contains control characters: {_short(text)}", "write a plain path")
    if key == "data" and (text in _DATA_NAMES or not text.strip()):
        return text
    if key == "data_dir" and text == "":
        return text
    try:
        p = Path(text).expanduser()
    except RuntimeError:
        ctx.fail("base", key, f"cannot expand ~ in {_short(text)}", "write an absolute path or one relative to the study file")
    looks_like_path = "/" in text or os.sep in text or text.startswith((".", "~"))
    if key == "data" and not looks_like_path and not _is_dir(ctx.base_dir / p):
        return text  # a data-set name the trainable may know, or its error to report
    full = Path(os.path.normpath(p if p.is_absolute() else ctx.base_dir / p))
    if key == "data_dir":
        _check_data_dir(ctx, text, p, full)
    return str(full)


def _check_data_dir(ctx: _Ctx, text: str, p: Path, full: Path) -> None:
    fix = "use a folder of its own, e.g. data_dir = \"cache\" (next to the study file) or ~/.cache/xresnet-study"
    if not p.is_absolute() and os.path.commonpath([str(full), os.path.normpath(ctx.base_dir)]) != os.path.normpath(ctx.base_dir):
        ctx.fail("base", "data_dir", f"{_short(text)} leaves the study file's folder", fix)
    try:
        real = full.resolve()
    except (OSError, RuntimeError) as e:
        ctx.fail("base", "data_dir", f"{_short(text)} cannot be resolved ({e})", fix)
    try:
        home = str(Path.home())
    except (RuntimeError, KeyError):
        home = ""
    for candidate in {str(full), str(real)}:
        if candidate in _SYSTEM_FOLDERS or candidate == home or Path(candidate).parent == Path(candidate):
            ctx.fail("base", "data_dir", f"{_short(text)} is {candidate}, a system or home folder", fix)
        if any(candidate == t or candidate.startswith(t + "/") for t in _SYSTEM_TREES):
            ctx.fail("base", "data_dir", f"{_short(text)} is inside the system folder {candidate}", fix)


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except (OSError, ValueError):
        return False


def _parse_budget(ctx: _Ctx, raw: dict[str, Any]) -> Budget:
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
    )


def _parse_objectives(ctx: _Ctx, raw: dict[str, Any]) -> tuple[Objective, ...]:
    metrics = raw.get("metrics", ["accuracy"])
    if isinstance(metrics, str):
        metrics = [metrics]
    fix = f'write e.g. metrics = ["accuracy", "train_seconds"]; known: {", ".join(METRICS)}'
    if not isinstance(metrics, list) or not metrics:
        ctx.fail("objective", "metrics", f"must be a non-empty list of metric names, got {_short(metrics)}", fix)
    for m in metrics:
        if not isinstance(m, str) or m not in METRICS:
            ctx.fail("objective", "metrics", f"unknown metric {_short(m)}" + _hint(m, METRICS), fix)
    if len(set(metrics)) != len(metrics):
        ctx.fail("objective", "metrics", f"lists a metric twice: {metrics}", "list each metric once")
    if "accuracy" not in metrics:
        ctx.fail("objective", "metrics", "must include accuracy (the others alone favour a trial that learns nothing)",
                 'add "accuracy"')
    return tuple(Objective(m, METRICS[m]) for m in metrics)


def _parse_early_stopping(ctx: _Ctx, raw: dict[str, Any]) -> EarlyStopping:
    d = EarlyStopping()
    for key, options in (("scheduler", ("asha", "none")), ("time_attr", ("epoch", "seconds"))):
        v = raw.get(key, getattr(d, key))
        if v not in options or not isinstance(v, str):
            ctx.fail("early_stopping", key, f"must be one of {', '.join(options)}, got {_short(v)}" + _hint(v, options),
                     f'write e.g. {key} = "{options[0]}"')
    return EarlyStopping(
        scheduler=raw.get("scheduler", d.scheduler),
        time_attr=raw.get("time_attr", d.time_attr),
        grace_period=_int_in(ctx, "early_stopping", "grace_period", raw.get("grace_period", d.grace_period), 1, 10**6),
        reduction_factor=_number_in(ctx, "early_stopping", "reduction_factor",
                                    raw.get("reduction_factor", d.reduction_factor), 1.5, 100.0,
                                    "write e.g. reduction_factor = 3 (ASHA keeps 1/3 at each rung)"),
    )


# --- [search] ---------------------------------------------------------------------------------


def _parse_search(ctx: _Ctx, raw: Any, base: dict[str, Any]) -> tuple[Param, ...]:
    example = "write e.g. lr = { float = [1e-3, 1e-2], log = true }"
    if raw is None:
        ctx.fail("search", "", "is missing: nothing would be searched", f"add a [search] section; {example}")
    if not isinstance(raw, dict):
        ctx.fail("search", "", f"must be a table, got {_kind(raw)}", f"write it as a [search] section; {example}")
    if not raw:
        ctx.fail("search", "", "is empty: every trial would be the same", f"add a parameter; {example}")
    if len(raw) > _MAX_PARAMS:
        ctx.fail("search", "", f"has {len(raw)} parameters", f"search at most {_MAX_PARAMS}")
    parsed = {name: _parse_param(ctx, name, table) for name, table in raw.items()}
    params = [dataclasses.replace(p, when=_parse_when(ctx, p.name, raw[p.name].get("when"), parsed)) for p in parsed.values()]
    ordered = _dependency_order(ctx, params)
    if base.get("schedule") and {"size", "epochs"} & set(parsed) and not ({"progressive", *_RESIZE} & set(parsed)):
        ctx.fail("search", "size" if "size" in parsed else "epochs",
                 f"has no effect: base.schedule {base['schedule']!r} sets the sizes and epochs",
                 "remove schedule from [base], or search progressive")
    for p in ordered:
        _check_values(ctx, p, base)
    _check_start_sizes(ctx, ordered, base)
    _check_schedule_corners(ctx, ordered, base)
    return tuple(ordered)


def _expected_type(name: str) -> str:
    if name in ("mixup", "progressive"):
        return "bool"
    if name in ("resize_start_scale", "resize_frac"):
        return "float"
    if name == "resize_mode":
        return "str"
    return next(str(f.type) for f in fields(TrialConfig) if f.name == name)


def _parse_param(ctx: _Ctx, name: Any, table: Any) -> Param:
    known = [f.name for f in fields(TrialConfig)]
    if not isinstance(name, str) or name not in known and name not in VIRTUAL:
        ctx.fail("search", _key(name), "not a TrialConfig key or virtual parameter" + _hint(name, [*known, *VIRTUAL]),
                 f"search TrialConfig keys or one of {', '.join(VIRTUAL)}")
    if name in _NOT_SEARCHABLE:
        ctx.fail("search", name, f"cannot be searched: {_NOT_SEARCHABLE[name]}", "remove it from [search]")
    if not isinstance(table, dict):
        ctx.fail("search", name, f"must be a table like {{ float = [lo, hi] }}, got {_short(table)}",
                 "to fix one value for every trial, put it in [base]")
    for k in table:
        if not isinstance(k, str) or k not in _PARAM_KEYS:
            ctx.fail("search", f"{name}.{_key(k)}", "unknown key" + _hint(k, _PARAM_KEYS), f"use {', '.join(_PARAM_KEYS)}")
    kinds = [k for k in ("float", "int", "choice") if k in table]
    if len(kinds) != 1:
        ctx.fail("search", name, f"needs exactly one of float, int, choice, got {len(kinds)}",
                 "write e.g. { float = [0.0, 0.2] } or { choice = [false, true] }")
    kind = kinds[0]
    want = _expected_type(name)
    param = _parse_choice(ctx, name, table) if kind == "choice" else _parse_range(ctx, name, kind, table)
    values = param.choices if kind == "choice" else (param.low,)
    ok = {"bool": kind == "choice" and all(isinstance(v, bool) for v in values),
          "str": kind == "choice" and all(isinstance(v, str) for v in values),
          "int": kind != "float" and all(isinstance(v, int) and not isinstance(v, bool) for v in values),
          "float": all(_is_number(v) for v in values)}[want]
    if not ok:
        takes = {"bool": "choice = [false, true]", "str": 'choice = ["a", "b"] (text)',
                 "int": "int = [lo, hi] or a choice of integers", "float": "float = [lo, hi] or a choice of numbers"}[want]
        article = {"bool": "a true/false", "str": "a text", "int": "an integer", "float": "a number"}[want]
        ctx.fail("search", name, f"is {article} setting, so {kind} = {_short(table[kind])} does not fit", f"write {takes}")
    return param


def _parse_range(ctx: _Ctx, name: str, kind: str, table: dict[str, Any]) -> Param:
    bounds = table[kind]
    fix = f"write {kind} = [lo, hi] with lo < hi, e.g. {kind} = " + ("[1e-3, 1e-2]" if kind == "float" else "[0, 8]")
    if not isinstance(bounds, list) or len(bounds) != 2 or not all(_is_number(b) for b in bounds):
        ctx.fail("search", name, f"{kind} must be two numbers [lo, hi], got {_short(bounds)}", fix)
    if kind == "int" and not all(isinstance(b, int) and abs(b) <= _MAX_INT for b in bounds):
        ctx.fail("search", name, f"int bounds must be integers, got {_short(bounds)}", f"write int = [{_int_hint(bounds)}] or use float")
    if not all(_finite(b) for b in bounds):
        ctx.fail("search", name, f"bounds must be finite (and at most 2**53), got {_short(bounds)}", fix)
    low, high = (bounds[0], bounds[1]) if kind == "int" else (float(bounds[0]), float(bounds[1]))
    if low > high:
        ctx.fail("search", name, f"the range [{low:g}, {high:g}] is inverted", f"write {kind} = [{high:g}, {low:g}]")
    if low == high:
        ctx.fail("search", name, f"the range [{low:g}, {high:g}] holds one value", f"set {name} = {low:g} in [base] instead")
    log = table.get("log", False)
    if not isinstance(log, bool):
        ctx.fail("search", f"{name}.log", f"must be true or false, got {_short(log)}", "write log = true")
    if log and low <= 0:
        ctx.fail("search", name, f"a log scale needs lo > 0, got [{low:g}, {high:g}]", "raise lo above 0 or drop log = true")
    step = table.get("step")
    if step is not None:
        if log:
            ctx.fail("search", f"{name}.step", "cannot be combined with log = true", "drop one of step and log")
        good = isinstance(step, int) if kind == "int" else _is_number(step)
        if not good or not _finite(step) or not 0 < step <= high - low:
            ctx.fail("search", f"{name}.step", f"must be {'an integer' if kind == 'int' else 'a number'} in (0, {high - low:g}], got {_short(step)}",
                     "write e.g. step = " + ("2" if kind == "int" else f"{(high - low) / 4:g}"))
        span = (high - low) / step
        if not math.isfinite(span) or span > 1e9:
            ctx.fail("search", f"{name}.step", f"{step:g} cuts [{low:g}, {high:g}] into more than 1e9 values",
                     "raise step, or drop it")
        if abs(span - round(span)) > 1e-9 * max(1.0, span):
            ctx.fail("search", f"{name}.step", f"{step:g} does not divide the range [{low:g}, {high:g}]",
                     f"make hi - lo a multiple of step (e.g. hi = {low + math.floor(span) * step:g})")
        step = step if kind == "int" else float(step)
    return Param(name=name, kind=kind, low=low, high=high, log=log, step=step)


def _parse_choice(ctx: _Ctx, name: str, table: dict[str, Any]) -> Param:
    choices = table["choice"]
    for k in ("log", "step"):
        if k in table:
            ctx.fail("search", f"{name}.{k}", "applies to float and int ranges, not to choice", f"drop {k}")
    if not isinstance(choices, list) or not choices:
        ctx.fail("search", name, f"choice must be a non-empty list, got {_short(choices)}", 'write e.g. choice = ["none", "imagenet"]')
    if len(choices) > _MAX_CHOICES:
        ctx.fail("search", name, f"has {len(choices)} choices", f"keep it under {_MAX_CHOICES}, or use a range")
    for v in choices:
        bad = not isinstance(v, (str, int, float)) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) > _MAX_INT)
        if bad or (isinstance(v, float) and not math.isfinite(v)) or (isinstance(v, str) and len(v) > 4096):
            ctx.fail("search", name, f"choice {_short(v)} is not a plain value", "use text, finite numbers or true/false")
    families = {"bool" if isinstance(v, bool) else "str" if isinstance(v, str) else "number" for v in choices}
    if len(families) > 1:
        ctx.fail("search", name, f"mixes types in choice = {_short(choices)}", "use one type: all text, all numbers or all true/false")
    if families == {"number"} and any(isinstance(v, float) for v in choices):
        choices = [float(v) for v in choices]
    seen: list[Any] = []
    for v in choices:
        if any(_same(v, s) for s in seen):
            ctx.fail("search", name, f"lists {_short(v)} twice", "list each choice once")
        seen.append(v)
    return Param(name=name, kind="choice", choices=tuple(choices))


def _parse_when(ctx: _Ctx, name: str, raw: Any, params: Mapping[str, Param]) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    key = f"{name}.when"
    if not isinstance(raw, dict) or not raw:
        ctx.fail("search", key, f"must be a non-empty table of conditions, got {_short(raw)}", "write e.g. when = { mixup = true }")
    out = []
    for ref, cond in raw.items():
        if ref == name:
            ctx.fail("search", key, "a parameter cannot depend on itself", f"drop {name} from its own when")
        if not isinstance(ref, str) or ref not in params:
            others = [n for n in params if n != name]
            ctx.fail("search", key, f"refers to {_short(ref)}, which is not searched" + _hint(ref, others),
                     "condition only on parameters in [search]")
        out.append(_parse_condition(ctx, f"{key}.{ref}", params[ref], cond))
    return tuple(out)


def _parse_condition(ctx: _Ctx, key: str, ref: Param, cond: Any) -> Condition:
    domain = f"choice [{', '.join(map(_toml, ref.choices))}]" if ref.kind == "choice" else f"{ref.kind} [{ref.low:g}, {ref.high:g}]"
    if isinstance(cond, dict):
        for k in cond:
            if k not in ("min", "max"):
                ctx.fail("search", key, f"unknown key {_short(k)}" + _hint(k, ("min", "max")), "write { min = x, max = y }")
        if not cond or not all(_finite(v) for v in cond.values()):
            ctx.fail("search", key, f"min/max must be finite numbers, got {_short(cond)}", "write e.g. { min = 1 }")
        low, high = float(cond.get("min", -math.inf)), float(cond.get("max", math.inf))
        numbers = [v for v in ref.choices if _is_number(v)] if ref.kind == "choice" else [ref.low, ref.high]
        if ref.kind == "choice" and len(numbers) != len(ref.choices):
            ctx.fail("search", key, f"min/max needs numbers, but {ref.name} is {domain}", "list the values instead")
        reachable = any(low <= v <= high for v in numbers) if ref.kind == "choice" else low <= ref.high and high >= ref.low and low <= high
        if not reachable:
            shown = ", ".join(f"{k} = {_toml(v)}" for k, v in cond.items())
            ctx.fail("search", key, f"{{ {shown} }} never holds: {ref.name} is {domain}", "make the bounds overlap the values")
        return Condition(ref.name, low=low, high=high)
    values = cond if isinstance(cond, list) else [cond]
    if not values:
        ctx.fail("search", key, "an empty list never holds", f"list values of {ref.name}")
    for v in values:
        if ref.kind == "choice":
            ok = any(_same(v, c) for c in ref.choices)
        else:
            ok = _finite(v) and ref.low <= v <= ref.high  # type: ignore[operator]
        if not ok:
            ctx.fail("search", key, f"{_short(v)} is not a value of {ref.name} ({domain})", f"use a value {ref.name} can take")
    return Condition(ref.name, values=tuple(values))


def _dependency_order(ctx: _Ctx, params: list[Param]) -> list[Param]:
    """File order, except that a parameter comes after every parameter its ``when`` reads."""
    by_name = {p.name: p for p in params}
    ordered: list[Param] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = placed

    def visit(p: Param, path: list[str]) -> None:
        if state.get(p.name) == 2:
            return
        if state.get(p.name) == 1:
            cycle = path[path.index(p.name):] + [p.name]
            ctx.fail("search", f"{p.name}.when", f"conditions form a cycle: {' -> '.join(cycle)}", "remove one of these conditions")
        state[p.name] = 1
        for c in p.when:
            visit(by_name[c.name], path + [p.name])
        state[p.name] = 2
        ordered.append(p)

    for p in params:
        visit(p, [])
    return ordered


# --- values against TrialConfig ---------------------------------------------------------------


def _range_values(p: Param, limit: int = 64) -> list[Any]:
    """The values to check: every choice; an int range whole when small, else its ends; a float range's ends."""
    if p.kind == "choice":
        return list(p.choices)
    if p.kind == "int":
        step = p.step or 1
        top = p.low + (p.high - p.low) // step * step  # type: ignore[operator]
        count = (top - p.low) // step + 1  # type: ignore[operator]
        return list(range(p.low, top + 1, step)) if count <= limit else [p.low, top]  # type: ignore[arg-type]
    return [p.low, p.high]


def _check_values(ctx: _Ctx, p: Param, base: dict[str, Any]) -> None:
    fix = "narrow the range (or the choices) to values the trial accepts"
    if p.name in ("resize_start_scale", "resize_frac"):
        for v in _range_values(p):
            if not 0 < v < 1:
                ctx.fail("search", p.name, f"must stay in (0, 1), got {v:g}", fix)
    elif p.name == "resize_mode":
        for v in p.choices:
            if v not in MODES:
                ctx.fail("search", p.name, f"unknown mode {_short(v)}" + _hint(v, MODES), f"use {', '.join(MODES)}")
    elif p.name not in VIRTUAL:
        for v in _range_values(p):
            try:
                TrialConfig.from_dict({**base, p.name: v})
            except ConfigError as e:
                ctx.fail("search", p.name, str(e), fix)


def _may_be_progressive(params: list[Param]) -> bool:
    names = {p.name for p in params}
    prog = next((p for p in params if p.name == "progressive"), None)
    return True in prog.choices if prog is not None else bool(names & set(_RESIZE))


def _check_start_sizes(ctx: _Ctx, params: list[Param], base: dict[str, Any]) -> None:
    """s1 < size for every size the sampler can draw, at the largest start scale (s1 grows with it)."""
    if not _may_be_progressive(params):
        return
    size_p = next((p for p in params if p.name == "size"), None)
    sizes = [base.get("size", TrialConfig.size)] if size_p is None else _range_values(size_p, limit=5000)
    scale_p = next((p for p in params if p.name == "resize_start_scale"), None)
    scale = _RESIZE_DEFAULTS["resize_start_scale"] if scale_p is None else max(_range_values(scale_p))
    for size in sizes:
        s1 = _start_size(size, scale)
        if s1 >= size:
            ctx.fail("search", "resize_start_scale",
                     f"at scale {scale:g} and size {size} px the start size is {s1} px, not smaller than the final size",
                     "lower the largest resize_start_scale or search larger sizes")


def _check_schedule_corners(ctx: _Ctx, params: list[Param], base: dict[str, Any]) -> None:
    """Every corner of the parameters that build the schedule gives a valid TrialConfig."""
    group = [p for p in params if p.name in _SCHEDULE_GROUP]
    if not group:
        return
    seen: set[tuple[tuple[str, Any], ...]] = set()
    for corner in _corners(group, {}, frozenset(p.name for p in group)):
        key = tuple(sorted(corner.items(), key=lambda kv: kv[0]))
        if key in seen:
            continue
        seen.add(key)
        try:
            _build(base, {k: v for k, v in corner.items() if k not in VIRTUAL}, {k: v for k, v in corner.items() if k in VIRTUAL})
        except UsageError as e:
            ctx.fail("search", ", ".join(f"{k} = {_toml(v)}" for k, v in corner.items()), str(e),
                     "narrow these ranges so that every combination gives a valid trial")


def _corners(group: list[Param], assigned: dict[str, Any], names: frozenset[str]) -> Iterator[dict[str, Any]]:
    """Assignments of each group parameter to an end of its range (or each text/bool choice), or inactive.

    ``names`` is the whole group: a condition on a parameter outside it may hold or not, so both follow.
    """
    if not group:
        yield assigned
        return
    p, rest = group[0], group[1:]
    decided = [c for c in p.when if c.name in names]
    state = all(c.holds(assigned) for c in decided)
    if not state or len(decided) < len(p.when):
        yield from _corners(rest, assigned, names)  # inactive (or possibly inactive: depends on a parameter outside the group)
    if state:
        values = _range_values(p, limit=0) if p.kind != "choice" else list(p.choices)
        if p.kind == "choice" and all(_is_number(v) for v in values):
            values = sorted({min(values), max(values)})
        for v in values:
            yield from _corners(rest, {**assigned, p.name: v}, names)


# --- small helpers ----------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    """A number that converts to a finite float without overflow (ints up to 2**53)."""
    if isinstance(v, float):
        return math.isfinite(v)
    return _is_number(v) and abs(v) <= _MAX_INT


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps true apart from 1 and "1" apart from 1 (numbers compare across int/float)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _short(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10**30:
        return f"<{v.bit_length()}-bit integer>"
    try:
        text = repr(v)
    except (ValueError, RecursionError):
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def _key(k: Any) -> str:
    return k if isinstance(k, str) and _NAME_RE.fullmatch(k) else _short(k)


def _kind(v: Any) -> str:
    names = {dict: "a table", list: "a list", str: "text", bool: "true/false", int: "an integer", float: "a number"}
    return names.get(type(v), f"a {type(v).__name__}")


def _hint(word: Any, options: Any) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return f"{v:g}" if isinstance(v, float) else str(v)


def _int_hint(bounds: list[Any]) -> str:
    try:
        return ", ".join(str(int(b)) for b in bounds)
    except (OverflowError, ValueError):
        return "0, 8"
