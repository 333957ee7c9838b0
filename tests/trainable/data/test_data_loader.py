"""iter_batches / num_batches: shapes and layout, determinism, coverage, crops, drop_last, prefetch."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from trainable.data import DecodedCache, build_cache, iter_batches, num_batches, scan_folder

P = 32


@pytest.fixture(scope="module")
def cache(small_embedded: Path, tmp_path_factory: pytest.TempPathFactory) -> DecodedCache:
    return build_cache(scan_folder(small_embedded), P, tmp_path_factory.mktemp("cache"), progress=False)


def _epoch(cache: DecodedCache, split: str = "train", bs: int = 16, **kw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    args = {"shuffle": True, "random_crop": True, "drop_last": False, "seed": 0} | kw
    return list(iter_batches(cache, split, bs, **args))


def _centre(cache: DecodedCache, split: str, i: int) -> np.ndarray:
    img = cache.image(split, i)
    y, x = (img.shape[0] - P) // 2, (img.shape[1] - P) // 2
    return img[y:y + P, x:x + P]


def test_batch_shapes_dtypes_and_channels_last(cache: DecodedCache) -> None:
    batches = _epoch(cache)
    assert [len(y) for _, y in batches] == [16, 16, 16, 12]
    for x, y in batches:
        assert x.dtype == torch.uint8 and x.shape == (len(y), 3, P, P) and x.device.type == "cpu"
        assert x.is_contiguous(memory_format=torch.channels_last)
        assert y.dtype == torch.int64 and y.shape == (len(y),)


def test_same_seed_same_batches_other_seed_other_batches(cache: DecodedCache) -> None:
    a, b, c = _epoch(cache, seed=(3, 1)), _epoch(cache, seed=(3, 1)), _epoch(cache, seed=(3, 2))
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True))
    assert not torch.equal(a[0][0], c[0][0])


def test_prefetch_does_not_change_the_batches(cache: DecodedCache) -> None:
    for (xa, ya), (xb, yb) in zip(_epoch(cache, prefetch=0), _epoch(cache, prefetch=3), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_shuffle_visits_every_image_once_and_centre_crops_match(cache: DecodedCache) -> None:
    key = {_centre(cache, "train", i).tobytes(): i for i in range(cache.n("train"))}
    assert len(key) == cache.n("train")
    seen = []
    for x, y in _epoch(cache, random_crop=False, bs=7):
        for crop, label in zip(x.permute(0, 2, 3, 1).numpy(), y.tolist()):
            seen.append(key[np.ascontiguousarray(crop).tobytes()])  # KeyError: not a centre crop
            assert label == cache.labels("train")[seen[-1]]
    assert sorted(seen) == list(range(cache.n("train"))) and seen != sorted(seen)


def test_unshuffled_valid_is_in_cache_order(cache: DecodedCache) -> None:
    x = torch.cat([x for x, _ in _epoch(cache, "valid", shuffle=False, random_crop=False)])
    for i in range(cache.n("valid")):
        assert np.array_equal(x[i].permute(1, 2, 0).numpy(), _centre(cache, "valid", i))


def test_random_crops_are_windows_of_their_image(cache: DecodedCache) -> None:
    key = {_centre(cache, "train", i).tobytes(): i for i in range(cache.n("train"))}
    order = [key[np.ascontiguousarray(c).tobytes()]
             for x, _ in _epoch(cache, random_crop=False, seed=5) for c in x.permute(0, 2, 3, 1).numpy()]
    crops = [c for x, _ in _epoch(cache, random_crop=True, seed=5) for c in x.permute(0, 2, 3, 1).numpy()]
    moved = 0
    for i, crop in zip(order, crops, strict=True):  # same seed: same order, so crop k is of image order[k]
        img = cache.image("train", i)
        hits = [(y, x) for y in range(img.shape[0] - P + 1) for x in range(img.shape[1] - P + 1)
                if np.array_equal(img[y:y + P, x:x + P], crop)]
        assert hits
        moved += hits[0] != ((img.shape[0] - P) // 2, (img.shape[1] - P) // 2)
    assert moved > len(crops) // 2


def test_drop_last_and_num_batches(cache: DecodedCache) -> None:
    for bs, drop_last, expected in ((16, True, [16] * 3), (16, False, [16] * 3 + [12]), (60, True, [60]), (61, True, [])):
        sizes = [len(y) for _, y in _epoch(cache, bs=bs, drop_last=drop_last)]
        assert sizes == expected and num_batches(cache, "train", bs, drop_last) == len(expected)


def test_leaving_early_stops_the_prefetch_thread(cache: DecodedCache) -> None:
    before = threading.active_count()
    batches = iter_batches(cache, "train", 4, shuffle=True, random_crop=True, drop_last=False, seed=0, prefetch=2)
    next(batches)
    batches.close()
    assert threading.active_count() == before


def test_bad_arguments_fail_at_the_call(cache: DecodedCache) -> None:
    args = {"shuffle": True, "random_crop": True, "drop_last": False, "seed": 0}
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        iter_batches(cache, "train", 0, **args)
    with pytest.raises(ValueError, match="prefetch must be >= 0"):
        iter_batches(cache, "train", 8, prefetch=-1, **args)
    with pytest.raises(ValueError, match="split must be one of"):
        iter_batches(cache, "test", 8, **args)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_match_cpu_batches(cache: DecodedCache) -> None:
    for (xc, yc), (xg, yg) in zip(_epoch(cache), _epoch(cache, device="cuda"), strict=True):
        assert xg.device.type == "cuda" and yg.device.type == "cuda"
        assert xg.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(xg.cpu(), xc) and torch.equal(yg.cpu(), yc)
