"""The model architectures a config may name, as data: fastai's XResNet depths (no torch here, so a
config validates its ``model`` without importing it; :mod:`trainable.models.xresnet` builds them)."""

from __future__ import annotations

__all__ = ["ARCHITECTURES", "MODEL_NAMES"]

# name -> (block expansion: 1 basic, 4 bottleneck; blocks per stage). He et al. 2016, table 1.
ARCHITECTURES: dict[str, tuple[int, tuple[int, int, int, int]]] = {
    "xresnet18": (1, (2, 2, 2, 2)),  # 11.7 M parameters at n_out=1000
    "xresnet34": (1, (3, 4, 6, 3)),  # 21.8 M
    "xresnet50": (4, (3, 4, 6, 3)),  # 25.6 M (fastbook chapter 7)
    "xresnet101": (4, (3, 4, 23, 3)),  # 44.6 M
}
MODEL_NAMES = tuple(ARCHITECTURES)
