"""Where and how a trial computes: device, precision, memory format, kernels, compilation.

The GPU defaults are the ones the field's fast training codebases use (torchvision's reference
``train.py``, airbench, timm): bf16 autocast, channels_last, the fused AdamW kernel, cuDNN
autotuning and the decoded images held in GPU memory. Each is a ``TrialConfig`` switch
(``auto | on | off``) so that ``bench/gpu.py`` can measure it on and off; ``auto`` turns it on
where it pays. On CPU, ``auto`` keeps channels_last off (oneDNN ran xresnet50 ~1.8x slower with
it) and the images in the memory-mapped cache.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import torch
from torch import nn

from trainable.augment import normalize
from trainable.config import ConfigError, TrialConfig

__all__ = ["Norm", "Runtime", "compile_model", "resolve_device"]

Norm = tuple[tuple[float, ...], tuple[float, ...]]  # per-channel (mean, std) in [0, 1]
T = TypeVar("T")
# torch.compile keeps one graph per (image size, batch shape, train/eval): a progressive schedule
# with TTA needs more than dynamo's default of 8 per function before it would fall back to eager.
_RECOMPILE_LIMIT = 64


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit device that is absent is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for but CUDA is not available; use device=auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' was asked for but MPS is not available; use device=auto or cpu")
    return torch.device(name)


def _tristate(value: str, default: bool) -> bool:
    return default if value == "auto" else value == "on"


@dataclass(frozen=True)
class Runtime:
    """Resolved per-process settings of one trial (what its ``auto`` switches became here)."""

    device: torch.device
    bf16: bool  # bf16 autocast of the forward pass
    channels_last: bool  # model and inputs in NHWC
    fused_adamw: bool  # AdamW's fused kernel (one launch per step for all parameters)
    cudnn_benchmark: bool  # cuDNN picks the fastest convolution per input shape (once per shape)
    compile: bool  # torch.compile(dynamic=False): one graph per distinct shape, compiled once
    data_on_device: str  # auto | on | off; resolved by trainable.data.resident (it needs the data's size)
    norm: Norm | None = None  # normalization statistics, or None
    compile_note: str = ""  # why the trial compiles or not (``compile=auto``: the cost model's sentence)
    # ``norm`` as (1, C, 1, 1) tensors on the device, made once: a tensor built from Python floats at every
    # batch would be a host-to-device copy, and PyTorch waits for the device after a blocking copy.
    norm_tensors: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_config(cls, cfg: TrialConfig, norm: Norm | None = None) -> Runtime:
        device = resolve_device(cfg.device)
        cuda = device.type == "cuda"
        return cls(
            device=device,
            bf16=_tristate(cfg.bf16, cuda),
            channels_last=_tristate(cfg.channels_last, cuda),
            fused_adamw=_tristate(cfg.fused_adamw, device.type in ("cpu", "cuda")),  # ~1.3x per step on CPU too
            cudnn_benchmark=_tristate(cfg.cudnn_benchmark, cuda),
            compile=cfg.compile == "on",  # auto: decided by trainable.build once the data's size is known
            data_on_device=cfg.data_on_device,
            norm=norm,
        )

    def with_norm(self, norm: Norm | None) -> Runtime:
        """This runtime normalizing with ``norm`` (per-channel mean and std in [0, 1]), or not at all."""
        tensors = None
        if norm is not None:
            mean, std = norm
            if len(mean) != len(std) or any(not v > 0 for v in std):
                raise ValueError(f"normalization needs one mean and one std > 0 per channel, got {norm=}")
            tensors = (torch.tensor(list(mean), dtype=torch.float32, device=self.device).view(1, -1, 1, 1),
                       torch.tensor(list(std), dtype=torch.float32, device=self.device).view(1, -1, 1, 1))
        return replace(self, norm=norm, norm_tensors=tensors)

    def apply(self) -> None:
        """Set the process-wide switches this runtime needs (cuDNN autotuning, TF32 matmuls on CUDA)."""
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = self.cudnn_benchmark
            torch.backends.cuda.matmul.allow_tf32 = True  # the fp32 parts (the head, off-autocast runs)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize (when the trial does) and lay out float images for the model."""
        if self.norm_tensors is not None and x.dtype == torch.float32 and x.shape[1] == self.norm_tensors[0].shape[1]:
            mean, std = self.norm_tensors
            x = (x - mean) / std  # trainable.augment.normalize's arithmetic, without its per-call copy
        elif self.norm is not None:
            x = normalize(x, *self.norm)
        # The augmentation returns channels_last; convolutions follow the input's layout, so
        # convert explicitly either way.
        return x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)

    def place_model(self, model: nn.Module) -> nn.Module:
        """``model`` on the device in this runtime's memory format (the module that owns the weights)."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def forward_module(self, model: nn.Module) -> nn.Module:
        """What the loop calls: ``model`` itself, or its compiled wrapper (same weights)."""
        return compile_model(model) if self.compile else model

    def sync(self) -> None:
        """Wait for the device (CUDA runs asynchronously): only around timings, once per epoch."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def timed(self, fn: Callable[[], T]) -> tuple[T, float]:
        """``fn()`` and its wall time in seconds, the device's queued work included."""
        self.sync()
        start = time.perf_counter()
        out = fn()
        self.sync()
        return out, time.perf_counter() - start


def compile_model(model: nn.Module, backend: str | Callable[..., Any] = "inductor") -> nn.Module:
    """``torch.compile(model, dynamic=False)``: a graph per distinct input shape, each compiled once.

    Static shapes give inductor's best kernels (cuDNN convolutions with fused epilogues); a
    progressive schedule compiles once per size (and per train/eval mode), never per epoch, since
    the loops keep every batch of a size at one shape (the evaluation pads its last batch).
    """
    import torch._dynamo.config as dynamo_config

    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(dynamo_config, name):
            setattr(dynamo_config, name, max(int(getattr(dynamo_config, name)), _RECOMPILE_LIMIT))
    return torch.compile(model, dynamic=False, backend=backend)  # type: ignore[return-value]
