"""The decoded cache: every image of a data set decoded once per presize, memory-mapped by every trial.

Decoding JPEGs is the bottleneck of small-image training on CPU and of many trials on one
machine, so each (data set, presize) pair is decoded once, by all the machine's cores, into one
flat file of HWC uint8 pixels that every trial maps read-only (the OS page cache shares it).

Resizing and decoding are described in ``decode.py``.

Building: image headers are read (sizes only, no decoding) to lay out the flat file, then worker
processes decode chunks of images and write each at its precomputed offset; the files are
fsynced before the folder gets its final name.

Layout of a cache folder ``<cache_dir>/<root name>-p<presize>-<key>``:

* ``pixels.u8``  all images back to back, each (H, W, 3) uint8 row-major;
* ``index.npz``  ``offsets`` (int64 byte offsets), ``heights``, ``widths`` (int32), ``labels``
  (int64, class-folder labels), ``split`` (uint8, 0 train / 1 valid), ``source_pos`` (int64,
  position in the index's split) and ``paths`` (relative to the source root);
* ``meta.json``  source root, presize, classes, counts, format version, skipped and corrupt files.

The key hashes the resolved source root, every file's relative path, size and mtime, the presize
and the format version: a changed file makes a new cache. Labels are not part of the key, so
every label-noise level shares one cache (:meth:`DecodedCache.relabel`). The folder is built in
a temporary sibling under a file lock and renamed when complete (see ``atomic.py``); each build
appends one line to ``<cache_dir>/builds.jsonl``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from trainable.data.atomic import build_once
from trainable.data.decode import decode_chunk, read_headers, run_chunks, worker_pool
from trainable.data.errors import DataError
from trainable.data.folder import DatasetIndex

__all__ = ["CACHE_VERSION", "SPLITS", "DecodedCache", "build_cache"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the decoding or the layout changes
SPLITS = ("train", "valid")
_IN_PROCESS_BELOW = 256  # images; fewer are decoded without starting worker processes
_SPACE_MARGIN = 64 << 20  # bytes kept free beyond the cache's own size
# cache folder -> (split, max_images) -> per-channel (mean, std): filled by channel_stats, once per process
_STATS: dict[str, dict[tuple[str, int], tuple[tuple[float, float, float], tuple[float, float, float]]]] = {}


class DecodedCache:
    """A finished cache folder, memory-mapped read-only; ``image(split, i)`` is a zero-copy view."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        try:
            self.meta: dict = json.loads((self.folder / "meta.json").read_text())
        except (OSError, ValueError) as e:
            raise DataError(f"{self.folder} is not a decoded cache ({e}); delete it and build again") from e
        if self.meta.get("version") != CACHE_VERSION:
            raise DataError(
                f"cache {self.folder} has format version {self.meta.get('version')!r}, this code reads "
                f"{CACHE_VERSION}; delete the folder and build again"
            )
        self.classes: tuple[str, ...] = tuple(self.meta["classes"])
        self.presize: int = int(self.meta["presize"])
        self.label_noise = 0  # the stored labels are the class folders'
        with np.load(self.folder / "index.npz", allow_pickle=False) as z:
            index = {k: z[k] for k in z.files}
        size = (self.folder / "pixels.u8").stat().st_size
        mapped = np.memmap(self.folder / "pixels.u8", np.uint8, "r") if size else np.zeros(0, np.uint8)
        self._pixels: np.ndarray = mapped.view(np.ndarray)
        self._offsets: dict[str, np.ndarray] = {}
        self._shapes: dict[str, np.ndarray] = {}
        self._labels: dict[str, np.ndarray] = {}
        self._source_pos: dict[str, np.ndarray] = {}
        self._paths: dict[str, np.ndarray] = {}
        for k, split in enumerate(SPLITS):
            sel = index["split"] == k
            self._offsets[split] = index["offsets"][sel]
            self._shapes[split] = np.stack([index["heights"][sel], index["widths"][sel]], axis=1)
            self._labels[split] = index["labels"][sel]
            self._source_pos[split] = index["source_pos"][sel]
            self._paths[split] = index["paths"][sel]
        # shared by every DecodedCache of this folder in the process: a reused worker's next trial computes nothing
        self._stats = _STATS.setdefault(str(self.folder.resolve()), {})

    def __repr__(self) -> str:
        return (
            f"DecodedCache({str(self.folder)!r}, presize={self.presize}, train={self.n('train')}, "
            f"valid={self.n('valid')}, classes={len(self.classes)}, label_noise={self.label_noise})"
        )

    def n(self, split: str) -> int:
        """Number of images in ``split`` ('train' or 'valid')."""
        return len(self._offsets[_split(split)])

    def labels(self, split: str) -> np.ndarray:
        """The int64 labels of ``split``, one per image, in cache order."""
        return self._labels[_split(split)]

    def shapes(self, split: str) -> np.ndarray:
        """``(n, 2)`` int32 ``(height, width)`` of each image; the shorter side is always ``presize``."""
        return self._shapes[_split(split)]

    def offsets(self, split: str) -> np.ndarray:
        """int64 byte offset of each image of ``split`` in :attr:`pixels` (for fast batch assembly)."""
        return self._offsets[_split(split)]

    @property
    def pixels(self) -> np.ndarray:
        """The flat, read-only uint8 array of all images back to back."""
        return self._pixels

    def path(self, split: str, i: int) -> str:
        """Path of image ``i`` of ``split``, relative to the source root."""
        return str(self._paths[_split(split)][self._check_index(split, i)])

    def image(self, split: str, i: int) -> np.ndarray:
        """Image ``i`` of ``split`` as a read-only (H, W, 3) uint8 view of the mapped file."""
        i = self._check_index(split, i)
        h, w = (int(v) for v in self._shapes[split][i])
        start = int(self._offsets[split][i])
        return self._pixels[start:start + h * w * 3].reshape(h, w, 3)

    def relabel(self, index: DatasetIndex) -> DecodedCache:
        """This cache with ``index``'s labels (e.g. a label-noise level), sharing the mapped pixels."""
        if index.classes != self.classes:
            raise DataError(f"index classes {index.classes} differ from cache {self.folder}'s {self.classes}")
        new = copy.copy(self)
        new._labels = {}
        for split in SPLITS:
            pos = self._source_pos[split]
            labels = index.labels(split)
            if len(pos) and pos.max() >= len(labels):
                raise DataError(f"index of {index.root} has fewer {split} images than cache {self.folder}; rescan")
            new._labels[split] = labels[pos]
        new.label_noise = index.label_noise
        new._stats = self._stats
        return new

    def channel_stats(
        self, split: str = "train", max_images: int = 2000
    ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """Per-channel pixel mean and std in [0, 1] over (a fixed subsample of) ``split``.

        The book normalizes with the statistics of the training set; the subsample (the first
        ``max_images`` of a permutation seeded 0) keeps this fast and the same in every trial.
        """
        n = self.n(split)
        if max_images < 1:
            raise ValueError(f"max_images must be >= 1, got {max_images=}")
        if n == 0:
            raise DataError(f"cache {self.folder} has no {split} images to take statistics of")
        key = (split, max_images)
        if key not in self._stats:
            chosen = np.sort(np.random.default_rng(0).permutation(n)[:max_images]) if n > max_images else range(n)
            # One histogram of the 3 x 256 (channel, level) pairs: exact integer sums, 3x faster than
            # float sums per image (a trial with normalize=dataset pays this at every start).
            hist = np.zeros(3 * 256, np.int64)
            channel_base = np.array([0, 256, 512], np.uint16)
            for i in chosen:
                hist += np.bincount((self.image(split, int(i)).reshape(-1, 3) + channel_base).ravel(), minlength=3 * 256)
            per_channel = hist.reshape(3, 256)
            levels = np.arange(256, dtype=np.int64)
            total = (per_channel @ levels).astype(np.float64)
            total_sq = (per_channel @ levels**2).astype(np.float64)
            count = int(per_channel[0].sum())
            mean = total / count
            std = np.sqrt(np.maximum(total_sq / count - mean**2, 0))
            self._stats[key] = (
                tuple(float(v) / 255 for v in mean),  # type: ignore[assignment]
                tuple(float(v) / 255 for v in std),
            )
        return self._stats[key]

    def _check_index(self, split: str, i: int) -> int:
        n = self.n(split)
        if not -n <= i < n:
            raise IndexError(f"image index {i} out of range for {split} split of {n} images")
        return i % n


def _split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def build_cache(
    index: DatasetIndex,
    presize: int,
    cache_dir: Path,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> DecodedCache:
    """The decoded cache of ``index`` at ``presize`` under ``cache_dir``, built on first use.

    Concurrent callers (trials on one machine) build it once: the others wait on the lock and
    map the finished folder. Unreadable or corrupt images are skipped and listed in
    ``meta.json`` (``corrupt``: path and reason), never fatal. ``workers`` decoding processes
    (default: one per available core for large sets, in-process below 256 images).
    """
    if not isinstance(presize, int) or presize < 8:
        raise DataError(f"presize must be an int >= 8 px, got {presize!r}")
    if workers is not None and workers < 1:
        raise DataError(f"workers must be >= 1 (or None for one per core), got {workers=}")
    cache_dir = Path(cache_dir).expanduser()
    entries = [(split, p) for split in SPLITS for p in index.paths(split)]
    key = _cache_key(index, entries, presize)
    final = cache_dir / f"{index.root.resolve().name}-p{presize}-{key[:16]}"
    if not final.is_dir():
        _check_writable(cache_dir)
        started = time.perf_counter()
        built: dict = {}
        try:
            done = build_once(final, lambda tmp: built.update(_build(tmp, index, entries, presize, workers, progress)))
        except OSError as e:  # decoding errors are recorded per image; this is the cache's disk failing
            raise DataError(
                f"writing the cache of {index.root} at presize {presize} under {cache_dir} failed ({e}); "
                "nothing was kept. Free space on that disk or pass another data_dir (or set XRESNET_STUDY_DATA)"
            ) from e
        if done:
            _log_build(cache_dir, final, built, time.perf_counter() - started)
    return DecodedCache(final).relabel(index)


def _cache_key(index: DatasetIndex, entries: list[tuple[str, Path]], presize: int) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}\n{index.root.resolve()}\n{presize}\n".encode())
    for split, p in entries:
        try:
            st = p.stat()
        except OSError as e:
            raise DataError(f"{p} was indexed but cannot be read now ({e}); scan the folder again") from e
        digest.update(f"{split}\t{_rel(p, index)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _check_writable(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        probe = cache_dir / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise DataError(
            f"cache folder {cache_dir} is not writable ({e}); pass a writable data_dir "
            "(or set XRESNET_STUDY_DATA)"
        ) from e


def _build(
    tmp: Path, index: DatasetIndex, entries: list[tuple[str, Path]], presize: int, workers: int | None, progress: bool
) -> dict:
    """Fill ``tmp`` with a complete cache; returns counts for the build log."""
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = 1 if len(entries) < _IN_PROCESS_BELOW else cores
    name = f"{index.root.resolve().name} at {presize}px"
    with worker_pool(workers) as pool:
        # 1. Shapes from the headers (no decoding), to lay out the flat file.
        named = [(i, str(p)) for i, (_, p) in enumerate(entries)]
        headers = run_chunks(pool, read_headers, named, (presize,), workers, progress, f"reading headers of {name}")
        shapes = [h if isinstance(h, tuple) else None for _, h in sorted(headers.items())]
        corrupt = {i: reason for i, reason in headers.items() if isinstance(reason, str)}
        sizes = np.array([s[0] * s[1] * 3 if s else 0 for s in shapes], np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        total = int(sizes.sum())
        free = shutil.disk_usage(tmp).free
        if free < total + _SPACE_MARGIN:
            raise DataError(
                f"cache folder {tmp.parent} has {free / 2**30:.2f} GiB free, the cache of {index.root} at "
                f"presize {presize} needs {total / 2**30:.2f} GiB (+64 MiB); free space or pass another data_dir"
            )
        # 2. Decode every image into its slot of the flat file.
        pixels = tmp / "pixels.u8"
        with open(pixels, "wb") as f:
            f.truncate(total)
        jobs = [(i, str(p), int(offsets[i]), s[0], s[1]) for i, ((_, p), s) in enumerate(zip(entries, shapes)) if s]
        started = time.perf_counter()
        failed = run_chunks(pool, decode_chunk, jobs, (str(pixels), presize), workers, progress, f"decoding {name}")
        corrupt.update(failed)
        seconds = time.perf_counter() - started
    # 3. The index and the metadata; everything on disk before the folder gets its final name.
    keep = [i for i, s in enumerate(shapes) if s and i not in corrupt]
    split_of = np.array([SPLITS.index(split) for split, _ in entries], np.uint8)
    source_pos = np.concatenate([np.arange(len(index.paths(s)), dtype=np.int64) for s in SPLITS])
    folder_labels = np.concatenate([_folder_labels(index, s) for s in SPLITS])
    np.savez(
        tmp / "index.npz",
        offsets=offsets[keep], heights=np.array([shapes[i][0] for i in keep], np.int32),  # type: ignore[index]
        widths=np.array([shapes[i][1] for i in keep], np.int32),  # type: ignore[index]
        labels=folder_labels[keep], split=split_of[keep], source_pos=source_pos[keep],
        paths=np.array([_rel(entries[i][1], index) for i in keep], dtype=np.str_),
    )
    counts = {s: int((split_of[keep] == k).sum()) for k, s in enumerate(SPLITS)}
    bad = [f"{_rel(entries[i][1], index)} ({r})" for i, r in sorted(corrupt.items())]
    for k, split in enumerate(SPLITS):
        if counts[split] == 0:  # the index has >= 1 image per split, so they were all unreadable
            unreadable = [b for i, b in zip(sorted(corrupt), bad) if split_of[i] == k]
            raise DataError(
                f"no {split} image of {index.root} could be decoded: all {len(unreadable)} are unreadable "
                f"(first: {'; '.join(unreadable[:3])}); replace the broken files (or download the data set again)"
            )
    meta = {
        "version": CACHE_VERSION, "source_root": str(index.root.resolve()), "presize": presize,
        "classes": list(index.classes), "counts": counts, "bytes": total,
        "skipped": list(index.skipped),
        "corrupt": [{"path": _rel(entries[i][1], index), "reason": r} for i, r in sorted(corrupt.items())],
        "decode_seconds": round(seconds, 3), "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    for written in (pixels, tmp / "index.npz", tmp / "meta.json"):
        _fsync(written)
    if corrupt:
        log.warning("skipped %d unreadable image(s) of %s (first: %s); the cache's meta.json lists all under 'corrupt'",
                    len(corrupt), index.root, "; ".join(bad[:3]))
    if index.skipped:
        log.warning("ignored %d file(s) or folder(s) in the class folders of %s that are not images (first: %s); "
                    "the cache's meta.json lists all under 'skipped'", len(index.skipped), index.root, ", ".join(index.skipped[:3]))
    return {"images": len(keep), "corrupt": len(corrupt), "bytes": total, "decode_seconds": seconds}


def _folder_labels(index: DatasetIndex, split: str) -> np.ndarray:
    """Labels from the class folders (the clean labels), whatever label noise the index carries."""
    lookup = {c: i for i, c in enumerate(index.classes)}
    return np.array([lookup[p.parent.name] for p in index.paths(split)], np.int64)


def _rel(p: Path, index: DatasetIndex) -> str:
    return p.relative_to(index.root).as_posix()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _log_build(cache_dir: Path, final: Path, built: dict, seconds: float) -> None:
    line = {
        "folder": final.name, "pid": os.getpid(), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(seconds, 3), **built,
        "images_per_s": round(built["images"] / max(seconds, 1e-9), 1),
    }
    with open(cache_dir / "builds.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
