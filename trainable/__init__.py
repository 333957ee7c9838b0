"""xresnet training pipeline of fastbook chapter 7, in plain PyTorch.

Public names are imported lazily (PEP 562), so that ``import trainable.config`` — and therefore
``study --help`` — does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrialConfig": "trainable.config",
    "ConfigError": "trainable.config",
    "PRESETS": "trainable.presets",
    "preset": "trainable.presets",
    "one_cycle": "trainable.schedules",
    "parse_schedule": "trainable.schedules",
    "xresnet18": "trainable.models",
    "xresnet34": "trainable.models",
    "xresnet50": "trainable.models",
    "xresnet101": "trainable.models",
    "build_model": "trainable.models",
    "mixup": "trainable.mixup",
    "mixup_loss": "trainable.mixup",
    "tta_combine": "trainable.tta",
    "augment_batch": "trainable.augment",
    "AugmentParams": "trainable.augment",
    "Runtime": "trainable.runtime",
    "run_trial": "trainable.train",
    "TrialResult": "trainable.train",
    "TrialStopped": "trainable.train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trainable' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
