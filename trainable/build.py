"""Step 1 of a trial: its data, its runtime, its model and optimizer — compiled where it pays.

``build_trial`` opens the decoded cache (on the device when it fits; a reused worker's images are
already there), resolves the runtime's ``auto`` switches — ``compile = "auto"`` by the cost model
of :mod:`trainable.compile_cost`, once the number of training images is known — and builds the
model and its optimizer with the trial's seed. Its seconds go to the ``data`` and ``model`` parts
of the trial's :class:`~trainable.timing.TrialTimes`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from trainable.augment import IMAGENET_STATS
from trainable.config import ConfigError, TrialConfig
from trainable.data import DecodedCache, prepare
from trainable.data.batches import BatchSource, open_batches
from trainable.models import build_model
from trainable.optim import build_optimizer
from trainable.runtime import Norm, Runtime
from trainable.schedules import EpochPlan, epoch_plan
from trainable.seeds import derive_seed
from trainable.timing import TimeLedger

__all__ = ["SmallSplitWarning", "Trial", "build_trial", "compile_folder", "decide_compile", "save_compiled", "train_batch_size"]

_MIN_TRAIN_IMAGES = 2  # batch norm needs two samples per channel in training


class SmallSplitWarning(UserWarning):
    """The training split is smaller than one batch: every step trains on all of it."""


@dataclass
class Trial:
    """Everything :func:`build_trial` made: the data, the runtime, the model and its optimizer."""

    cfg: TrialConfig
    data: BatchSource
    runtime: Runtime
    model: nn.Module  # owns the weights (what checkpoints hold)
    forward: nn.Module  # what the loop calls: the model, or its compiled wrapper
    optimizer: torch.optim.Optimizer
    plans: tuple[EpochPlan, ...]  # one per epoch, in order

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def _norm_stats(cfg: TrialConfig, data: BatchSource) -> Norm | None:
    if cfg.normalize == "imagenet":
        return IMAGENET_STATS
    if cfg.normalize == "dataset":
        return data.cache.channel_stats("train")
    return None


def _check_splits(cache: DecodedCache, cfg: TrialConfig) -> None:
    """A split with nothing to learn from is an error before any work; one smaller than a batch, a warning."""
    root = cache.meta.get("source_root", str(cache.folder))
    n_train = cache.n("train")
    if n_train < _MIN_TRAIN_IMAGES:
        raise ConfigError(
            f"the train split of {root} has {n_train} image(s): nothing to train on (a training batch needs at "
            f"least {_MIN_TRAIN_IMAGES}, for batch norm); add images to {root}/train/<class>/"
        )
    if cache.n("valid") < 1:
        raise ConfigError(f"the valid split of {root} has no image; add images to {root}/val/<class>/")
    if n_train < cfg.batch_size:
        warnings.warn(
            f"the train split of {root} has {n_train} images, fewer than batch_size {cfg.batch_size}: "
            f"each epoch is one step on all {n_train}",
            SmallSplitWarning, stacklevel=4,
        )


def train_batch_size(cfg: TrialConfig, data: BatchSource) -> int:
    """``batch_size``, or the whole training split when that is smaller (train on what there is)."""
    return min(cfg.batch_size, data.n("train"))


def compile_folder(cfg: TrialConfig) -> Path:
    """Where the trial's portable compile artifacts go: ``compile_cache``, else ``<data_dir>/compile``."""
    if cfg.compile_cache:
        return Path(cfg.compile_cache).expanduser()
    from trainable.data.sources import default_data_dir

    return (Path(cfg.data_dir).expanduser() if cfg.data_dir else default_data_dir()) / "compile"


def decide_compile(cfg: TrialConfig, rt: Runtime, n_train: int) -> tuple[bool, str]:
    """``compile``: on, off, or (auto) on CUDA where the measured figures say it pays for this trial."""
    if cfg.compile != "auto":
        return cfg.compile == "on", f"compile={cfg.compile}"
    if rt.device.type != "cuda":
        return False, f"compile=auto: eager on {rt.device.type}"
    from trainable.compile_cache import warm_sizes
    from trainable.compile_cost import MEASURED, card_key, compile_pays, training_images

    card = card_key(torch.cuda.get_device_name(rt.device))
    images = training_images(cfg, n_train)
    figures = {s: f for s in images if (f := MEASURED.get((card, cfg.model, s))) is not None}
    warm = warm_sizes(compile_folder(cfg), card, cfg.model, sorted(images), min(cfg.batch_size, n_train))
    return compile_pays(images, figures, warm=warm)


def build_trial(cfg: TrialConfig, *, progress: bool = False, times: TimeLedger | None = None) -> Trial:
    """Data (decoded cache, on the device when it fits), runtime, model and optimizer of ``cfg``."""
    times = times if times is not None else TimeLedger()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    with times.part("data"):
        rt = Runtime.from_config(cfg)
        rt.apply()
        data_dir = Path(cfg.data_dir) if cfg.data_dir else None
        cache = prepare(cfg.data, cfg.presize, data_dir=data_dir, label_noise=cfg.label_noise, progress=progress)
        _check_splits(cache, cfg)
        data = open_batches(cache, rt.device, rt.data_on_device)
        rt = rt.with_norm(_norm_stats(cfg, data))
    with times.part("model"):
        compiled, why = decide_compile(cfg, rt, data.n("train"))
        rt = replace(rt, compile=compiled, compile_note=why)
        if compiled:
            from trainable.compile_cache import load_artifacts

            load_artifacts(compile_folder(cfg))  # other processes' and machines' graphs: a warm compile
        torch.manual_seed(derive_seed(cfg.seed, "init"))
        model = rt.place_model(build_model(cfg.model, n_out=len(cache.classes), p=cfg.dropout))
        opt = build_optimizer(model, cfg.weight_decay, fused=rt.fused_adamw or None)
        return Trial(cfg, data, rt, model, rt.forward_module(model), opt, epoch_plan(cfg.cycles()))


def save_compiled(trial: Trial, size: int) -> None:
    """After a compiled trial's first epoch at ``size``: its graphs, as portable artifacts, for every later process."""
    import os

    from trainable.compile_cache import marker, save_artifacts
    from trainable.compile_cost import card_key

    cfg, rt = trial.cfg, trial.runtime
    card = card_key(torch.cuda.get_device_name(rt.device)) if rt.device.type == "cuda" else rt.device.type
    done = marker(compile_folder(cfg), card, cfg.model, size, train_batch_size(cfg, trial.data))
    if not done.exists():
        try:
            save_artifacts(compile_folder(cfg), f"{card}-{cfg.model}-{size}px-{os.getpid()}", [done])
        except OSError:  # a folder that moved or is read-only: the next process compiles cold, nothing worse
            pass
