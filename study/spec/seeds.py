"""The book's recipes, expressed in a study's parameters: the seed trials every study starts with.

Chapter 7 adds one technique at a time to a baseline; a study evaluates those recipes first
(enqueued in Optuna), so it always contains the baseline it must beat. Each recipe is the
baseline with exactly one technique switched on (one factor at a time), so that every technique is
tried once on the same footing and its recipe measures that technique alone. (The book stacks
them: its later sections start from the normalized model, and its TTA section evaluates the
progressively resized one. Stacked, a recipe's score mixes two techniques; one at a time, the
confirmation's runs of a recipe and of the baseline on the same seed differ in that technique
only. TPE combines techniques afterwards.) A recipe is
restricted to what the study's space can express: a technique the space cannot switch on stays
off, and the recipe's label then names only the techniques that did make it; a recipe left with
none of its techniques is the same point as an earlier one and is not repeated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from study.spec.model import Param, StudySpec
    from trainable.config import TrialConfig

__all__ = ["RECIPE_TECHNIQUE", "seed_points"]

# A recipe of the chapter, and whether a seed point (its parameters in the space) switches its technique on.
_TECHNIQUES: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "normalized": lambda p: p.get("normalize", "none") != "none",
    "progressive": lambda p: p.get("progressive") is True,
    "tta": lambda p: p.get("tta_n", 0) > 0,
    "mixup": lambda p: p["mixup"] is True if "mixup" in p else p.get("mixup_alpha", 0.0) > 0,
    "label-smoothing": lambda p: p.get("label_smoothing", 0.0) > 0,
    "smaller-images": lambda p: "size" in p,
}
# Each one-technique recipe and the technique it measures (study.analysis.ablation.TECHNIQUES' names).
RECIPE_TECHNIQUE = {
    "normalized": "normalization",
    "progressive": "progressive resizing",
    "tta": "test-time augmentation",
    "mixup": "mixup",
    "label-smoothing": "label smoothing",
    "smaller-images": "image size",
}


def _fits(param: Param, value: Any) -> bool:
    if param.kind == "choice":
        return value in param.choices
    return param.low <= value <= param.high  # type: ignore[operator]


def _smaller_size(param: Param | None, size: int) -> int | None:
    """The size of the image-size recipe: the space's largest size below the base's (None: none there)."""
    if param is None:
        return None
    if param.kind == "choice":
        below = [c for c in param.choices if isinstance(c, int) and not isinstance(c, bool) and c < size]
        return max(below) if below else None
    return int(param.low) if param.low is not None and param.low < size else None  # type: ignore[operator]


def seed_points(spec: StudySpec, base: TrialConfig) -> list[tuple[str, dict[str, Any]]]:
    """``(label, params)`` for the book's recipes, restricted to what the space can express.

    The baseline turns every technique off (no normalization, mixup, smoothing, progressive
    resizing or TTA) at the base config's learning rate and size; each further recipe switches one
    technique on. A label names the recipe's techniques that the point switches
    on, so it never promises one the space could not express.
    """
    params = {p.name: p for p in spec.params}
    norm = "dataset" if "normalize" in params and "dataset" in params["normalize"].choices else "imagenet"
    off = {"normalize": "none", "mixup": False, "mixup_alpha": 0.0, "label_smoothing": 0.0, "progressive": False, "tta_n": 0,
           "lr": base.lr, "size": base.size}
    progressive = {"progressive": True, "resize_mode": "fine_tune", "resize_frac": 0.6, "resize_start_scale": 0.5}
    recipes: list[tuple[tuple[str, ...], dict[str, Any]]] = [  # (the techniques it adds, its values)
        ((), {}),
        (("normalized",), {"normalize": norm}),
        (("progressive",), progressive),
        (("tta",), {"tta_n": 4, "tta_beta": 0.25}),
        (("mixup",), {"mixup": True, "mixup_alpha": 0.4}),
        (("label-smoothing",), {"label_smoothing": 0.1}),
    ]
    smaller = _smaller_size(params.get("size"), base.size)
    if smaller is not None:  # image size is searched: the baseline at the nearest smaller size the space has
        recipes.append((("smaller-images",), {"size": smaller}))
    out, seen = [], set()
    for techniques, changes in recipes:
        point = {}
        for k, v in {**off, **changes}.items():
            if k not in params:
                continue
            if _fits(params[k], v):
                point[k] = v
            elif k in off and _fits(params[k], off[k]):
                point[k] = off[k]  # the recipe's value is outside the space: that technique stays off
        if "mixup" in point and not point["mixup"]:
            point.pop("mixup_alpha", None)
        if not point.get("progressive"):
            for k in ("resize_mode", "resize_frac", "resize_start_scale"):
                point.pop(k, None)
        if not point.get("tta_n"):
            point.pop("tta_beta", None)
        ran = [t for t in techniques if _TECHNIQUES[t](point) and (t != "smaller-images" or point.get("size") != base.size)]
        if techniques and not ran:
            continue  # none of the recipe's techniques fits the space: nothing of it to run
        key = json.dumps(point, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(("-".join(ran) or "baseline", point))
    return out
