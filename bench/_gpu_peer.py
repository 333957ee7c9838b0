"""bench/gpu.py's part 3, the peer: fastbook's own pipeline on the same card and the same JPEGs.

fastai's ``Learner`` with the book's ``DataBlock`` presizing (``Resize(460)`` on items,
``aug_transforms(size=224, min_scale=0.75)`` on batches), fastai's own ``xresnet50``, one-cycle
Adam, its ``DataLoader`` workers decoding the JPEGs. Timed from the ``warmup``-th batch to the end
of training (the loader's time between batches included), validation skipped. Run at fastai's
best settings on a GPU (``to_fp16`` or ``to_bf16`` and ``to_channelslast``) as well as the book's
plain fp32, so the ratio is against the peer at its fastest.

If fastai cannot be imported (the device has no network: its pure-Python wheels travel in
``.whl``, see ``bench/device_bundle.sh``), the peer is timm's ``resnet50d`` training step on
random inputs already on the device (model only, no data path), and the result says so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["fastai_peer", "timm_peer"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fastai_peer(root: Path, *, size: int, item_size: int, batch: int, workers: int, warmup: int, max_batches: int,
                device: torch.device, model: str, precision: str, channels_last: bool) -> dict[str, Any]:
    """Training images/s of fastai's book pipeline on ``root`` (train/ and val/ folders of JPEGs)."""
    import fastai
    import fastai.callback.channelslast  # noqa: F401 - patches Learner.to_channelslast
    import fastai.callback.fp16  # noqa: F401 - patches Learner.to_fp16 / to_bf16
    import fastai.callback.schedule  # noqa: F401 - patches Learner.fit_one_cycle
    from fastai.callback.core import Callback, CancelTrainException, CancelValidException
    from fastai.data.block import CategoryBlock, DataBlock
    from fastai.data.transforms import GrandparentSplitter, get_image_files, parent_label
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    from fastai.vision.augment import Resize, aug_transforms
    from fastai.vision.data import ImageBlock
    from fastai.vision.models import xresnet as fastai_models

    class Timer(Callback):  # type: ignore[misc]
        order = 99

        def before_fit(self) -> None:
            self.t0: float | None = None
            self.images = 0
            self.seconds = 0.0

        def before_batch(self) -> None:
            if self.training and self.iter == warmup:
                _sync(device)
                self.t0 = time.perf_counter()

        def after_batch(self) -> None:
            if not self.training:
                return
            if self.t0 is not None:
                self.images += int(self.yb[0].shape[0])
            if self.iter + 1 >= warmup + max_batches:
                raise CancelTrainException

        def after_train(self) -> None:
            _sync(device)
            if self.t0 is not None:
                self.seconds = time.perf_counter() - self.t0

        def before_validate(self) -> None:
            raise CancelValidException

    dblock = DataBlock(
        blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, get_y=parent_label,
        splitter=GrandparentSplitter(train_name="train", valid_name="val"),
        item_tfms=Resize(item_size), batch_tfms=aug_transforms(size=size, min_scale=0.75),
    )
    dls = dblock.dataloaders(root, bs=batch, num_workers=workers, device=device)
    net = getattr(fastai_models, model)(n_out=dls.c)
    learn = Learner(dls, net, loss_func=CrossEntropyLossFlat())
    if precision == "bf16":
        learn = learn.to_bf16() if hasattr(learn, "to_bf16") else learn.to_fp16()
    elif precision == "fp16":
        learn = learn.to_fp16()
    if channels_last:
        learn = learn.to_channelslast()
    timer = Timer()
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, 3e-3, cbs=[timer])
    return {
        "peer": f"fastai {fastai.__version__} Learner + DataBlock presizing (Resize({item_size}) items, "
                f"aug_transforms(size={size}, min_scale=0.75)), fastai {model}",
        "precision": precision, "channels_last": channels_last, "batch": batch, "workers": workers,
        "images": timer.images, "seconds": round(timer.seconds, 3),
        "images_per_s": round(timer.images / timer.seconds, 1) if timer.seconds > 0 else 0.0,
        "wall_s": round(time.perf_counter() - start, 1),
    }


def timm_peer(*, size: int, batch: int, steps: int, warmup: int, device: torch.device, bf16: bool,
              why: str = "fastai could not run") -> dict[str, Any]:
    """timm's ``resnet50d`` training step (bf16 autocast, channels_last, fused AdamW) on random inputs."""
    import timm

    model = timm.create_model("resnet50d", num_classes=10).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type in ("cuda", "cpu"))
    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    rate = steps * batch / (time.perf_counter() - start)
    return {"peer": f"timm {timm.__version__} resnet50d training step on random inputs (model only; {why})",
            "precision": "bf16" if bf16 else "fp32", "batch": batch, "images_per_s": round(rate, 1)}
