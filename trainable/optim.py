"""The optimizer of fastai's ``Learner``: Adam, decoupled weight decay on weights only.

fastai's defaults (``Adam`` with ``true_wd=True``, ``wd_bn_bias=False``): β2 = 0.99, eps = 1e-5,
weight decay applied as ``p -= lr·wd·p`` (Loshchilov & Hutter, "Decoupled Weight Decay
Regularization", 2019) to conv and linear weights, not to BatchNorm parameters or biases.
``torch.optim.AdamW`` with two parameter groups is exactly that; β1 is set per step from the
one-cycle momentum schedule.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["build_optimizer", "set_hparams"]

_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights (decayed) and BatchNorm parameters + biases (not decayed)."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if isinstance(module, _NORM_TYPES) or name == "bias":
                no_decay.append(p)
            else:
                decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, weight_decay: float = 0.01, *, fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW(β=(0.95, 0.99), eps=1e-5) over :func:`param_groups`; lr and β1 come from the schedule."""
    return torch.optim.AdamW(
        param_groups(model, weight_decay), lr=1e-3, betas=(0.95, 0.99), eps=1e-5, fused=fused
    )


def set_hparams(opt: torch.optim.Optimizer, lr: float, mom: float) -> None:
    """Set the learning rate and β1 of every group (the one-cycle values for this step)."""
    for g in opt.param_groups:
        g["lr"] = lr
        g["betas"] = (mom, g["betas"][1])
