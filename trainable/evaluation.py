"""Evaluation of a trial's model: the plain validation pass, and the final one with TTA.

The plain pass is a centre crop resized to the epoch's size; a TTA pass runs the validation
images through the training augmentation (fastai ``Learner.tta``). Predictions stay on the
device until the metrics, which read them back once per pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from trainable.augment import augment_batch, resize_batch
from trainable.augment_params import augment_params
from trainable.config import TrialConfig
from trainable.data.batches import BatchSource
from trainable.runtime import Runtime
from trainable.seeds import derive_seed, generator
from trainable.tta import tta_combine

__all__ = ["PlainPass", "StopCheck", "TrialStopped", "evaluate", "final_evaluation", "plain_pass", "predict", "progress_bar"]

StopCheck = Callable[[], bool]  # asked before every batch; True stops the trial (e.g. a deadline passed)
T = TypeVar("T")


class TrialStopped(Exception):
    """``should_stop`` said so mid-trial; the checkpoints of the epochs already done stand."""


@torch.no_grad()
def predict(
    model: nn.Module,
    data: BatchSource,
    size: int,
    cfg: TrialConfig,
    rt: Runtime,
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
    steps = data.num_batches("valid", bs, drop_last=False)
    batches = data.batches(
        "valid", bs, shuffle=False, random_crop=augment is not None, drop_last=False,
        seed=derive_seed(cfg.seed, "tta", int(augment.initial_seed()) if augment is not None else 0),
    )
    params = augment_params(cfg)
    probs, labels = [], []
    for x, y in progress_bar(batches, steps, desc, progress):
        if should_stop is not None and should_stop():
            raise TrialStopped(f"stopped during {desc}")
        x = augment_batch(x, size, params, augment) if augment is not None else resize_batch(x, size)
        n = x.shape[0]
        if rt.compile and n < bs and steps > 1:  # one shape per size: a compiled model never recompiles for the tail
            x = torch.cat([x, x.new_zeros((bs - n, *x.shape[1:]))]).contiguous(memory_format=torch.channels_last)
        with rt.autocast():
            logits = model(rt.prepare_input(x))[:n]
        probs.append(torch.softmax(logits.float(), dim=1))
        labels.append(y)
    return torch.cat(probs), torch.cat(labels)


@dataclass(frozen=True)
class PlainPass:
    """The plain validation pass at ``size`` px: probabilities, labels and its wall time (device included)."""

    probs: torch.Tensor
    labels: torch.Tensor
    size: int  # px
    seconds: float

    def metrics(self) -> dict[str, float]:
        return _metrics(self.probs, self.labels)


def plain_pass(model: nn.Module, data: BatchSource, size: int, cfg: TrialConfig, rt: Runtime, *, progress: bool = False,
               desc: str = "valid", should_stop: StopCheck | None = None) -> PlainPass:
    """:func:`predict` without augmentation, timed from an idle device to its last prediction."""
    (probs, labels), seconds = rt.timed(lambda: predict(model, data, size, cfg, rt, progress=progress, desc=desc,
                                                        should_stop=should_stop))
    return PlainPass(probs, labels, size, seconds)


def _metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    k = min(5, probs.shape[1])
    top = probs.topk(k, dim=1).indices
    return {
        "valid_loss": float(F.nll_loss(torch.log(probs.clamp_min(1e-12)), labels)),
        "accuracy": float((top[:, 0] == labels).float().mean()),
        "top5": float((top == labels[:, None]).any(dim=1).float().mean()),
    }


def evaluate(model: nn.Module, data: BatchSource, size: int, cfg: TrialConfig, rt: Runtime,
             should_stop: StopCheck | None = None) -> dict[str, float]:
    """Validation loss, accuracy and top-5 accuracy of the plain pass at ``size`` px."""
    return plain_pass(model, data, size, cfg, rt, should_stop=should_stop).metrics()


def final_evaluation(model: nn.Module, data: BatchSource, cfg: TrialConfig, rt: Runtime, *, progress: bool,
                     should_stop: StopCheck | None = None, plain: PlainPass | None = None) -> dict[str, Any]:
    """Plain and TTA accuracy at the final size, with inference time per image of each.

    ``plain``: the last epoch's validation pass of the same model at the final size, which is this
    plain pass already (the same batches, the same weights): it is not run a second time.
    """
    size = cfg.final_size
    if plain is None or plain.size != size:
        plain = plain_pass(model, data, size, cfg, rt, progress=progress, desc="final", should_stop=should_stop)
    probs, labels, plain_s = plain.probs, plain.labels, plain.seconds
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
                predict(model, data, size, cfg, rt, augment=generator(rt.device, derive_seed(cfg.seed, "tta", i)),
                        progress=progress, desc=f"TTA {i + 1}/{cfg.tta_n}", should_stop=should_stop)[0]
                for i in range(cfg.tta_n)
            ]
            return torch.stack(passes)

        augmented, aug_s = rt.timed(tta_passes)
        combined = tta_combine(probs, augmented, beta=cfg.tta_beta, use_max=cfg.tta_max)
        out["accuracy_tta"] = float((combined.argmax(dim=1) == labels).float().mean())
        out["infer_ms_per_image_tta"] = 1000 * (plain_s + aug_s) / n
    return out


def progress_bar(it: Iterator[T], total: int, desc: str, enabled: bool) -> Iterator[T]:
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return iter(tqdm(it, total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True))
