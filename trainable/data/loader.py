"""The batch iterator: square crops of the decoded cache, as uint8 channels_last batches on the device.

All randomness of an epoch (order and crop positions) is drawn up front from one
``np.random.default_rng(seed)``, so the batches depend on the seed alone, not on the prefetch
thread's timing; pass ``seed=(run_seed, epoch)`` or a seed derived from it (the Determinism
contract in docs/ARCHITECTURE.md). A background thread assembles the next ``prefetch`` batches
while the model computes: one numpy copy per image, then ``(B, P, P, 3) -> (B, 3, P, P)`` by a
permute, which is exactly PyTorch's channels_last layout, with no copy.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from trainable.data.cache import DecodedCache

__all__ = ["EpochOrder", "iter_batches", "num_batches", "plan_epoch"]

Batch = tuple[torch.Tensor, torch.Tensor]
_DONE = object()


def num_batches(cache: DecodedCache, split: str, batch_size: int, drop_last: bool) -> int:
    """How many batches :func:`iter_batches` yields for these arguments."""
    _check_batch_size(batch_size)
    n = cache.n(split)
    return n // batch_size if drop_last else math.ceil(n / batch_size)


@dataclass(frozen=True)
class EpochOrder:
    """One epoch's random choices of the data path, drawn up front from the seed alone."""

    batches: list[np.ndarray]  # image indices of each batch, in the order they are served
    corners: np.ndarray  # (n, 2) int64: the (y, x) corner of each image's presize x presize crop


def plan_epoch(
    cache: DecodedCache, split: str, batch_size: int, *, shuffle: bool, random_crop: bool, drop_last: bool,
    seed: int | Sequence[int],
) -> EpochOrder:
    """The order and the crops of one epoch; both iterators (host and device-resident) serve exactly these."""
    _check_batch_size(batch_size)
    n, size = cache.n(split), cache.presize
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    slack = cache.shapes(split).astype(np.int64) - size  # (n, 2): room for the crop in y and x
    corners = rng.integers(0, slack + 1) if random_crop else slack // 2
    stop = n - n % batch_size if drop_last else n
    return EpochOrder([order[k:min(k + batch_size, stop)] for k in range(0, stop, batch_size)], corners)


def iter_batches(
    cache: DecodedCache,
    split: str,
    batch_size: int,
    *,
    shuffle: bool,
    random_crop: bool,
    drop_last: bool,
    seed: int | Sequence[int],
    device: torch.device | str = "cpu",
    prefetch: int = 2,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of ``(images, labels)``: uint8 ``(B, 3, P, P)`` channels_last and int64 ``(B,)`` on ``device``.

    ``P`` is the cache's presize. Each image is cropped to ``P x P`` at a random position
    (``random_crop``) or at its centre (offset ``(H - P) // 2, (W - P) // 2``). The order is a
    permutation (``shuffle``) or the cache order. The last, smaller batch is kept unless
    ``drop_last``. On CUDA the batch goes through pinned memory with a non-blocking copy.
    Arguments are checked at the call, not at the first batch.
    """
    if prefetch < 0:
        raise ValueError(f"prefetch must be >= 0 batches, got {prefetch=}")
    device = torch.device(device)
    epoch = plan_epoch(cache, split, batch_size, shuffle=shuffle, random_crop=random_crop, drop_last=drop_last,
                       seed=seed)
    plans, size = epoch.batches, cache.presize
    labels = cache.labels(split)
    pin = device.type == "cuda"
    layout = (cache.pixels, cache.offsets(split).tolist(), cache.shapes(split).tolist(), epoch.corners.tolist())

    def assemble(idx: np.ndarray) -> Batch:
        x = torch.empty((len(idx), size, size, 3), dtype=torch.uint8, pin_memory=pin)  # crops land here directly
        _crop_batch(*layout, idx, x.numpy())
        y = torch.from_numpy(labels[idx].astype(np.int64, copy=False))
        return x, (y.pin_memory() if pin else y)

    def to_device(batch: Batch) -> Batch:
        x, y = batch
        return x.to(device, non_blocking=pin).permute(0, 3, 1, 2), y.to(device, non_blocking=pin)

    return _moved(map(assemble, plans) if prefetch == 0 else _prefetched(plans, assemble, prefetch), to_device)


def _moved(batches: Iterator[Batch], to_device: Callable[[Batch], Batch]) -> Iterator[Batch]:
    """``to_device`` of each batch; closing this closes ``batches`` (and stops a prefetch thread)."""
    try:
        for batch in batches:
            yield to_device(batch)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _crop_batch(
    pixels: np.ndarray, offsets: list[int], shapes: list[list[int]], corners: list[list[int]], idx: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write image ``idx[j]``'s crop at ``corners[idx[j]]`` (y, x) into ``out[j]`` (size x size x 3), one copy each.

    Plain lists rather than arrays: indexing them is several times faster per image.
    """
    size = out.shape[1]
    for j, i in enumerate(idx.tolist()):
        (h, w), (y, x), start = shapes[i], corners[i], offsets[i]
        out[j] = pixels[start:start + h * w * 3].reshape(h, w, 3)[y:y + size, x:x + size]


def _prefetched(plans: list[np.ndarray], assemble: Callable[[np.ndarray], Batch], depth: int) -> Iterator[Batch]:
    """``assemble(plan)`` for each plan, computed by a thread up to ``depth`` batches ahead."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        """Queue ``item`` unless the consumer has gone; False if it has."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for plan in plans:
                if not put(assemble(plan)):
                    return
            put(_DONE)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put(e)

    thread = threading.Thread(target=work, name="batch-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
