"""One trial of chapter 7's recipe, top to bottom: build, resume, fit, final evaluation.

The loop follows ``torchvision/references/classification/train.py`` and fastai's ``Learner.fit``
semantics: a one-cycle schedule per cycle (``trainable.schedules``), Adam with decoupled weight
decay (``trainable.optim``), batch augmentation on the model's device (``trainable.augment``),
mixup and label smoothing (``trainable.mixup``), progressive resizing, TTA at the end
(``trainable.evaluation``). Where it computes and how fast is ``trainable.runtime``'s business.

Inside an epoch nothing waits for the device: the loss is summed on the device and read once at
the epoch's end, so on CUDA the host runs ahead and queues the next batches' work. Checkpoints are
written by a background thread (``trainable.checkpoint.CheckpointWriter``), and every part of the
trial's wall time is counted in its :class:`~trainable.timing.TrialTimes` (``result.times``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainable.augment import augment_batch
from trainable.augment_params import augment_params
from trainable.build import SmallSplitWarning, Trial, build_trial, save_compiled, train_batch_size
from trainable.checkpoint import CheckpointWriter, PendingCheckpoint, latest_checkpoint, load_checkpoint
from trainable.config import ConfigError, TrialConfig
from trainable.data.batches import BatchSource
from trainable.evaluation import (
    PlainPass,
    StopCheck,
    TrialStopped,
    final_evaluation,
    plain_pass,
    progress_bar,
)
from trainable.mixup import mixup, mixup_loss
from trainable.optim import build_optimizer, set_hparams
from trainable.runtime import Runtime
from trainable.schedules import EpochPlan, checkpoint_due, step_hparams
from trainable.seeds import derive_seed, generator
from trainable.timing import EpochTimer, TimeLedger, TrialTimes, warmup_seconds

__all__ = ["EpochCallback", "FitState", "SmallSplitWarning", "StopCheck", "Trial", "TrialResult", "TrialStopped",
           "build_trial", "fit", "resume", "run_trial", "train_one_epoch"]

EpochCallback = Callable[[dict[str, Any], "PendingCheckpoint | None"], None]
"""Called after every epoch with the epoch's metrics and its checkpoint, being written (or None)."""

# Config keys that may differ between a run and its resumption (they do not change the result).
_RUNTIME_KEYS = {"data_dir", "checkpoint_keep", "checkpoint_every_s", "threads", "compile", "compile_cache", "fused_adamw", "cudnn_benchmark",
                 "data_on_device", "eval_every"}


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
    times: TrialTimes = field(default_factory=TrialTimes)  # where the trial's wall time went (all attempts)
    compiled: bool = False  # whether it ran torch.compile'd (compile=auto: the cost model's choice)

    @property
    def objective(self) -> float:
        """The accuracy a study maximizes: with TTA when TTA is on."""
        return self.accuracy_tta if self.accuracy_tta is not None else self.accuracy

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["objective"] = self.objective
        return d


@dataclass
class FitState:
    """How far a trial got: what a checkpoint restores and each epoch extends."""

    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    resumed_from: int | None = None  # the epoch a checkpoint restored (0-based), if any
    times: TimeLedger = field(default_factory=TimeLedger)  # the trial's time by part, this attempt and those before
    last_pass: PlainPass | None = None  # the last epoch's validation pass (the final evaluation's plain pass)

    @property
    def next_epoch(self) -> int:
        return len(self.history)


# ----------------------------------------------------------------------------------------------
# 1. Build: trainable.build (data, runtime, model, optimizer; compiled where it pays)
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# 2. Resume
# ----------------------------------------------------------------------------------------------


def resume(trial: Trial, checkpoint_dir: Path | None, times: TimeLedger | None = None) -> FitState:
    """The state of the newest checkpoint in ``checkpoint_dir`` loaded into ``trial``, or a fresh one.

    Nothing random is restored: every random choice of an epoch comes from generators seeded with
    ``(seed, epoch)`` (ARCHITECTURE.md, Determinism), so the next epoch runs as it would have. The
    final epoch's checkpoint holds no optimizer state: nothing is left to train from it.
    """
    times = times if times is not None else TimeLedger()
    last = latest_checkpoint(checkpoint_dir)
    if last is None:
        return FitState(times=times)
    with times.part("model"):
        state = load_checkpoint(last, map_location=trial.runtime.device)
        _check_same_config(state["config"], trial.cfg, last)
        trial.model.load_state_dict(state["model"])
        if "optimizer" in state:
            trial.optimizer.load_state_dict(state["optimizer"])
    if isinstance(state.get("times"), dict):
        times.restore(TrialTimes(**state["times"]))
    return FitState(history=list(state["history"]), train_seconds=float(state["train_seconds"]),
                    resumed_from=int(state["epoch"]), times=times)


def _checkpoint_state(trial: Trial, state: FitState, epoch: int, *, optimizer: bool) -> dict[str, Any]:
    out = {
        "config": trial.cfg.to_dict(),
        "epoch": epoch,
        "model": trial.model.state_dict(),
        "history": list(state.history),
        "train_seconds": state.train_seconds,
        "times": state.times.snapshot().to_dict(),
    }
    if optimizer:  # the final epoch's checkpoint has nothing left to train: the weights alone
        out["optimizer"] = trial.optimizer.state_dict()
    return out


def _check_same_config(saved: dict[str, Any], cfg: TrialConfig, path: Path) -> None:
    now = cfg.to_dict()
    diff = sorted(k for k in set(saved) | set(now) if k not in _RUNTIME_KEYS and saved.get(k) != now.get(k))
    if diff:
        shown = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff[:5])
        raise ConfigError(
            f"checkpoint {path} was written by a different config ({shown}); "
            f"use another checkpoint folder or the same config"
        )


# ----------------------------------------------------------------------------------------------
# 3. Fit
# ----------------------------------------------------------------------------------------------


def train_one_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    data: BatchSource,
    plan: EpochPlan,
    cfg: TrialConfig,
    rt: Runtime,
    *,
    progress: bool = False,
    should_stop: StopCheck | None = None,
) -> dict[str, float]:
    """One epoch over the training split; returns mean train loss, images, seconds (and of them the
    first step's excess over a steady step, ``warmup_seconds``) and the last lr."""
    model.train()
    torch.manual_seed(derive_seed(cfg.seed, plan.epoch, "dropout"))
    aug_gen = generator(rt.device, derive_seed(cfg.seed, plan.epoch, "augment"))
    mix_gen = generator(rt.device, derive_seed(cfg.seed, plan.epoch, "mixup"))
    params = augment_params(cfg)
    batch_size = train_batch_size(cfg, data)
    steps = data.num_batches("train", batch_size, drop_last=True)
    batches = data.batches("train", batch_size, shuffle=True, random_crop=True, drop_last=True,
                           seed=derive_seed(cfg.seed, plan.epoch, "data"))
    total_loss = torch.zeros((), device=rt.device)  # summed on the device, read once at the end
    n_images = 0
    lr = step_hparams(plan, 0, steps)[0]
    timer = EpochTimer(rt.device)
    timer.start()
    for step, (x, y) in enumerate(progress_bar(batches, steps, f"epoch {plan.epoch + 1} train", progress)):
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
        if step == 0:
            timer.first_step()  # an event on CUDA: nothing waits for the device here
    rt.sync()
    seconds, first_s = timer.stop()
    train_loss = float(total_loss) / max(n_images, 1)
    if not math.isfinite(train_loss):
        raise FloatingPointError(f"training loss became {train_loss} in epoch {plan.epoch + 1}; lower lr (now {cfg.lr})")
    return {"train_loss": train_loss, "images": n_images, "seconds": seconds, "lr": lr,
            "warmup_seconds": warmup_seconds(seconds, first_s, steps)}


def fit(
    trial: Trial,
    state: FitState,
    checkpoints: CheckpointWriter | None = None,
    *,
    on_epoch: EpochCallback | None = None,
    progress: bool = False,
    should_stop: StopCheck | None = None,
) -> FitState:
    """Train the epochs ``state`` has not done yet; ``on_epoch`` after each, and a checkpoint (written
    in the background) after those ``checkpoint_due`` picks. The time of each part goes to ``state.times``."""
    cfg, rt, times = trial.cfg, trial.runtime, state.times
    sizes_seen: set[int] = set()  # compilation and autotuning happen at a size's first steps
    checkpointed_at = time.monotonic()  # this attempt's start, then its last checkpoint
    for plan in trial.plans[state.next_epoch:]:
        if plan.starts_cycle and plan.cycle.reset_optimizer:  # fine_tune: fresh optimizer state per cycle
            trial.optimizer = build_optimizer(trial.model, cfg.weight_decay, fused=rt.fused_adamw or None)
        train = train_one_epoch(trial.forward, trial.optimizer, trial.data, plan, cfg, rt, progress=progress,
                                should_stop=should_stop)
        warmup_at_size = plan.size not in sizes_seen
        warmup = train["warmup_seconds"] if warmup_at_size else 0.0
        sizes_seen.add(plan.size)
        times.add("warmup", warmup)
        times.add("train", train["seconds"] - warmup)
        last = plan.epoch == trial.plans[-1].epoch
        valid = None
        if last or (cfg.eval_every > 0 and (plan.epoch + 1) % cfg.eval_every == 0):  # validation is work: when asked
            with times.part("eval"):
                valid = plain_pass(trial.forward, trial.data, plan.size, cfg, rt, should_stop=should_stop)
        if rt.compile and warmup_at_size:
            with times.part("warmup"):  # this size's graphs (train and eval) for the processes after this one
                save_compiled(trial, plan.size)
        state.last_pass = valid if last else None  # the final evaluation's plain pass: not run twice
        state.train_seconds += train["seconds"]
        metrics = {
            "epoch": plan.epoch,
            "size": plan.size,
            "train_loss": train["train_loss"],
            **(valid.metrics() if valid is not None else {}),  # no accuracy for an epoch not validated
            "lr": train["lr"],
            "epoch_seconds": train["seconds"],
            "images_per_s": train["images"] / max(train["seconds"], 1e-9),
            "eval_seconds": valid.seconds if valid is not None else 0.0,
        }
        state.history.append(metrics)
        ckpt = None
        if checkpoints is not None and checkpoint_due(time.monotonic() - checkpointed_at, cfg.checkpoint_every_s, last):
            with times.part("checkpoint"):
                ckpt = checkpoints.submit(plan.epoch, _checkpoint_state(trial, state, plan.epoch, optimizer=not last))
            checkpointed_at = time.monotonic()
        if on_epoch is not None:
            on_epoch(dict(metrics), ckpt)
    return state


# ----------------------------------------------------------------------------------------------
# 4. The whole trial
# ----------------------------------------------------------------------------------------------


def run_trial(
    config: TrialConfig,
    on_epoch: EpochCallback | None = None,
    checkpoint_dir: str | Path | None = None,
    *,
    progress: bool = False,
    should_stop: StopCheck | None = None,
    times: TimeLedger | None = None,
) -> TrialResult:
    """Train and evaluate one configuration; resume from ``checkpoint_dir`` when it has a checkpoint.

    A checkpoint is written there, by a background thread, at the end of the epochs
    ``trainable.schedules.checkpoint_due`` picks: every ``checkpoint_every_s`` seconds, and the last.
    ``on_epoch(metrics, checkpoint)`` is called after each epoch (metrics: epoch, train_loss,
    valid_loss, accuracy, top5, lr, epoch_seconds, images_per_s, eval_seconds, size) with the epoch's
    :class:`~trainable.checkpoint.PendingCheckpoint` (None for an epoch without one):
    ``checkpoint.wait()`` before handing it on.
    ``should_stop()`` is asked before every batch, of training and of evaluation; when it says
    True, :class:`TrialStopped` is raised at once (a study's deadline does not wait for the end of
    an epoch), and the epochs checkpointed so far stand. ``times``: the ledger the trial's parts
    are counted on (the caller's, when it counts parts of its own around the trial).
    """
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    times = times if times is not None else TimeLedger()
    trial = build_trial(config, progress=progress, times=times)  # 1. data, runtime, model, optimizer
    state = resume(trial, ckpt_dir, times)  # 2. the epochs a checkpoint already holds
    writer = CheckpointWriter(ckpt_dir, keep=config.checkpoint_keep) if ckpt_dir is not None else None
    with writer if writer is not None else nullcontext():
        fit(trial, state, writer, on_epoch=on_epoch, progress=progress, should_stop=should_stop)  # 3. the rest
        with times.part("final"):  # 4. plain (the last epoch's) + TTA
            final = final_evaluation(trial.forward, trial.data, config, trial.runtime, progress=progress,
                                     should_stop=should_stop, plain=state.last_pass)
        if writer is not None:
            with times.part("checkpoint"):  # the last epoch's, written while the final evaluation ran
                writer.close()
    norm = trial.runtime.norm
    return TrialResult(
        config=config.to_dict(),
        accuracy=final["accuracy"],
        accuracy_tta=final["accuracy_tta"],
        top5=final["top5"],
        valid_loss=final["valid_loss"],
        train_seconds=state.train_seconds,
        images_per_s=state.history[-1]["images_per_s"] if state.history else 0.0,
        infer_ms_per_image=final["infer_ms_per_image"],
        infer_ms_per_image_tta=final["infer_ms_per_image_tta"],
        norm_mean=tuple(norm[0]) if norm else None,  # type: ignore[arg-type]
        norm_std=tuple(norm[1]) if norm else None,  # type: ignore[arg-type]
        n_params=trial.n_params,
        device=str(trial.runtime.device),
        epochs=len(trial.plans),
        resumed_from_epoch=state.resumed_from,
        history=state.history,
        confusion=final["confusion"],
        classes=list(trial.data.cache.classes),
        times=times.snapshot(),
        compiled=trial.runtime.compile,
    )
