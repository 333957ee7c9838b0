"""Where a trial's batches come from: the host loader, or the images held in device memory.

Both serve the same batches for the same seed (``plan_epoch``); the choice is only about speed.
``data_on_device``: ``auto`` holds the images in GPU memory on CUDA when they fit in half of
its free memory (else the host loader), ``on`` insists (on CPU too, which tests use), ``off``
keeps the prefetching host loader.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from trainable.data.cache import DecodedCache
from trainable.data.errors import DataError
from trainable.data.loader import iter_batches, num_batches
from trainable.data.resident import (
    ResidentImages,
    fits_on_device,
    iter_resident_batches,
    resident_images,
)

__all__ = ["BatchSource", "open_batches"]


@dataclass(frozen=True)
class BatchSource:
    """A trial's data: the decoded cache, and its images on the device when they live there."""

    cache: DecodedCache
    device: torch.device
    resident: ResidentImages | None = None

    @property
    def on_device(self) -> bool:
        return self.resident is not None

    def n(self, split: str) -> int:
        return self.cache.n(split)

    def num_batches(self, split: str, batch_size: int, drop_last: bool) -> int:
        return num_batches(self.cache, split, batch_size, drop_last)

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, random_crop: bool, drop_last: bool,
        seed: int | Sequence[int],
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of uint8 ``(B, 3, P, P)`` channels_last images and int64 labels on the device."""
        if self.resident is not None:
            return iter_resident_batches(self.resident, self.cache, split, batch_size, shuffle=shuffle,
                                         random_crop=random_crop, drop_last=drop_last, seed=seed)
        return iter_batches(self.cache, split, batch_size, shuffle=shuffle, random_crop=random_crop,
                            drop_last=drop_last, seed=seed, device=self.device)


def open_batches(cache: DecodedCache, device: torch.device, data_on_device: str = "auto") -> BatchSource:
    """The :class:`BatchSource` of ``cache`` on ``device`` as ``data_on_device`` (auto | on | off) says."""
    if data_on_device not in ("auto", "on", "off"):
        raise ValueError(f"data_on_device must be auto, on or off, got {data_on_device!r}")
    if data_on_device == "off" or (data_on_device == "auto" and device.type != "cuda"):
        return BatchSource(cache, device)
    if not fits_on_device(cache, device):
        if data_on_device == "on":
            free = torch.cuda.mem_get_info(device)[0]
            raise DataError(
                f"data_on_device=on: the decoded images of {cache.folder} take {cache.pixels.nbytes / 2**30:.2f} GiB, "
                f"more than half of the {free / 2**30:.2f} GiB free on {device}; use data_on_device=auto or off"
            )
        return BatchSource(cache, device)
    return BatchSource(cache, device, resident_images(cache, device))
