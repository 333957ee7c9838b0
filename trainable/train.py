"""One trial of chapter 7's recipe, top to bottom: build, train, evaluate, fit, run_trial.

The loop follows ``torchvision/references/classification/train.py`` and fastai's ``Learner.fit``
semantics: a one-cycle schedule per cycle (``trainable.schedules``), Adam with decoupled weight
decay (``trainable.optim``), batch augmentation on the model's device (``trainable.augment``),
mixup and label smoothing (``trainable.mixup``), progressive resizing, TTA at the end.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainable.augment import IMAGENET_STATS, AugmentParams, augment_batch, normalize, resize_batch
from trainable.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from trainable.config import ConfigError, TrialConfig
from trainable.data import DecodedCache, iter_batches, num_batches, prepare
from trainable.mixup import mixup, mixup_loss
from trainable.models import build_model
from trainable.optim import build_optimizer, set_hparams
from trainable.schedules import EpochPlan, epoch_plan, step_hparams
from trainable.tta import tta_combine

__all__ = ["EpochCallback", "StopCheck", "TrialResult", "TrialStopped", "run_trial", "evaluate", "train_one_epoch",
           "resolve_device"]

EpochCallback = Callable[[dict[str, Any], "Path | None"], None]
StopCheck = Callable[[], bool]  # asked before every batch; True stops the trial (e.g. a deadline passed)


class TrialStopped(Exception):
    """``should_stop`` said so mid-trial; the checkpoints of the epochs already done stand."""
"""Called after every epoch with the epoch's metrics and the checkpoint just written (or None)."""

# Config keys that may differ between a run and its resumption (they do not change the result).
_RUNTIME_KEYS = {"data_dir", "checkpoint_keep", "threads"}


@dataclass
class TrialResult:
    """The outcome of one trial: final metrics, costs and the per-epoch history."""

    config: dict[str, Any]
    accuracy: float  # final validation accuracy, plain pass
    accuracy_tta: float | None  # with TTA (None when tta_n == 0)
    top5: float
    valid_loss: float  # plain cross-entropy (no smoothing, no mixup), comparable across trials
    train_seconds: float  # wall time of training (all epochs of this process and before a resume)
    images_per_s: float  # training throughput of the last epoch
    infer_ms_per_image: float  # plain pass, per validation image
    infer_ms_per_image_tta: float | None  # all TTA passes, per validation image
    norm_mean: tuple[float, float, float] | None
    norm_std: tuple[float, float, float] | None
    n_params: int
    device: str
    epochs: int
    resumed_from_epoch: int | None = None  # last epoch restored from a checkpoint (0-based)
    history: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)  # [true][predicted], final plain pass
    classes: list[str] = field(default_factory=list)

    @property
    def objective(self) -> float:
        """The accuracy a study maximizes: with TTA when TTA is on."""
        return self.accuracy_tta if self.accuracy_tta is not None else self.accuracy

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["objective"] = self.objective
        return d


# ----------------------------------------------------------------------------------------------
# 1. Building blocks
# ----------------------------------------------------------------------------------------------


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


def _seed(*parts: int | str) -> int:
    """A 63-bit seed derived from ``parts`` (independent streams for data, augmentation, mixup)."""
    words = [p if isinstance(p, int) else int.from_bytes(p.encode()[:8].ljust(8, b"\0"), "little") for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0]) >> 1


def _generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def _norm_stats(cfg: TrialConfig, cache: DecodedCache) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    if cfg.normalize == "imagenet":
        return IMAGENET_STATS
    if cfg.normalize == "dataset":
        return cache.channel_stats("train")
    return None


def _augment_params(cfg: TrialConfig) -> AugmentParams:
    return AugmentParams(
        min_scale=cfg.min_scale, flip=cfg.flip, max_rotate=cfg.max_rotate, max_zoom=cfg.max_zoom,
        max_warp=cfg.max_warp, max_lighting=cfg.max_lighting, p_affine=cfg.p_affine, p_lighting=cfg.p_lighting,
    )


@dataclass
class _Runtime:
    """Resolved per-process settings: device, precision, memory format."""

    device: torch.device
    bf16: bool
    channels_last: bool
    norm: tuple[tuple[float, ...], tuple[float, ...]] | None

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm is not None:
            x = normalize(x, *self.norm)
        # The augmentation returns channels_last; convolutions follow the input's layout, so
        # convert explicitly either way.
        return x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)


def _tristate(value: str, default: bool) -> bool:
    return default if value == "auto" else value == "on"


# ----------------------------------------------------------------------------------------------
# 2. Train and evaluate
# ----------------------------------------------------------------------------------------------


def train_one_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    cache: DecodedCache,
    plan: EpochPlan,
    cfg: TrialConfig,
    rt: _Runtime,
    *,
    progress: bool = False,
    should_stop: StopCheck | None = None,
) -> dict[str, float]:
    """One epoch over the training split; returns mean train loss, images and seconds."""
    model.train()
    torch.manual_seed(_seed(cfg.seed, plan.epoch, "dropout"))
    aug_gen = _generator(rt.device, _seed(cfg.seed, plan.epoch, "augment"))
    mix_gen = _generator(rt.device, _seed(cfg.seed, plan.epoch, "mixup"))
    params = _augment_params(cfg)
    steps = num_batches(cache, "train", cfg.batch_size, drop_last=True)
    batches = iter_batches(
        cache, "train", cfg.batch_size, shuffle=True, random_crop=True, drop_last=True,
        seed=_seed(cfg.seed, plan.epoch, "data"), device=rt.device,
    )
    total_loss = torch.zeros((), device=rt.device)
    n_images = 0
    start = time.perf_counter()
    for step, (x, y) in enumerate(_bar(batches, steps, f"epoch {plan.epoch + 1} train", progress)):
        if should_stop is not None and should_stop():
            raise TrialStopped(f"stopped in epoch {plan.epoch + 1}, before batch {step + 1} of {steps}")
        lr, mom = step_hparams(plan, step, steps)
        set_hparams(opt, lr, mom)
        x = rt.prepare_input(augment_batch(x, plan.size, params, aug_gen))
        with rt.autocast():
            if cfg.mixup_alpha > 0:
                mixed = mixup(x, y, cfg.mixup_alpha, generator=mix_gen)
                logits = model(mixed.x)
                loss = mixup_loss(logits.float(), mixed.y_a, mixed.y_b, mixed.lam, cfg.label_smoothing)
            else:
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total_loss += loss.detach() * y.shape[0]
        n_images += y.shape[0]
    if rt.device.type == "cuda":
        torch.cuda.synchronize(rt.device)
    seconds = time.perf_counter() - start
    train_loss = float(total_loss) / max(n_images, 1)
    if not math.isfinite(train_loss):
        raise FloatingPointError(f"training loss became {train_loss} in epoch {plan.epoch + 1}; lower lr (now {cfg.lr})")
    return {"train_loss": train_loss, "images": n_images, "seconds": seconds, "lr": lr}


@torch.no_grad()
def _predict(
    model: nn.Module,
    cache: DecodedCache,
    size: int,
    cfg: TrialConfig,
    rt: _Runtime,
    *,
    augment: torch.Generator | None = None,
    progress: bool = False,
    desc: str = "valid",
    should_stop: StopCheck | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities and labels over the validation split.

    ``augment=None``: the plain pass (centre crop, resize). With a generator: one TTA pass, with
    the training pipeline (random crop at presize, then the batch augmentation).
    """
    model.eval()
    bs = cfg.batch_size * 2
    steps = num_batches(cache, "valid", bs, drop_last=False)
    batches = iter_batches(
        cache, "valid", bs, shuffle=False, random_crop=augment is not None, drop_last=False,
        seed=_seed(cfg.seed, "tta", int(augment.initial_seed()) if augment is not None else 0), device=rt.device,
    )
    params = _augment_params(cfg)
    probs, labels = [], []
    for x, y in _bar(batches, steps, desc, progress):
        if should_stop is not None and should_stop():
            raise TrialStopped(f"stopped during {desc}")
        x = augment_batch(x, size, params, augment) if augment is not None else resize_batch(x, size)
        with rt.autocast():
            logits = model(rt.prepare_input(x))
        probs.append(torch.softmax(logits.float(), dim=1))
        labels.append(y)
    return torch.cat(probs), torch.cat(labels)


def _metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    k = min(5, probs.shape[1])
    top = probs.topk(k, dim=1).indices
    return {
        "valid_loss": float(F.nll_loss(torch.log(probs.clamp_min(1e-12)), labels)),
        "accuracy": float((top[:, 0] == labels).float().mean()),
        "top5": float((top == labels[:, None]).any(dim=1).float().mean()),
    }


def evaluate(model: nn.Module, cache: DecodedCache, size: int, cfg: TrialConfig, rt: _Runtime,
             should_stop: StopCheck | None = None) -> dict[str, float]:
    """Validation loss, accuracy and top-5 accuracy of the plain pass at ``size`` px."""
    probs, labels = _predict(model, cache, size, cfg, rt, should_stop=should_stop)
    return _metrics(probs, labels)


def _timed(rt: _Runtime, fn: Callable[[], Any]) -> tuple[Any, float]:
    if rt.device.type == "cuda":
        torch.cuda.synchronize(rt.device)
    start = time.perf_counter()
    out = fn()
    if rt.device.type == "cuda":
        torch.cuda.synchronize(rt.device)
    return out, time.perf_counter() - start


def final_evaluation(model: nn.Module, cache: DecodedCache, cfg: TrialConfig, rt: _Runtime, *, progress: bool,
                     should_stop: StopCheck | None = None) -> dict[str, Any]:
    """Plain and TTA accuracy at the final size, with inference time per image of each."""
    size = cfg.final_size
    (probs, labels), plain_s = _timed(rt, lambda: _predict(model, cache, size, cfg, rt, progress=progress, desc="final",
                                                           should_stop=should_stop))
    out: dict[str, Any] = _metrics(probs, labels)
    n = labels.shape[0]
    out["infer_ms_per_image"] = 1000 * plain_s / n
    pred = probs.argmax(dim=1)
    n_cls = probs.shape[1]
    confusion = torch.bincount(labels * n_cls + pred, minlength=n_cls * n_cls).reshape(n_cls, n_cls)
    out["confusion"] = confusion.cpu().tolist()
    out["accuracy_tta"] = None
    out["infer_ms_per_image_tta"] = None
    if cfg.tta_n > 0:
        def tta_passes() -> torch.Tensor:
            passes = [
                _predict(model, cache, size, cfg, rt, augment=_generator(rt.device, _seed(cfg.seed, "tta", i)),
                         progress=progress, desc=f"TTA {i + 1}/{cfg.tta_n}", should_stop=should_stop)[0]
                for i in range(cfg.tta_n)
            ]
            return torch.stack(passes)

        augmented, aug_s = _timed(rt, tta_passes)
        combined = tta_combine(probs, augmented, beta=cfg.tta_beta, use_max=cfg.tta_max)
        out["accuracy_tta"] = float((combined.argmax(dim=1) == labels).float().mean())
        out["infer_ms_per_image_tta"] = 1000 * (plain_s + aug_s) / n
    return out


def _bar(it: Iterator, total: int, desc: str, enabled: bool) -> Iterator:
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return iter(tqdm(it, total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True))


# ----------------------------------------------------------------------------------------------
# 3. Fit: the whole trial, resumable
# ----------------------------------------------------------------------------------------------


def run_trial(
    config: TrialConfig,
    on_epoch: EpochCallback | None = None,
    checkpoint_dir: str | Path | None = None,
    *,
    progress: bool = False,
    should_stop: StopCheck | None = None,
) -> TrialResult:
    """Train and evaluate one configuration; resume from ``checkpoint_dir`` when it has a checkpoint.

    A checkpoint is written there at the end of every epoch. ``on_epoch(metrics, checkpoint)`` is
    called after it (metrics: epoch, train_loss, valid_loss, accuracy, top5, lr, epoch_seconds,
    images_per_s, size). ``should_stop()`` is asked before every batch, of training and of
    evaluation; when it says True, :class:`TrialStopped` is raised at once (a study's deadline
    does not wait for the end of an epoch), and the epochs checkpointed so far stand.
    """
    cfg = config
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    on_cuda = device.type == "cuda"

    # -- data
    data_dir = Path(cfg.data_dir) if cfg.data_dir else None
    cache = prepare(cfg.data, cfg.presize, data_dir=data_dir, label_noise=cfg.label_noise, progress=progress)
    rt = _Runtime(
        device=device,
        bf16=_tristate(cfg.bf16, on_cuda),
        # channels_last: faster on CUDA; on CPU (oneDNN) ~1.8x slower for xresnet50, equal for xresnet18
        channels_last=_tristate(cfg.channels_last, on_cuda),
        norm=_norm_stats(cfg, cache),
    )
    # -- model and optimizer
    torch.manual_seed(_seed(cfg.seed, "init"))
    model = build_model(cfg.model, n_out=len(cache.classes), p=cfg.dropout).to(device)
    if rt.channels_last:
        model = model.to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    fused = True if device.type in ("cpu", "cuda") else None  # fused AdamW: ~1.3x per step on CPU too
    opt = build_optimizer(model, cfg.weight_decay, fused=fused)
    fwd: nn.Module = torch.compile(model) if cfg.compile else model  # type: ignore[assignment]

    # -- resume
    history: list[dict[str, Any]] = []
    start_epoch = 0
    resumed_from: int | None = None
    train_seconds = 0.0
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    last = latest_checkpoint(ckpt_dir)
    if last is not None:
        state = load_checkpoint(last, map_location=device)
        _check_same_config(state["config"], cfg, last)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history = list(state["history"])
        resumed_from = int(state["epoch"])
        start_epoch = resumed_from + 1
        train_seconds = float(state["train_seconds"])

    # -- fit: one epoch plan per epoch (progressive resizing changes `size` between them)
    plans = epoch_plan(cfg.cycles())
    for plan in plans[start_epoch:]:
        if plan.starts_cycle and plan.cycle.reset_optimizer:
            opt = build_optimizer(model, cfg.weight_decay, fused=fused)
        train = train_one_epoch(fwd, opt, cache, plan, cfg, rt, progress=progress, should_stop=should_stop)
        valid = evaluate(fwd, cache, plan.size, cfg, rt, should_stop=should_stop)
        train_seconds += train["seconds"]
        metrics = {
            "epoch": plan.epoch,
            "size": plan.size,
            "train_loss": train["train_loss"],
            **valid,
            "lr": train["lr"],
            "epoch_seconds": train["seconds"],
            "images_per_s": train["images"] / max(train["seconds"], 1e-9),
        }
        history.append(metrics)
        ckpt = None
        if ckpt_dir is not None:
            ckpt = save_checkpoint(ckpt_dir, plan.epoch, {
                "config": cfg.to_dict(),
                "epoch": plan.epoch,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "history": history,
                "train_seconds": train_seconds,
                "norm": rt.norm,
                "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if on_cuda else None},
            }, keep=cfg.checkpoint_keep)
        if on_epoch is not None:
            on_epoch(dict(metrics), ckpt)

    # -- final evaluation (plain and TTA)
    final = final_evaluation(fwd, cache, cfg, rt, progress=progress, should_stop=should_stop)
    return TrialResult(
        config=cfg.to_dict(),
        accuracy=final["accuracy"],
        accuracy_tta=final["accuracy_tta"],
        top5=final["top5"],
        valid_loss=final["valid_loss"],
        train_seconds=train_seconds,
        images_per_s=history[-1]["images_per_s"] if history else 0.0,
        infer_ms_per_image=final["infer_ms_per_image"],
        infer_ms_per_image_tta=final["infer_ms_per_image_tta"],
        norm_mean=tuple(rt.norm[0]) if rt.norm else None,  # type: ignore[arg-type]
        norm_std=tuple(rt.norm[1]) if rt.norm else None,  # type: ignore[arg-type]
        n_params=n_params,
        device=str(device),
        epochs=len(plans),
        resumed_from_epoch=resumed_from,
        history=history,
        confusion=final["confusion"],
        classes=list(cache.classes),
    )


def _check_same_config(saved: dict[str, Any], cfg: TrialConfig, path: Path) -> None:
    now = cfg.to_dict()
    diff = sorted(k for k in set(saved) | set(now) if k not in _RUNTIME_KEYS and saved.get(k) != now.get(k))
    if diff:
        shown = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff[:5])
        raise ConfigError(
            f"checkpoint {path} was written by a different config ({shown}); "
            f"use another checkpoint folder or the same config"
        )
