"""The book's recipes, expressed in a study's parameters: the seed trials every study starts with.

Chapter 7 adds one technique at a time to a baseline; a study evaluates those recipes first
(enqueued in Optuna), so it always contains the baseline it must beat.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["seed_points"]




def _fits(param: Any, value: Any) -> bool:
    if param.kind == "choice":
        return value in param.choices
    return param.low <= value <= param.high


def seed_points(spec: Any, base: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(label, params)`` for the book's recipes, restricted to what the space can express.

    The baseline turns every technique off (no normalization, mixup, smoothing, progressive
    resizing or TTA) at the base config's learning rate and size; each further recipe adds one
    technique, as chapter 7 does.
    """
    params = {p.name: p for p in spec.params}
    norm = "dataset" if "normalize" in params and "dataset" in params["normalize"].choices else "imagenet"
    off = {"normalize": "none", "mixup": False, "mixup_alpha": 0.0, "label_smoothing": 0.0, "progressive": False, "tta_n": 0,
           "lr": base.lr, "size": base.size}
    recipes = [
        ("baseline", {}),
        ("normalized", {"normalize": norm}),
        ("progressive", {"normalize": norm, "progressive": True, "resize_mode": "fine_tune", "resize_frac": 0.6,
                         "resize_start_scale": 0.5}),
        ("progressive-tta", {"normalize": norm, "progressive": True, "resize_mode": "fine_tune", "resize_frac": 0.6,
                             "resize_start_scale": 0.5, "tta_n": 4, "tta_beta": 0.25}),
        ("mixup", {"normalize": norm, "mixup": True, "mixup_alpha": 0.4}),
        ("label-smoothing", {"normalize": norm, "label_smoothing": 0.1}),
    ]
    out, seen = [], set()
    for label, changes in recipes:
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
        key = json.dumps(point, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((label, point))
    return out
