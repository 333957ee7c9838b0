"""The images held in device memory: the same batches as the host loader, byte for byte; one upload per process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainable.data import DecodedCache, build_cache, iter_batches, scan_folder
from trainable.data.batches import open_batches
from trainable.data.resident import evictions, held_sets, iter_resident_batches, resident_images

P = 32


@pytest.fixture(scope="module")
def cache(small_embedded: Path, tmp_path_factory: pytest.TempPathFactory) -> DecodedCache:
    return build_cache(scan_folder(small_embedded), P, tmp_path_factory.mktemp("cache"), progress=False)


@pytest.mark.parametrize("split,shuffle,random_crop,drop_last,bs", [
    ("train", True, True, True, 16),
    ("train", True, True, False, 16),
    ("valid", False, False, False, 7),
    ("valid", False, True, False, 64),  # one batch larger than the split
])
def test_resident_batches_equal_the_host_loaders(cache: DecodedCache, split: str, shuffle: bool, random_crop: bool,
                                                 drop_last: bool, bs: int) -> None:
    args = {"shuffle": shuffle, "random_crop": random_crop, "drop_last": drop_last, "seed": (3, 1)}
    host = list(iter_batches(cache, split, bs, **args))  # type: ignore[arg-type]
    images = resident_images(cache, "cpu")
    dev = list(iter_resident_batches(images, cache, split, bs, **args))  # type: ignore[arg-type]
    assert [len(y) for _, y in dev] == [len(y) for _, y in host] and len(host) > 0
    for (xh, yh), (xd, yd) in zip(host, dev):
        assert xd.dtype == torch.uint8 and xd.shape == xh.shape
        assert xd.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(xd, xh) and torch.equal(yd, yh)


def test_another_seed_gives_other_batches(cache: DecodedCache) -> None:
    images = resident_images(cache, "cpu")
    a = next(iter_resident_batches(images, cache, "train", 16, shuffle=True, random_crop=True, drop_last=True, seed=0))
    b = next(iter_resident_batches(images, cache, "train", 16, shuffle=True, random_crop=True, drop_last=True, seed=1))
    assert not torch.equal(a[0], b[0])


def test_one_upload_per_cache_and_device_kept_while_the_cap_allows(cache: DecodedCache, small_embedded: Path,
                                                                     tmp_path: Path) -> None:
    first = resident_images(cache, "cpu")
    assert resident_images(cache, "cpu") is first  # reused, not uploaded again
    assert first.nbytes == cache.pixels.nbytes
    other = build_cache(scan_folder(small_embedded), P + 8, tmp_path, progress=False)  # the same data at another presize
    third = build_cache(scan_folder(small_embedded), P + 16, tmp_path, progress=False)
    both = first.nbytes + third.pixels.nbytes  # room for two of the three sets
    second = resident_images(other, "cpu", cap_bytes=both)
    assert second is not first and second.nbytes == other.pixels.nbytes
    assert resident_images(cache, "cpu", cap_bytes=both) is first  # both fit the cap: the first set was kept
    resident_images(third, "cpu", cap_bytes=both)  # past the cap: the least recently used (`other`) goes
    kept = {k[0] for k, _ in held_sets()}
    assert str(cache.folder.resolve()) in kept and str(third.folder.resolve()) in kept
    assert str(other.folder.resolve()) not in kept
    assert resident_images(other, "cpu", cap_bytes=both) is not second  # let go, so uploaded anew


def test_evictions_let_go_the_least_recently_used_until_the_new_set_fits() -> None:
    held = [(("a", "cuda:0"), 4), (("b", "cuda:0"), 3), (("c", "cuda:0"), 2)]  # least recently used first
    assert evictions(held, need=1, cap=10) == []
    assert evictions(held, need=2, cap=10) == [("a", "cuda:0")]
    assert evictions(held, need=6, cap=10) == [("a", "cuda:0"), ("b", "cuda:0")]
    assert evictions(held, need=20, cap=10) == [k for k, _ in held]  # too big for the cap: it alone is kept
    assert evictions([], need=5, cap=1) == []


def test_open_batches_follows_data_on_device(cache: DecodedCache) -> None:
    cpu = torch.device("cpu")
    assert not open_batches(cache, cpu, "auto").on_device  # auto: only CUDA holds the images
    assert not open_batches(cache, cpu, "off").on_device
    assert open_batches(cache, cpu, "on").on_device
    with pytest.raises(ValueError, match="'sometimes'"):
        open_batches(cache, cpu, "sometimes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_batches_are_the_host_loaders(cache: DecodedCache) -> None:
    cuda = torch.device("cuda")
    source = open_batches(cache, cuda, "auto")
    assert source.on_device and source.resident is not None and source.resident.pixels.is_cuda
    args = {"shuffle": True, "random_crop": True, "drop_last": False, "seed": 5}
    host = list(iter_batches(cache, "train", 16, **args))  # type: ignore[arg-type]
    dev = list(source.batches("train", 16, **args))  # type: ignore[arg-type]
    for (xh, yh), (xd, yd) in zip(host, dev, strict=True):
        assert xd.is_cuda and torch.equal(xd.cpu(), xh) and torch.equal(yd.cpu(), yh)
