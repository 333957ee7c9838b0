"""Test-time augmentation: combine the plain pass with passes over augmented copies.

fastbook ch. 7 / fastai ``Learner.tta(n=4, beta=0.25, use_max=False)``: predict the validation
set once without augmentation and ``n`` times with the training augmentation, then blend. The
passes themselves are ordinary evaluation loops over ``augment_batch``; this module only holds
the (pure, testable) combination rule.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["tta_combine"]


def tta_combine(
    plain: Tensor, augmented: Tensor, beta: float = 0.25, use_max: bool = False
) -> Tensor:
    """Blend plain and augmented predictions the way fastai's ``Learner.tta`` does.

    * ``use_max=False``: ``(1 - beta) * augmented.mean(0) + beta * plain`` (fastai's
      ``torch.lerp(aug_preds, preds, beta)``).
    * ``use_max=True``: the elementwise max over the plain pass AND every augmented pass
      (fastai: ``aug_preds.max(0)``, then ``torch.stack([preds, aug_preds]).max(0)``); ``beta``
      is then unused, as in fastai, but still validated.

    Args:
        plain: ``(N, C)`` probabilities (softmax) of the un-augmented pass.
        augmented: ``(n, N, C)`` probabilities of ``n`` augmented passes; ``n`` may be 0, and then
            the result is ``plain``.
        beta: weight of the plain pass, in [0, 1].
        use_max: take the max over passes instead of blending.

    Returns:
        ``(N, C)`` combined probabilities, a new tensor.
    """
    if not (math.isfinite(beta) and 0.0 <= beta <= 1.0):
        raise ValueError(f"tta beta must be in [0, 1], got {beta=}")
    if plain.ndim != 2:
        raise ValueError(f"plain predictions must be (N, C), got shape {tuple(plain.shape)}")
    if augmented.ndim != 3 or augmented.shape[1:] != plain.shape:
        raise ValueError(
            f"augmented predictions must be (n, N, C) = (n, {plain.shape[0]}, {plain.shape[1]}), "
            f"got shape {tuple(augmented.shape)}"
        )
    if augmented.shape[0] == 0:
        return plain.clone()
    augmented = augmented.to(plain)
    if use_max:
        return torch.maximum(augmented.amax(dim=0), plain)
    return torch.lerp(augmented.mean(dim=0), plain, beta)
