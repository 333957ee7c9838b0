"""The ``[search]`` parameters against :class:`~trainable.config.TrialConfig`, before anything runs.

Every value the sampler can draw must give a valid trial config, so a trial never fails on its
config: each bound and choice of each parameter is tried on the base config, and every corner of
the parameters that build the resize schedule (size, epochs, lr, presize and the virtual resize
parameters) is translated as a trial would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from study.common.errors import UsageError
from study.common.messages import hint, is_number, short
from study.spec.model import (
    RESIZE_DEFAULTS,
    RESIZE_PARAMS,
    VIRTUAL,
    FileContext,
    Param,
    toml_value,
)
from study.spec.translate import build_config
from trainable.config import ConfigError, TrialConfig
from trainable.schedules import MODES, resize_start_size

__all__ = ["check_schedule_corners", "check_start_sizes", "check_values", "range_values"]

_SCHEDULE_GROUP = {"size", "epochs", "lr", "presize", "progressive", *RESIZE_PARAMS}


def range_values(p: Param, limit: int = 64) -> list[Any]:
    """The values to check: every choice; an int range whole when small, else its ends; a float range's ends."""
    if p.kind == "choice":
        return list(p.choices)
    if p.kind == "int":
        step = p.step or 1
        top = p.low + (p.high - p.low) // step * step  # type: ignore[operator]
        count = (top - p.low) // step + 1  # type: ignore[operator]
        return list(range(p.low, top + 1, step)) if count <= limit else [p.low, top]  # type: ignore[arg-type]
    return [p.low, p.high]


def check_values(ctx: FileContext, p: Param, base: dict[str, Any]) -> None:
    """Each value of ``p`` (see :func:`range_values`) on the base config gives a valid TrialConfig."""
    fix = "narrow the range (or the choices) to values the trial accepts"
    if p.name in ("resize_start_scale", "resize_frac"):
        for v in range_values(p):
            if not 0 < v < 1:
                ctx.fail("search", p.name, f"must stay in (0, 1), got {v:g}", fix)
    elif p.name == "resize_mode":
        for v in p.choices:
            if v not in MODES:
                ctx.fail("search", p.name, f"unknown mode {short(v)}" + hint(v, MODES), f"use {', '.join(MODES)}")
    elif p.name not in VIRTUAL:
        for v in range_values(p):
            try:
                TrialConfig.from_dict({**base, p.name: v})
            except ConfigError as e:
                ctx.fail("search", p.name, str(e), fix)


def check_start_sizes(ctx: FileContext, params: list[Param], base: dict[str, Any]) -> None:
    """s1 < size for every size the sampler can draw, at the largest start scale (s1 grows with it)."""
    if not _may_be_progressive(params):
        return
    size_p = next((p for p in params if p.name == "size"), None)
    sizes = [base.get("size", TrialConfig.size)] if size_p is None else range_values(size_p, limit=5000)
    scale_p = next((p for p in params if p.name == "resize_start_scale"), None)
    scale = RESIZE_DEFAULTS["resize_start_scale"] if scale_p is None else max(range_values(scale_p))
    for size in sizes:
        s1 = resize_start_size(size, scale)
        if s1 >= size:
            ctx.fail("search", "resize_start_scale",
                     f"at scale {scale:g} and size {size} px the start size is {s1} px, not smaller than the final size",
                     "lower the largest resize_start_scale or search larger sizes")


def check_schedule_corners(ctx: FileContext, params: list[Param], base: dict[str, Any]) -> None:
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
            build_config(base, {k: v for k, v in corner.items() if k not in VIRTUAL},
                         {k: v for k, v in corner.items() if k in VIRTUAL})
        except UsageError as e:
            ctx.fail("search", ", ".join(f"{k} = {toml_value(v)}" for k, v in corner.items()), str(e),
                     "narrow these ranges so that every combination gives a valid trial")


def _may_be_progressive(params: list[Param]) -> bool:
    names = {p.name for p in params}
    prog = next((p for p in params if p.name == "progressive"), None)
    return True in prog.choices if prog is not None else bool(names & set(RESIZE_PARAMS))


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
        values = range_values(p, limit=0) if p.kind != "choice" else list(p.choices)
        if p.kind == "choice" and all(is_number(v) for v in values):
            values = sorted({min(values), max(values)})
        for v in values:
            yield from _corners(rest, {**assigned, p.name: v}, names)
