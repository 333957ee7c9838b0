"""Panel 2, technique effects: the objective of every finished search trial against each searched
technique's value, with its marginal (per level, or per quantile bin of a number), and the seed
noise the confirmation runs measured, so that a difference can be read against it.

The noise band: σ is the pooled standard deviation of the objective across fresh seeds of the
same configuration (confirmation runs). Two levels' means differ by more than noise when the gap
exceeds 2σ; the band spans [best level − 2σ, best level], so a level whose mean lies inside it
is not told apart from the best by these runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dashboards.tables import StudyTables, Trial

__all__ = ["TECHNIQUES", "Effect", "EffectsInfo", "Level", "Point", "effects_info", "seed_noise"]

# The chapter's techniques in the book's order, with the words a reader knows them by.
TECHNIQUES = {
    "normalize": "normalization",
    "progressive": "progressive resizing",
    "resize_start_scale": "progressive resizing: start scale",
    "resize_frac": "progressive resizing: share of epochs at the start size",
    "resize_mode": "progressive resizing: mode",
    "presize": "presizing (px)",
    "min_scale": "presizing: min crop scale",
    "mixup": "mixup",
    "mixup_alpha": "mixup α",
    "label_smoothing": "label smoothing ε",
    "tta_n": "TTA passes",
    "tta_beta": "TTA β",
    "size": "image size (px)",
    "lr": "learning rate",
}
BINS = 5  # quantile bins of a numeric parameter's marginal
MAX_LEVELS = 6  # a numeric parameter with at most this many distinct values is shown per level


@dataclass(frozen=True)
class Point:
    x: Any
    objective: float
    name: str
    epochs: int  # epochs done (pruned trials: the rung they stopped at)


@dataclass(frozen=True)
class Level:
    x: Any  # the level, or a bin's median
    label: str
    mean: float
    n: int


@dataclass(frozen=True)
class Effect:
    param: str
    title: str
    numeric: bool
    log: bool
    finished: tuple[Point, ...]
    pruned: tuple[Point, ...]
    marginal: tuple[Level, ...]
    band: tuple[float, float] | None  # [best level − 2σ, best level]
    exceeds_noise: bool | None  # whether the marginal's range is wider than 2σ (None: no σ)


@dataclass(frozen=True)
class EffectsInfo:
    effects: tuple[Effect, ...]
    noise_sd: float | None  # σ, pooled over confirmed configurations
    noise_df: int  # degrees of freedom behind σ (seeds − configurations)
    reason: str | None = None


def seed_noise(tables: StudyTables) -> tuple[float | None, int]:
    """(σ, degrees of freedom): the pooled standard deviation of the objective over fresh seeds.

    Pooled over configurations: sqrt(Σ (n_i − 1) s_i² / Σ (n_i − 1)); None without a configuration
    confirmed with two seeds or more.
    """
    groups: dict[str, list[float]] = {}
    for t in tables.finished("confirm"):
        if t.label is not None and t.objective is not None:
            groups.setdefault(t.label, []).append(t.objective)
    ss, df = 0.0, 0
    for values in groups.values():
        if len(values) >= 2:
            mean = sum(values) / len(values)
            ss += sum((v - mean) ** 2 for v in values)
            df += len(values) - 1
    return (math.sqrt(ss / df), df) if df else (None, 0)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _order(tables: StudyTables) -> list[str]:
    seen = [p for p in tables.meta.search_params]
    for t in tables.phase("search"):
        seen += [k for k in t.params if k not in seen]
    known = [p for p in TECHNIQUES if p in seen]
    return known + [p for p in seen if p not in TECHNIQUES]


def _marginal(points: list[Point], numeric: bool) -> list[Level]:
    if not points:
        return []
    distinct = sorted({p.x for p in points}, key=lambda v: (str(type(v)), v))
    if not numeric or len(distinct) <= MAX_LEVELS:
        levels = []
        for x in distinct:
            ys = [p.objective for p in points if p.x == x]
            levels.append(Level(x, _label(x), sum(ys) / len(ys), len(ys)))
        return levels
    ordered = sorted(points, key=lambda p: p.x)
    n = len(ordered)
    levels = []
    for b in range(BINS):
        chunk = ordered[b * n // BINS:(b + 1) * n // BINS]
        if not chunk:
            continue
        xs = [p.x for p in chunk]
        ys = [p.objective for p in chunk]
        levels.append(Level(xs[len(xs) // 2], f"{_label(xs[0])}–{_label(xs[-1])}", sum(ys) / len(ys), len(ys)))
    return levels


def _label(x: Any) -> str:
    from dashboards.format import value

    return value(x)


def _effect(param: str, trials: list[Trial], log: bool, sd: float | None) -> Effect | None:
    finished = [Point(t.params[param], t.objective, t.name, len(t.epochs))
                for t in trials if t.finished and param in t.params and t.objective is not None]
    pruned = [Point(t.params[param], t.objective, t.name, len(t.epochs))
              for t in trials if t.outcome in ("pruned", "budget") and param in t.params and t.objective is not None]
    if not finished and not pruned:
        return None
    numeric = all(_is_number(p.x) for p in finished + pruned)
    marginal = _marginal(finished, numeric)
    band = exceeds = None
    if marginal and sd is not None:
        top = max(lv.mean for lv in marginal)
        band = (top - 2 * sd, top)
        exceeds = (top - min(lv.mean for lv in marginal)) > 2 * sd
    return Effect(param, TECHNIQUES.get(param, param), numeric, log, tuple(finished), tuple(pruned), tuple(marginal),
                  band, exceeds)


def effects_info(tables: StudyTables) -> EffectsInfo:
    sd, df = seed_noise(tables)
    trials = tables.phase("search")
    if not any(t.params for t in trials):
        return EffectsInfo((), sd, df, reason="no search trial recorded searched values (the study searched nothing, or has no trial yet)")
    effects = [e for p in _order(tables) if (e := _effect(p, trials, p in tables.meta.log_params, sd)) is not None]
    if not any(e.finished for e in effects):
        return EffectsInfo(tuple(effects), sd, df, reason="no search trial finished: there is no objective to plot against the techniques")
    return EffectsInfo(tuple(effects), sd, df)
