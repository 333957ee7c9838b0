"""The decoded images in the model's device memory, cropped there by index operations (airbench's way).

On a GPU the host loader's per-image numpy copies, pinned buffers and host-to-device copies are
the only CPU work left in the training loop. Here the decoded cache's flat uint8 pixels go to
device memory once per process (Imagenette's 9,469 training images are about 1 GB at presize
160, 2.5 GB at 256), and each batch is ONE gather: every output byte's source offset is
``start of the crop + row * row stride + column``, computed on the device for the whole batch.

The epoch's random choices are :func:`trainable.data.loader.plan_epoch`'s, drawn from the seed
on the host (a permutation and two integers per image, a few milliseconds) and uploaded once per
epoch, so both paths serve byte-identical batches: the Determinism contract of ARCHITECTURE.md
holds whichever path a trial takes.

A worker process that runs trial after trial (Ray Tune reuses its actors) keeps what it uploaded:
the sets are kept per (decoded cache, device) — a cache is one data set at one presize — and the
least recently used ones are let go when a new set would pass the memory cap (by default half of
what the device has free plus what the kept sets take). The next trial on the same data and
presize uploads nothing. Nothing is uploaded before a trial asks.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from trainable.data.cache import SPLITS, DecodedCache
from trainable.data.loader import plan_epoch

__all__ = ["ResidentImages", "evictions", "fits_on_device", "held_sets", "iter_resident_batches", "resident_images"]

_UPLOAD_CHUNK = 256 << 20  # bytes per host-to-device copy while uploading
_FREE_SHARE = 0.5  # the images may take at most this share of the device's free memory
# (cache folder, device) -> the set on the device, least recently used first; filled by resident_images
_RESIDENT: OrderedDict[tuple[str, str], ResidentImages] = OrderedDict()


@dataclass(frozen=True)
class ResidentImages:
    """A decoded cache's pixels on ``device``, with each split's byte offsets and row strides there."""

    folder: str
    device: torch.device
    pixels: torch.Tensor  # uint8 (total bytes,), every image (H, W, 3) back to back
    offsets: dict[str, torch.Tensor]  # split -> int64 (n,) first byte of each image
    heights: dict[str, torch.Tensor]  # split -> int64 (n,)
    widths: dict[str, torch.Tensor]  # split -> int64 (n,)

    @property
    def nbytes(self) -> int:
        return int(self.pixels.numel())


def fits_on_device(cache: DecodedCache, device: torch.device | str) -> bool:
    """Whether ``cache``'s pixels are on the device already or fit in half its free memory, the sets this
    process keeps there counted as free (CPU memory always counts as fitting)."""
    device = torch.device(device)
    if device.type != "cuda":
        return True
    if (str(cache.folder.resolve()), str(device)) in _RESIDENT:
        return True
    held = sum(n for k, n in held_sets() if k[1] == str(device))
    return int(cache.pixels.nbytes) <= _default_cap(device, held)


def evictions(held: Sequence[tuple[tuple[str, str], int]], need: int, cap: int) -> list[tuple[str, str]]:
    """The kept sets to let go, least recently used first, so that ``need`` more bytes stay within ``cap``.

    ``held``: (key, bytes) of the sets kept on one device, least recently used first. All of them
    when even that is not enough (the new set is then the only one kept).
    """
    total = sum(n for _, n in held)
    out = []
    for key, n in held:
        if total + need <= cap:
            break
        out.append(key)
        total -= n
    return out


def held_sets() -> list[tuple[tuple[str, str], int]]:
    """(cache folder, device) and bytes of every set this process keeps, least recently used first."""
    return [(k, v.nbytes) for k, v in _RESIDENT.items()]


def _default_cap(device: torch.device, held: int) -> int:
    """Half of what the device has free, counting what the kept sets take as free (they can be let go)."""
    if device.type == "cuda":
        free = int(torch.cuda.mem_get_info(device)[0])
    else:
        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    return int(_FREE_SHARE * (free + held))


def resident_images(cache: DecodedCache, device: torch.device | str, *, cap_bytes: int | None = None) -> ResidentImages:
    """``cache``'s pixels on ``device``, uploaded on the process's first request and reused after.

    Sets of other caches stay too (a reused worker's next trial at another presize or on another
    data set), as long as all of them fit ``cap_bytes`` on the device (default: half of its free
    memory, the kept sets counted as free); past it the least recently used are let go first.
    """
    device = torch.device(device)
    key = (str(cache.folder.resolve()), str(device))
    found = _RESIDENT.get(key)
    if found is not None:
        _RESIDENT.move_to_end(key)
        return found
    on_device = [(k, n) for k, n in held_sets() if k[1] == key[1]]
    cap = cap_bytes if cap_bytes is not None else _default_cap(device, sum(n for _, n in on_device))
    let_go = evictions(on_device, int(cache.pixels.nbytes), cap)
    for old in let_go:
        del _RESIDENT[old]
    if let_go and device.type == "cuda":
        torch.cuda.empty_cache()  # what the let-go sets held goes back before the upload asks for more
    flat = cache.pixels
    pixels = torch.empty(int(flat.size), dtype=torch.uint8, device=device)
    for start in range(0, int(flat.size), _UPLOAD_CHUNK):
        stop = min(start + _UPLOAD_CHUNK, int(flat.size))
        pixels[start:stop].copy_(torch.from_numpy(np.array(flat[start:stop])))  # np.array: a writable copy

    def put(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)

    images = ResidentImages(
        folder=key[0], device=device, pixels=pixels,
        offsets={s: put(cache.offsets(s)) for s in SPLITS},
        heights={s: put(cache.shapes(s)[:, 0]) for s in SPLITS},
        widths={s: put(cache.shapes(s)[:, 1]) for s in SPLITS},
    )
    _RESIDENT[key] = images
    return images


def iter_resident_batches(
    images: ResidentImages,
    cache: DecodedCache,
    split: str,
    batch_size: int,
    *,
    shuffle: bool,
    random_crop: bool,
    drop_last: bool,
    seed: int | Sequence[int],
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """:func:`trainable.data.iter_batches`'s batches, byte for byte, assembled on ``images.device``.

    ``(images, labels)``: uint8 ``(B, 3, P, P)`` channels_last and int64 ``(B,)``. Nothing here
    waits for the device: indices are sliced on the device, lengths are known on the host.
    """
    epoch = plan_epoch(cache, split, batch_size, shuffle=shuffle, random_crop=random_crop, drop_last=drop_last,
                       seed=seed)
    device, size = images.device, cache.presize
    # Once per epoch: the served order and each image's crop start, on the device.
    order = torch.as_tensor(np.concatenate(epoch.batches) if epoch.batches else np.zeros(0, np.int64),
                            dtype=torch.int64, device=device)
    corners = torch.as_tensor(epoch.corners, dtype=torch.int64, device=device)
    stride = images.widths[split] * 3  # bytes per row
    start = images.offsets[split] + corners[:, 0] * stride + corners[:, 1] * 3
    labels = torch.as_tensor(np.asarray(cache.labels(split), dtype=np.int64), device=device)
    rows = torch.arange(size, dtype=torch.int64, device=device).view(1, size, 1)
    cols = torch.arange(size * 3, dtype=torch.int64, device=device).view(1, 1, size * 3)
    return _batches(images.pixels, order, [len(b) for b in epoch.batches], start, stride, labels, rows, cols, size)


def _batches(
    pixels: torch.Tensor, order: torch.Tensor, lengths: list[int], start: torch.Tensor, stride: torch.Tensor,
    labels: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, size: int,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    at = 0
    for n in lengths:
        idx = order[at:at + n]
        at += n
        source = start[idx].view(n, 1, 1) + rows * stride[idx].view(n, 1, 1) + cols  # (n, P, 3P) byte offsets
        x = pixels[source].view(n, size, size, 3).permute(0, 3, 1, 2)  # NHWC bytes = channels_last NCHW
        yield x, labels[idx]
