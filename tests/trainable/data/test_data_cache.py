"""build_cache / DecodedCache: layout, pixels, reuse, concurrency, corrupt files, unusable folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainable.data import DataError, DecodedCache, build_cache, decode_resized, scan_folder
from trainable.data.decode import resized_shape


def _builds(cache_dir: Path) -> list[dict]:
    log = cache_dir / "builds.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_shapes_pixels_and_labels(small_embedded: Path, tmp_path: Path) -> None:
    index = scan_folder(small_embedded)
    cache = build_cache(index, 40, tmp_path, progress=False)
    assert cache.classes == index.classes and cache.presize == 40
    assert (cache.n("train"), cache.n("valid")) == (60, 20)
    for split in ("train", "valid"):
        shapes = cache.shapes(split)
        assert shapes.min(axis=1).tolist() == [40] * cache.n(split)
        assert shapes.max() <= 80
        assert np.array_equal(cache.labels(split), index.labels(split))
        for i in (0, cache.n(split) - 1):
            img = cache.image(split, i)
            assert img.dtype == np.uint8 and img.shape == (*shapes[i], 3) and not img.flags.writeable
            assert np.array_equal(img, decode_resized(index.paths(split)[i], 40))
            assert cache.path(split, i) == index.paths(split)[i].relative_to(small_embedded).as_posix()
    meta = cache.meta
    assert meta["counts"] == {"train": 60, "valid": 20} and meta["corrupt"] == [] and meta["version"] == 1
    assert meta["source_root"] == str(small_embedded.resolve())


def test_resize_matches_plain_pil_and_caps_the_long_side(make_folder, tmp_path: Path) -> None:
    root = make_folder({"train/a": 1, "val/a": 1}, size=(300, 50))  # a 6:1 panorama
    index = scan_folder(root)
    cache = build_cache(index, 25, tmp_path / "cache", progress=False)
    img = cache.image("train", 0)
    assert img.shape == (25, 50, 3) == (*resized_shape(300, 50, 25), 3)
    with Image.open(index.train_paths[0]) as im:  # PNG: no draft; the centre 100 x 50 px, halved
        expected = np.asarray(im.convert("RGB").resize((50, 25), Image.Resampling.BILINEAR, box=(100, 0, 200, 50)))
    assert np.array_equal(img, expected)


def test_second_build_reuses_and_label_noise_shares_the_cache(small_embedded: Path, tmp_path: Path) -> None:
    first = build_cache(scan_folder(small_embedded), 32, tmp_path, progress=False)
    noisy_index = scan_folder(small_embedded, label_noise=50)
    noisy = build_cache(noisy_index, 32, tmp_path, progress=False)
    assert noisy.folder == first.folder and len(_builds(tmp_path)) == 1
    assert noisy.label_noise == 50 and np.array_equal(noisy.labels("train"), noisy_index.train_labels)
    assert (noisy.labels("train") != first.labels("train")).sum() == 30
    assert np.array_equal(noisy.labels("valid"), first.labels("valid"))
    other = build_cache(scan_folder(small_embedded), 36, tmp_path, progress=False)
    assert other.folder != first.folder and len(_builds(tmp_path)) == 2


def test_a_changed_file_makes_a_new_cache(make_folder, tmp_path: Path) -> None:
    root = make_folder({"train/a": 2, "val/a": 1})
    first = build_cache(scan_folder(root), 16, tmp_path / "cache", progress=False)
    path = root / "train/a/img0.png"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert build_cache(scan_folder(root), 16, tmp_path / "cache", progress=False).folder != first.folder


_CHILD = """
import json, sys, time
from pathlib import Path
from trainable.data import build_cache, scan_folder
root, cache_dir, go, ready = (Path(a) for a in sys.argv[1:5])
index = scan_folder(root)
ready.touch()  # imported and indexed: at the start line
while not go.exists():
    time.sleep(0.005)
cache = build_cache(index, 48, cache_dir, progress=False)
print(json.dumps({"folder": str(cache.folder), "n": cache.n("train"), "first": int(cache.image("train", 0).sum())}))
"""


def test_concurrent_builders_build_once(small_embedded: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{k}" for k in range(3)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(small_embedded), str(tmp_path / "cache"), str(go), str(r)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for r in ready
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):  # all three imported and indexed: then start them together
            gone = [c for c in children if c.poll() is not None]
            assert not gone, [c.communicate() for c in gone]
            assert time.monotonic() < deadline, f"builders not at the start line within 120 s: {[r.exists() for r in ready]}"
            time.sleep(0.01)
        go.touch()
        results = []
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert len({json.dumps(r) for r in results}) == 1 and results[0]["n"] == 60
    assert len(_builds(tmp_path / "cache")) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir() if ".tmp-" in p.name] == []


def test_corrupt_images_are_skipped_and_recorded(make_folder, tmp_path: Path) -> None:
    root = make_folder({"train/a": 2, "train/b": 2, "val/a": 1, "val/b": 1})
    Image.new("RGB", (64, 48), (200, 30, 30)).save(root / "train/b/photo.jpg", quality=90)
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "train/a/truncated.jpg", quality=90)
    data = (root / "train/a/truncated.jpg").read_bytes()
    (root / "train/a/truncated.jpg").write_bytes(data[: len(data) // 2])  # the header survives
    (root / "train/b/garbage.jpeg").write_bytes(b"this is not a jpeg at all")
    (root / "train/b/notes.txt").write_text("skipped by the scan")
    index = scan_folder(root)
    assert len(index.train_paths) == 7
    cache = build_cache(index, 16, tmp_path / "cache", progress=False)
    corrupt = {c["path"]: c["reason"] for c in cache.meta["corrupt"]}
    assert set(corrupt) == {"train/a/truncated.jpg", "train/b/garbage.jpeg"}
    assert corrupt["train/b/garbage.jpeg"].startswith("unreadable header")
    assert corrupt["train/a/truncated.jpg"].startswith("decode failed") and "truncated" in corrupt["train/a/truncated.jpg"]
    assert cache.meta["skipped"] == ["train/b/notes.txt"]
    assert cache.n("train") == 5 and cache.meta["counts"]["train"] == 5
    for i in range(cache.n("train")):  # labels stay aligned with the images that remain
        assert cache.classes[cache.labels("train")[i]] == cache.path("train", i).split("/")[1]
    photo = [i for i in range(5) if cache.path("train", i).endswith("photo.jpg")][0]
    assert np.abs(cache.image("train", photo).astype(int) - (200, 30, 30)).max() < 8
    assert _builds(tmp_path / "cache")[0]["corrupt"] == 2


def test_unwritable_cache_folder_is_a_clear_error(make_folder, tmp_path: Path) -> None:
    index = scan_folder(make_folder({"train/a": 1, "val/a": 1}))
    (tmp_path / "a_file").write_text("")
    with pytest.raises(DataError, match=r"cache folder .*a_file/cache is not writable .*pass a writable data_dir"):
        build_cache(index, 16, tmp_path / "a_file" / "cache", progress=False)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_cache_folder_is_a_clear_error(make_folder, tmp_path: Path) -> None:
    index = scan_folder(make_folder({"train/a": 1, "val/a": 1}))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(DataError, match="is not writable"):
        build_cache(index, 16, locked, progress=False)


def test_too_little_free_space_is_a_clear_error_and_leaves_nothing(make_folder, tmp_path: Path, monkeypatch) -> None:
    import trainable.data.cache as cache_module

    index = scan_folder(make_folder({"train/a": 2, "val/a": 1}))
    monkeypatch.setattr(cache_module.shutil, "disk_usage", lambda _: type("U", (), {"free": 1000})())
    with pytest.raises(DataError, match=r"has 0.00 GiB free, the cache of .* needs .*free space or pass another data_dir"):
        build_cache(index, 16, tmp_path / "cache", progress=False)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


def test_worker_processes_write_the_same_bytes(small_embedded: Path, tmp_path: Path) -> None:
    index = scan_folder(small_embedded)
    one = build_cache(index, 24, tmp_path / "one", workers=1, progress=False)
    two = build_cache(index, 24, tmp_path / "two", workers=2, progress=False)
    assert np.array_equal(one.pixels, two.pixels)
    assert one.folder.name == two.folder.name


def test_channel_stats(small_embedded: Path, tmp_path: Path) -> None:
    cache = build_cache(scan_folder(small_embedded), 32, tmp_path, progress=False)
    mean, std = cache.channel_stats()
    every = np.concatenate([cache.image("train", i).reshape(-1, 3) for i in range(cache.n("train"))]) / 255
    assert np.allclose(mean, every.mean(0), atol=1e-6) and np.allclose(std, every.std(0), atol=1e-6)
    assert all(abs(m - 0.5) > 0.1 for m in mean)
    sub = DecodedCache(cache.folder).channel_stats("train", max_images=10)
    assert sub == DecodedCache(cache.folder).channel_stats("train", max_images=10) and sub != (mean, std)


def test_errors_name_the_bad_value(small_embedded: Path, tmp_path: Path) -> None:
    index = scan_folder(small_embedded)
    with pytest.raises(DataError, match="presize must be an int >= 8 px, got 4"):
        build_cache(index, 4, tmp_path, progress=False)
    with pytest.raises(DataError, match="workers must be >= 1"):
        build_cache(index, 16, tmp_path, workers=0, progress=False)
    cache = build_cache(index, 16, tmp_path, progress=False)
    with pytest.raises(ValueError, match="split must be one of"):
        cache.n("test")
    with pytest.raises(IndexError, match="image index 60 out of range"):
        cache.image("train", 60)
    with pytest.raises(DataError, match="not a decoded cache"):
        DecodedCache(tmp_path / "nothing")


_KILLED_CHILD = """
import sys, time
from pathlib import Path
import trainable.data.cache as cache_module
from trainable.data import build_cache, scan_folder
root, cache_dir, marker = sys.argv[1:4]
decode_chunk = cache_module.decode_chunk
def decode_then_hang(jobs, pixels, presize):
    failed = decode_chunk(jobs, pixels, presize)  # this chunk's pixels are in the temporary folder
    Path(marker).touch()
    time.sleep(600)
    return failed
cache_module.decode_chunk = decode_then_hang
build_cache(scan_folder(Path(root)), 40, Path(cache_dir), workers=1, progress=False)
"""


def test_a_build_killed_midway_leaves_nothing_trusted(small_embedded: Path, tmp_path: Path) -> None:
    """SIGKILL mid-decoding: no cache under its final name, the lock dies with its holder, the next prepare rebuilds."""
    from trainable.data import prepare

    cache_dir, marker = tmp_path / "data" / "cache", tmp_path / "decoding"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(small_embedded), str(cache_dir), str(marker)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the child never reached the decoding: {child.communicate()[1]}")
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    names = [p.name for p in cache_dir.iterdir()]
    partial = [n for n in names if ".tmp-" in n]
    assert len(partial) == 1 and (cache_dir / partial[0] / "pixels.u8").exists()  # half a cache, hidden
    assert [n for n in names if not n.startswith(".")] == []  # nothing under a final name, no build logged
    cache = prepare(str(small_embedded), 40, data_dir=tmp_path / "data", progress=False)
    assert cache.n("train") == 60 and cache.meta["corrupt"] == []
    index = scan_folder(small_embedded)
    for i in (0, 59):
        assert np.array_equal(cache.image("train", i), decode_resized(index.train_paths[i], 40))
    assert [p.name for p in cache_dir.iterdir() if ".tmp-" in p.name] == []  # the stale half was cleared
    assert len(_builds(cache_dir)) == 1


def test_a_disk_filling_up_mid_build_is_an_error_not_corrupt_images(make_folder, tmp_path: Path, monkeypatch) -> None:
    """A failed write stops the build (nothing kept) instead of recording every image as corrupt."""
    import errno

    import trainable.data.decode as decode_module

    class FullDisk:
        def __init__(self, path: str, mode: str) -> None:
            self.file = open(path, mode)  # noqa: SIM115

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def seek(self, offset: int) -> int:
            return self.file.seek(offset)

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    index = scan_folder(make_folder({"train/a": 3, "val/a": 1}))
    monkeypatch.setattr(decode_module, "open", FullDisk, raising=False)  # decode_chunk's open(); in-process (workers=1)
    with pytest.raises(DataError, match=r"writing the cache of .* at presize 16 under .*cache failed \(\[Errno 28\] No space left"):
        build_cache(index, 16, tmp_path / "cache", workers=1, progress=False)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []
    monkeypatch.undo()
    assert build_cache(index, 16, tmp_path / "cache", progress=False).meta["corrupt"] == []


def _break(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40])  # the PNG header survives, the pixels do not


@pytest.mark.parametrize("split_dir, split", [("val", "valid"), ("train", "train")])
def test_a_split_with_no_readable_image_stops_before_training(make_folder, tmp_path: Path, split_dir: str, split: str) -> None:
    root = make_folder({"train/a": 2, "train/b": 1, "val/a": 1, "val/b": 1})
    for p in sorted((root / split_dir).glob("*/*.png")):
        _break(p)
    expected = (rf"no {split} image of .* could be decoded: all \d are unreadable "
                rf"\(first: {split_dir}/a/img0.png \(.*; {split_dir}/.*\); replace the broken files")
    with pytest.raises(DataError, match=expected):
        build_cache(scan_folder(root), 16, tmp_path / "cache", progress=False)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


def test_bad_files_are_reported_by_path_with_a_count(make_folder, tmp_path: Path, caplog) -> None:
    root = make_folder({"train/a": 3, "val/a": 1})
    _break(root / "train/a/img1.png")
    (root / "train/a/img2.png").write_bytes(b"not a png")
    (root / "val/a/readme.txt").write_text("not an image")
    with caplog.at_level("WARNING", logger="trainable.data.cache"):
        cache = build_cache(scan_folder(root), 16, tmp_path / "cache", progress=False)
    text = caplog.text
    assert "skipped 2 unreadable image(s)" in text and "train/a/img1.png" in text and "train/a/img2.png" in text
    assert "ignored 1 file(s) or folder(s)" in text and "val/a/readme.txt" in text
    assert len(cache.meta["corrupt"]) == 2 and cache.meta["skipped"] == ["val/a/readme.txt"]


def test_channel_stats_are_computed_once_per_cache_folder_in_a_process(small_embedded: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A reused worker's next trial with normalize=dataset reads no image for the statistics again."""
    cache = build_cache(scan_folder(small_embedded), 32, tmp_path, progress=False)
    first = cache.channel_stats()
    again = DecodedCache(cache.folder)  # the next trial opens the cache anew

    def no_reading(*args: object) -> None:
        raise AssertionError("the statistics were computed again")

    monkeypatch.setattr(again, "image", no_reading)
    assert again.channel_stats() == first
