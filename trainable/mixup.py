"""Mixup (Zhang et al. 2017, "mixup: Beyond Empirical Risk Minimization"), fastai's variant.

fastai's ``MixUp`` callback (fastbook ch. 7) draws one lambda per sample from Beta(alpha, alpha),
keeps ``max(lambda, 1 - lambda)`` so that the first image dominates, mixes every image with a
random partner from the same batch, and mixes the two losses with the same weights. Here that is
a pure batch function plus a loss, with the randomness from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["MixedBatch", "mixup", "mixup_loss", "sample_beta"]

# Candidates drawn per Gamma variate by the vectorised Marsaglia-Tsang sampler. Each is accepted
# with probability > 0.95 (shape >= 1), so all 16 are rejected with probability < 1e-20.
_GAMMA_CANDIDATES = 16


class MixedBatch(NamedTuple):
    """Mixed inputs and the two targets whose losses are weighted by ``lam`` and ``1 - lam``."""

    x: Tensor  # lam * x + (1 - lam) * x[perm], same shape/dtype as the input
    y_a: Tensor  # the original targets y
    y_b: Tensor  # the partners' targets y[perm]
    lam: Tensor  # (B,) weights in [0.5, 1], float32, on x's device


def mixup(
    x: Tensor, y: Tensor, alpha: float, generator: torch.Generator | None = None
) -> MixedBatch:
    """Mix each sample with a random partner: ``lam * x + (1 - lam) * x[perm]``.

    Args:
        x: float inputs ``(B, ...)`` (after augmentation), on the model's device.
        y: targets ``(B, ...)``, e.g. int64 class indices ``(B,)``.
        alpha: Beta(alpha, alpha) concentration; 0 turns mixup off (x returned, ``lam`` all 1).
        generator: on x's device; None uses torch's default generator for that device.

    Returns:
        ``MixedBatch(x, y_a, y_b, lam)`` with per-sample ``lam = max(l, 1 - l)``, l ~ Beta(a, a).
    """
    if not (math.isfinite(alpha) and alpha >= 0.0):
        raise ValueError(f"mixup alpha must be a finite number >= 0, got {alpha=}")
    if not x.is_floating_point():
        raise ValueError(f"mixup needs float inputs, got dtype {x.dtype}")
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y need the same batch size, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(
            f"generator must live on x's device {x.device}, got generator.device={generator.device}"
        )
    n = x.shape[0]
    if alpha == 0.0:
        return MixedBatch(x, y, y, torch.ones(n, device=x.device))
    lam = sample_beta(n, float(alpha), generator, x.device)
    lam = torch.maximum(lam, 1.0 - lam)  # fastai: the sample's own image always dominates
    perm = torch.randperm(n, generator=generator, device=x.device)
    weight = lam.to(x.dtype).view(n, *([1] * (x.ndim - 1)))
    mixed = torch.lerp(x[perm], x, weight)  # = lam * x + (1 - lam) * x[perm]
    return MixedBatch(mixed, y, y[perm], lam)


def mixup_loss(
    logits: Tensor, y_a: Tensor, y_b: Tensor, lam: Tensor, label_smoothing: float = 0.0
) -> Tensor:
    """``mean(lam * CE(logits, y_a) + (1 - lam) * CE(logits, y_b))``, per-sample weights.

    Mixing the losses equals the cross-entropy against the mixed one-hot targets (Zhang et al.
    2017, eq. 1), and label smoothing stays a parameter of ``F.cross_entropy`` (fastbook ch. 7).
    With ``lam`` all 1 this is plain (label-smoothed) cross-entropy.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing=}")
    n = logits.shape[0]
    if lam.shape != (n,) or y_a.shape[:1] != (n,) or y_b.shape[:1] != (n,):
        raise ValueError(
            f"need y_a, y_b and lam for each of the {n} samples, got shapes "
            f"{tuple(y_a.shape)}, {tuple(y_b.shape)}, {tuple(lam.shape)}"
        )
    loss_a = F.cross_entropy(logits, y_a, reduction="none", label_smoothing=label_smoothing)
    loss_b = F.cross_entropy(logits, y_b, reduction="none", label_smoothing=label_smoothing)
    return torch.lerp(loss_b, loss_a, lam.to(loss_a.dtype)).mean()


def sample_beta(
    n: int,
    alpha: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """``n`` draws from Beta(alpha, alpha), every random number from ``generator``.

    ``torch.distributions.Beta`` (and ``torch._standard_gamma``) take no generator, so a seeded
    epoch could not be replayed on its own. Instead: Beta = G1 / (G1 + G2) with G ~ Gamma(alpha),
    each Gamma by Marsaglia & Tsang, "A simple method for generating gamma variables" (2000),
    vectorised with a fixed number of candidates (no data-dependent loop, so no device sync), and
    boosted for alpha < 1 as Gamma(alpha) = Gamma(alpha + 1) * U^(1 / alpha), kept in log space so
    tiny alphas do not underflow.

    Returns:
        float32 ``(n,)`` in [0, 1] on ``device`` (default: the generator's device, else CPU).
    """
    if not (math.isfinite(alpha) and alpha > 0.0):
        raise ValueError(f"Beta concentration must be finite and > 0, got {alpha=}")
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    log_g = _log_gamma_variates(2 * n, alpha, generator, torch.device(device)).view(2, n)
    return torch.sigmoid(log_g[0] - log_g[1])  # G1 / (G1 + G2), stable in log space


def _log_gamma_variates(
    n: int, alpha: float, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """log of ``n`` Gamma(alpha, 1) draws (Marsaglia & Tsang 2000, with the alpha < 1 boost)."""
    shape = alpha + 1.0 if alpha < 1.0 else alpha
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    k = _GAMMA_CANDIDATES
    z = torch.randn(n, k, generator=generator, device=device)
    u = torch.rand(n, k, generator=generator, device=device)
    v = (1.0 + c * z) ** 3
    log_v = torch.log(v.clamp_min(1e-30))
    accept = (v > 0) & (torch.log(u) < 0.5 * z * z + d - d * v + d * log_v)
    # First accepted candidate per row; argmax on the 0/1 mask picks the first True. If a row
    # had no accepted candidate (p < 1e-20) it takes candidate 0 with v clamped positive.
    first = accept.to(torch.uint8).argmax(dim=1, keepdim=True)
    log_gamma = math.log(d) + log_v.gather(1, first).squeeze(1)
    if alpha < 1.0:
        boost = torch.rand(n, generator=generator, device=device)
        log_gamma = log_gamma + torch.log(boost.clamp_min(1e-38)) / alpha
    return log_gamma
