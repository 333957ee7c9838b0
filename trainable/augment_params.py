"""The knobs of the batch augmentation and their bounds, kept once (no torch here).

``TrialConfig`` validates its augmentation fields with :func:`augment_problem`, and
:class:`AugmentParams` (what ``trainable.augment`` draws from) checks itself with the same
function, so the two can never accept different values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

__all__ = ["AUGMENT_BOUNDS", "AugmentParams", "Bound", "augment_params", "augment_problem"]


class Bound(NamedTuple):
    """An interval ``lo .. hi``; ``lo_open`` / ``hi_open`` exclude the end point."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    unit: str = ""
    why: str = ""

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above and below

    def __str__(self) -> str:
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{left}{self.lo:g}, {self.hi:g}{right}" + (f" {self.unit}" if self.unit else "")


AUGMENT_BOUNDS: dict[str, Bound] = {
    "min_scale": Bound(0.0, 1.0, lo_open=True),
    "max_rotate": Bound(0.0, 180.0, unit="degrees"),
    "max_zoom": Bound(1.0, 4.0),
    # At 0.5 the keystone quadrilateral folds over (a corner crosses the opposite diagonal), so
    # the homography stops being a warp of the image; below it, it stays invertible on every point
    # a rotated, zoomed output can reach (radius sqrt(2)).
    "max_warp": Bound(0.0, 0.5, hi_open=True, why="0.5 folds the image"),
    "max_lighting": Bound(0.0, 1.0, hi_open=True),
    "p_affine": Bound(0.0, 1.0),
    "p_lighting": Bound(0.0, 1.0),
}


def augment_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``name`` (one of :data:`AUGMENT_BOUNDS`), or None if it is."""
    bound = AUGMENT_BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not bound.holds(float(value)):
        why = f" ({bound.why})" if bound.why else ""
        return f"{name} must be in {bound}{why}, got {name}={value!r}"
    return None


@dataclass(frozen=True)
class AugmentParams:
    """Knobs of fastai's ``aug_transforms(size, min_scale=...)``; defaults are fastai's."""

    min_scale: float = 0.75  # smallest area fraction of the P x P input kept by the square crop
    flip: bool = True  # horizontal flip with probability 0.5
    max_rotate: float = 10.0  # degrees; angle ~ U(-max_rotate, max_rotate)
    max_zoom: float = 1.1  # zoom factor ~ U(1, max_zoom), centred at a random point
    max_warp: float = 0.2  # perspective (keystone) magnitude ~ U(-max_warp, max_warp), per axis
    max_lighting: float = 0.2  # brightness / contrast change, as in fastai's Brightness/Contrast
    p_affine: float = 0.75  # probability of each of rotate, zoom, warp (drawn independently)
    p_lighting: float = 0.75  # probability of each of brightness, contrast (drawn independently)

    def __post_init__(self) -> None:
        for name in AUGMENT_BOUNDS:
            problem = augment_problem(name, getattr(self, name))
            if problem is not None:
                raise ValueError(problem)


def augment_params(config: Any) -> AugmentParams:
    """The :class:`AugmentParams` of a ``TrialConfig`` (its fields of the same names)."""
    return AugmentParams(**{f.name: getattr(config, f.name) for f in fields(AugmentParams)})
