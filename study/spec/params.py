"""The ``[search]`` section: one parameter a line, its range or choices, and when it is sampled.

::

    NAME = { float = [lo, hi] (, log = true | , step = s) }    a range (int: integer bounds and step)
    NAME = { choice = [a, b, ...] }                            text, numbers or true/false, one type
    NAME = { ..., when = { OTHER = value | [values] | { min = x, max = y } } }

``NAME`` is a :class:`~trainable.config.TrialConfig` key or one of the virtual parameters
(:data:`~study.spec.model.VIRTUAL`); settings that do not change what is learned, and the seed,
cannot be searched (:data:`_NOT_SEARCHABLE` says why, and the error repeats it). ``when`` reads
other searched parameters only; the parameters come back in dependency order. The values each
parameter can take are then checked against the trial config (:mod:`study.spec.checks`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from study.common.messages import (
    MAX_PLAIN_INT,
    finite,
    hint,
    is_number,
    key_text,
    kind_text,
    short,
)
from study.spec.checks import check_schedule_corners, check_start_sizes, check_values
from study.spec.model import (
    RESIZE_PARAMS,
    VIRTUAL,
    Condition,
    FileContext,
    Param,
    same_value,
    toml_value,
)
from trainable.config import TrialConfig

__all__ = ["parse_search"]

_NOT_SEARCHABLE = {
    "data": "a study compares trials on one data set; set it in [base]",
    "data_dir": "it is a folder, not a hyperparameter; set it in [base]",
    "device": "Ray places trials on devices; set it in [base] if you must",
    "seed": "trial seeds come from the study's top-level seed (confirmation runs add fresh ones)",
    "schedule": "search progressive, resize_start_scale, resize_frac and resize_mode instead",
    "threads": "it changes speed, not what is learned; set it in [base]",
    "checkpoint_keep": "it changes disk use, not what is learned; set it in [base]",
    "checkpoint_every_s": "it changes how much a lost trial redoes, not what is learned; set it in [base]",
    "compile": "it changes speed, not what is learned; set it in [base]",
    "bf16": "it is a runtime setting; set it in [base]",
    "channels_last": "it changes speed, not what is learned; set it in [base]",
    "fused_adamw": "it changes speed, not what is learned; set it in [base]",
    "cudnn_benchmark": "it changes speed, not what is learned; set it in [base]",
    "data_on_device": "it changes speed, not what is learned; set it in [base]",
}
_PARAM_KEYS = ("float", "int", "choice", "log", "step", "when")
_MAX_CHOICES = 1000
_MAX_PARAMS = 200


def parse_search(ctx: FileContext, raw: Any, base: dict[str, Any]) -> tuple[Param, ...]:
    """The parameters of a ``[search]`` table, in dependency order, each value checked against the trial config."""
    example = "write e.g. lr = { float = [1e-3, 1e-2], log = true }"
    if raw is None:
        ctx.fail("search", "", "is missing: nothing would be searched", f"add a [search] section; {example}")
    if not isinstance(raw, dict):
        ctx.fail("search", "", f"must be a table, got {kind_text(raw)}", f"write it as a [search] section; {example}")
    if not raw:
        ctx.fail("search", "", "is empty: every trial would be the same", f"add a parameter; {example}")
    if len(raw) > _MAX_PARAMS:
        ctx.fail("search", "", f"has {len(raw)} parameters", f"search at most {_MAX_PARAMS}")
    parsed = {name: _parse_param(ctx, name, table) for name, table in raw.items()}
    params = [dataclasses.replace(p, when=_parse_when(ctx, p.name, raw[p.name].get("when"), parsed)) for p in parsed.values()]
    ordered = _dependency_order(ctx, params)
    if base.get("schedule") and {"size", "epochs"} & set(parsed) and not ({"progressive", *RESIZE_PARAMS} & set(parsed)):
        ctx.fail("search", "size" if "size" in parsed else "epochs",
                 f"has no effect: base.schedule {base['schedule']!r} sets the sizes and epochs",
                 "remove schedule from [base], or search progressive")
    for p in ordered:
        check_values(ctx, p, base)
    check_start_sizes(ctx, ordered, base)
    check_schedule_corners(ctx, ordered, base)
    return tuple(ordered)


def _expected_type(name: str) -> str:
    if name in ("mixup", "progressive"):
        return "bool"
    if name in ("resize_start_scale", "resize_frac"):
        return "float"
    if name == "resize_mode":
        return "str"
    return next(str(f.type) for f in fields(TrialConfig) if f.name == name)


def _parse_param(ctx: FileContext, name: Any, table: Any) -> Param:
    known = [f.name for f in fields(TrialConfig)]
    if not isinstance(name, str) or name not in known and name not in VIRTUAL:
        ctx.fail("search", key_text(name), "not a TrialConfig key or virtual parameter" + hint(name, [*known, *VIRTUAL]),
                 f"search TrialConfig keys or one of {', '.join(VIRTUAL)}")
    if name in _NOT_SEARCHABLE:
        ctx.fail("search", name, f"cannot be searched: {_NOT_SEARCHABLE[name]}", "remove it from [search]")
    if not isinstance(table, dict):
        ctx.fail("search", name, f"must be a table like {{ float = [lo, hi] }}, got {short(table)}",
                 "to fix one value for every trial, put it in [base]")
    for k in table:
        if not isinstance(k, str) or k not in _PARAM_KEYS:
            ctx.fail("search", f"{name}.{key_text(k)}", "unknown key" + hint(k, _PARAM_KEYS), f"use {', '.join(_PARAM_KEYS)}")
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
          "float": all(is_number(v) for v in values)}[want]
    if not ok:
        takes = {"bool": "choice = [false, true]", "str": 'choice = ["a", "b"] (text)',
                 "int": "int = [lo, hi] or a choice of integers", "float": "float = [lo, hi] or a choice of numbers"}[want]
        article = {"bool": "a true/false", "str": "a text", "int": "an integer", "float": "a number"}[want]
        ctx.fail("search", name, f"is {article} setting, so {kind} = {short(table[kind])} does not fit", f"write {takes}")
    return param


def _parse_range(ctx: FileContext, name: str, kind: str, table: dict[str, Any]) -> Param:
    bounds = table[kind]
    fix = f"write {kind} = [lo, hi] with lo < hi, e.g. {kind} = " + ("[1e-3, 1e-2]" if kind == "float" else "[0, 8]")
    if not isinstance(bounds, list) or len(bounds) != 2 or not all(is_number(b) for b in bounds):
        ctx.fail("search", name, f"{kind} must be two numbers [lo, hi], got {short(bounds)}", fix)
    if kind == "int" and not all(isinstance(b, int) and abs(b) <= MAX_PLAIN_INT for b in bounds):
        ctx.fail("search", name, f"int bounds must be integers, got {short(bounds)}", f"write int = [{_int_hint(bounds)}] or use float")
    if not all(finite(b) for b in bounds):
        ctx.fail("search", name, f"bounds must be finite (and at most 2**53), got {short(bounds)}", fix)
    low, high = (bounds[0], bounds[1]) if kind == "int" else (float(bounds[0]), float(bounds[1]))
    if low > high:
        ctx.fail("search", name, f"the range [{low:g}, {high:g}] is inverted", f"write {kind} = [{high:g}, {low:g}]")
    if low == high:
        ctx.fail("search", name, f"the range [{low:g}, {high:g}] holds one value", f"set {name} = {low:g} in [base] instead")
    log = table.get("log", False)
    if not isinstance(log, bool):
        ctx.fail("search", f"{name}.log", f"must be true or false, got {short(log)}", "write log = true")
    if log and low <= 0:
        ctx.fail("search", name, f"a log scale needs lo > 0, got [{low:g}, {high:g}]", "raise lo above 0 or drop log = true")
    step = table.get("step")
    if step is not None:
        if log:
            ctx.fail("search", f"{name}.step", "cannot be combined with log = true", "drop one of step and log")
        good = isinstance(step, int) if kind == "int" else is_number(step)
        if not good or not finite(step) or not 0 < step <= high - low:
            ctx.fail("search", f"{name}.step", f"must be {'an integer' if kind == 'int' else 'a number'} in (0, {high - low:g}], got {short(step)}",
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


def _parse_choice(ctx: FileContext, name: str, table: dict[str, Any]) -> Param:
    choices = table["choice"]
    for k in ("log", "step"):
        if k in table:
            ctx.fail("search", f"{name}.{k}", "applies to float and int ranges, not to choice", f"drop {k}")
    if not isinstance(choices, list) or not choices:
        ctx.fail("search", name, f"choice must be a non-empty list, got {short(choices)}", 'write e.g. choice = ["none", "imagenet"]')
    if len(choices) > _MAX_CHOICES:
        ctx.fail("search", name, f"has {len(choices)} choices", f"keep it under {_MAX_CHOICES}, or use a range")
    for v in choices:
        bad = not isinstance(v, (str, int, float)) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_PLAIN_INT)
        if bad or (isinstance(v, float) and not math.isfinite(v)) or (isinstance(v, str) and len(v) > 4096):
            ctx.fail("search", name, f"choice {short(v)} is not a plain value", "use text, finite numbers or true/false")
    families = {"bool" if isinstance(v, bool) else "str" if isinstance(v, str) else "number" for v in choices}
    if len(families) > 1:
        ctx.fail("search", name, f"mixes types in choice = {short(choices)}", "use one type: all text, all numbers or all true/false")
    if families == {"number"} and any(isinstance(v, float) for v in choices):
        choices = [float(v) for v in choices]
    seen: list[Any] = []
    for v in choices:
        if any(same_value(v, s) for s in seen):
            ctx.fail("search", name, f"lists {short(v)} twice", "list each choice once")
        seen.append(v)
    return Param(name=name, kind="choice", choices=tuple(choices))


def _parse_when(ctx: FileContext, name: str, raw: Any, params: Mapping[str, Param]) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    key = f"{name}.when"
    if not isinstance(raw, dict) or not raw:
        ctx.fail("search", key, f"must be a non-empty table of conditions, got {short(raw)}", "write e.g. when = { mixup = true }")
    out = []
    for ref, cond in raw.items():
        if ref == name:
            ctx.fail("search", key, "a parameter cannot depend on itself", f"drop {name} from its own when")
        if not isinstance(ref, str) or ref not in params:
            others = [n for n in params if n != name]
            ctx.fail("search", key, f"refers to {short(ref)}, which is not searched" + hint(ref, others),
                     "condition only on parameters in [search]")
        out.append(_parse_condition(ctx, f"{key}.{ref}", params[ref], cond))
    return tuple(out)


def _parse_condition(ctx: FileContext, key: str, ref: Param, cond: Any) -> Condition:
    domain = f"choice [{', '.join(map(toml_value, ref.choices))}]" if ref.kind == "choice" else f"{ref.kind} [{ref.low:g}, {ref.high:g}]"
    if isinstance(cond, dict):
        for k in cond:
            if k not in ("min", "max"):
                ctx.fail("search", key, f"unknown key {short(k)}" + hint(k, ("min", "max")), "write { min = x, max = y }")
        if not cond or not all(finite(v) for v in cond.values()):
            ctx.fail("search", key, f"min/max must be finite numbers, got {short(cond)}", "write e.g. { min = 1 }")
        low, high = float(cond.get("min", -math.inf)), float(cond.get("max", math.inf))
        numbers = [v for v in ref.choices if is_number(v)] if ref.kind == "choice" else [ref.low, ref.high]
        if ref.kind == "choice" and len(numbers) != len(ref.choices):
            ctx.fail("search", key, f"min/max needs numbers, but {ref.name} is {domain}", "list the values instead")
        reachable = any(low <= v <= high for v in numbers) if ref.kind == "choice" else low <= ref.high and high >= ref.low and low <= high  # type: ignore[operator]
        if not reachable:
            shown = ", ".join(f"{k} = {toml_value(v)}" for k, v in cond.items())
            ctx.fail("search", key, f"{{ {shown} }} never holds: {ref.name} is {domain}", "make the bounds overlap the values")
        return Condition(ref.name, low=low, high=high)
    values = cond if isinstance(cond, list) else [cond]
    if not values:
        ctx.fail("search", key, "an empty list never holds", f"list values of {ref.name}")
    for v in values:
        if ref.kind == "choice":
            ok = any(same_value(v, c) for c in ref.choices)
        else:
            ok = finite(v) and ref.low <= v <= ref.high  # type: ignore[operator]
        if not ok:
            ctx.fail("search", key, f"{short(v)} is not a value of {ref.name} ({domain})", f"use a value {ref.name} can take")
    return Condition(ref.name, values=tuple(values))


def _dependency_order(ctx: FileContext, params: list[Param]) -> list[Param]:
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



def _int_hint(bounds: list[Any]) -> str:
    try:
        return ", ".join(str(int(b)) for b in bounds)
    except (OverflowError, ValueError):
        return "0, 8"
