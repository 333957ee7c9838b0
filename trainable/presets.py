"""The book's recipes (fastbook chapter 7) and small CPU recipes, as data.

Each preset is a dict of overrides on :class:`~trainable.config.TrialConfig`'s defaults. The book's
recipes train xresnet50 on Imagenette (full size, presized to 460 px); the ``cpu-*`` recipes train
xresnet18 on the embedded generated set in about a minute on a 2-core CPU, and show the same
techniques at a scale a CPU can afford: presize 72, 48 px (where the embedded set's stripes are
resolved; at 32 px they are averaged away), 4 epochs (the baseline reaches 0.75 +- 0.05 accuracy over
seeds 0-2; 3 epochs stopped near 0.55 in a first test).
"""

from __future__ import annotations

from typing import Any

from trainable.config import ConfigError, TrialConfig

__all__ = ["PRESETS", "DEFAULT_PRESET", "preset"]

_BOOK = {
    "data": "imagenette",
    "model": "xresnet50",
    "presize": 460,
    "batch_size": 64,
    "epochs": 5,
    "size": 224,
    "lr": 3e-3,
    "min_scale": 0.75,
    "normalize": "none",
}
# The book's progressive resizing: fit_one_cycle(4, 3e-3) at 128 px, then fine_tune(5, 1e-3) at 224.
_BOOK_PROGRESSIVE = "128x4@3e-3,224x5@1e-3:fine_tune"

_CPU = {
    "data": "embedded",
    "model": "xresnet18",
    "presize": 72,  # > 2 x 32 px, so that 32-px training views are antialiased like validation's
    "batch_size": 32,
    "epochs": 4,
    "size": 48,
    "lr": 3e-3,
    "normalize": "none",
}
# The book's shape at CPU scale: half the epochs at 2/3 of the size, then fine_tune at 48 px.
_CPU_PROGRESSIVE = "32x2@3e-3,48x1@1e-3:fine_tune"

PRESETS: dict[str, dict[str, Any]] = {
    # --- fastbook chapter 7, in the order the chapter adds them ---
    "book-baseline": dict(_BOOK),
    "book-normalized": {**_BOOK, "normalize": "imagenet"},
    "book-progressive": {**_BOOK, "normalize": "imagenet", "schedule": _BOOK_PROGRESSIVE},
    "book-progressive-tta": {**_BOOK, "normalize": "imagenet", "schedule": _BOOK_PROGRESSIVE, "tta_n": 4},
    "book-mixup": {**_BOOK, "normalize": "imagenet", "mixup_alpha": 0.4},
    "book-label-smoothing": {**_BOOK, "normalize": "imagenet", "label_smoothing": 0.1},
    # --- the same recipes at CPU scale, on the embedded data set ---
    "cpu-baseline": dict(_CPU),
    "cpu-normalized": {**_CPU, "normalize": "dataset"},
    "cpu-progressive": {**_CPU, "normalize": "dataset", "schedule": _CPU_PROGRESSIVE},
    "cpu-progressive-tta": {**_CPU, "normalize": "dataset", "schedule": _CPU_PROGRESSIVE, "tta_n": 4},
    "cpu-mixup": {**_CPU, "normalize": "dataset", "mixup_alpha": 0.4},
    "cpu-label-smoothing": {**_CPU, "normalize": "dataset", "label_smoothing": 0.1},
    # a few seconds: for tests and smoke checks
    "tiny": {**_CPU, "presize": 48, "size": 32, "epochs": 2, "batch_size": 32},
}

DEFAULT_PRESET = "cpu-baseline"


def preset(name: str, **overrides: Any) -> TrialConfig:
    """The named preset as a :class:`TrialConfig`, with ``overrides`` applied on top."""
    if name not in PRESETS:
        import difflib

        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown preset {name!r}{hint}; choose one of: {', '.join(PRESETS)}")
    return TrialConfig.from_dict({**PRESETS[name], **overrides})
