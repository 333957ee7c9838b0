"""A data set with Imagenette's real shape and generated JPEGs of Imagenette-320's size, for benchmarks.

The images of Imagenette cannot be downloaded on every machine, but its label table can ship with
the project (``shared/data/imagenette/noisy_imagenette.csv``: 13,394 rows, 9,469 train / 3,925 val,
10 class folders). :func:`make_imagenette_like` lays out a folder exactly like the extracted
``imagenette2-320`` archive — the same relative paths, class folders, split and noisy-label
columns (the table is copied to the root) — and fills it with JPEGs whose shorter side is 320 px
and whose aspect ratios follow ImageNet's usual mix (:data:`ASPECTS`), so that decoding, resizing
and cropping cost what they cost on the real files.

The content is cheap to draw and compresses like a photo at quality 90 (about 30-40 KB per
image, Imagenette-320 averages 25 KB): a smooth colour field, a few filled shapes and lines, and
mild pixel noise. It carries no class signal; it is for timing, not for learning.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from trainable.data.atomic import build_once

__all__ = ["ASPECTS", "SHORT_SIDE", "make_imagenette_like", "plan_rows", "render_photo", "size_of"]

SHORT_SIDE = 320  # px, Imagenette-320's shorter side
# (width, height, probability): ImageNet photos are mostly 4:3 landscapes (500 x 375), then 3:4
# portraits, 3:2 / 2:3 camera frames, squares and a few wide shots.
ASPECTS: tuple[tuple[int, int, float], ...] = (
    (4, 3, 0.62), (3, 4, 0.12), (3, 2, 0.10), (2, 3, 0.04), (1, 1, 0.07), (16, 9, 0.05),
)
JPEG_QUALITY = 90
_NOISE_STD = 5.0  # grey levels of per-pixel noise: what makes the JPEGs photo-sized
_COLUMNS = ("path", "noisy_labels_0", "noisy_labels_1", "noisy_labels_5", "noisy_labels_25", "noisy_labels_50", "is_valid")


def _path_seed(seed: int, path: str) -> list[int]:
    return [seed, int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "little")]


def size_of(path: str, seed: int = 0, short: int = SHORT_SIDE) -> tuple[int, int]:
    """The ``(width, height)`` of the image at ``path``: an aspect drawn from :data:`ASPECTS`."""
    rng = np.random.default_rng(_path_seed(seed, path))
    p = np.array([a[2] for a in ASPECTS])
    aw, ah, _ = ASPECTS[int(rng.choice(len(ASPECTS), p=p / p.sum()))]
    return (round(short * aw / ah), short) if aw >= ah else (short, round(short * ah / aw))


def render_photo(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A cheap photo-like ``(height, width, 3)`` uint8 image: smooth field, shapes, lines, noise."""
    field = rng.integers(20, 236, (3, 4, 3), dtype=np.uint8)  # a 4 x 3 colour grid, blown up smoothly
    img = Image.fromarray(field).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        w, h = rng.uniform(0.1, 0.6) * width, rng.uniform(0.1, 0.6) * height
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
    for _ in range(int(rng.integers(2, 6))):
        pts = [(float(rng.uniform(0, width)), float(rng.uniform(0, height))) for _ in range(2)]
        draw.line(pts, fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=int(rng.integers(1, 5)))
    img = img.filter(ImageFilter.BoxBlur(1))  # soft edges, as in a photo (2.5x cheaper than a Gaussian)
    pixels = np.asarray(img, dtype=np.int16)
    noise = _noise_pool()
    start = int(rng.integers(0, noise.size - pixels.size))
    pixels = pixels + noise[start:start + pixels.size].reshape(pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


_NOISE: np.ndarray | None = None


def _noise_pool() -> np.ndarray:
    """Three million int16 noise values, drawn once per process (fresh normals would dominate)."""
    global _NOISE
    if _NOISE is None:
        _NOISE = np.round(np.random.default_rng(12345).normal(0, _NOISE_STD, 3_000_000)).astype(np.int16)
    return _NOISE


def plan_rows(table: Path, limit: int | None = None, seed: int = 0) -> list[dict[str, str]]:
    """The rows of ``table`` to generate: all, or ``limit`` of them stratified by (split, class).

    Every (split, class) group keeps its share of the table (at least one row), chosen at
    random from ``seed``; rows stay in the table's order.
    """
    with open(table, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"label table {table} lacks the column(s) {missing}; it needs {list(_COLUMNS)}")
        rows = list(reader)
    if limit is None or limit >= len(rows):
        return rows
    if limit < 1:
        raise ValueError(f"limit must be >= 1 row (or None for all), got {limit=}")
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        split, cls = r["path"].split("/")[:2]
        groups[(split, cls)].append(i)
    rng = np.random.default_rng([seed, 7])
    keep: list[int] = []
    for key in sorted(groups):
        members = groups[key]
        n = max(1, round(limit * len(members) / len(rows)))
        keep.extend(rng.permutation(members)[:n].tolist())
    return [rows[i] for i in sorted(keep)]


def _write_chunk(root: str, paths: list[str], seed: int, quality: int) -> int:
    for path in paths:
        width, height = size_of(path, seed)
        rng = np.random.default_rng([*_path_seed(seed, path), 1])
        Image.fromarray(render_photo(width, height, rng)).save(Path(root) / path, "JPEG", quality=quality)
    return len(paths)


def _write(tmp: Path, rows: list[dict[str, str]], seed: int, quality: int, workers: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    for folder in sorted({str(Path(r["path"]).parent) for r in rows}):
        (tmp / folder).mkdir(parents=True)
    paths = [r["path"] for r in rows]
    size = max(1, min(64, math.ceil(len(paths) / (4 * workers))))
    chunks = [paths[k:k + size] for k in range(0, len(paths), size)]
    with tqdm(total=len(paths), desc=f"generating {tmp.name}", unit="img", disable=not progress) as bar:
        if workers == 1:
            for chunk in chunks:
                bar.update(_write_chunk(str(tmp), chunk, seed, quality))
        else:
            with concurrent.futures.ProcessPoolExecutor(workers) as pool:
                for done in concurrent.futures.as_completed(
                    [pool.submit(_write_chunk, str(tmp), c, seed, quality) for c in chunks]
                ):
                    bar.update(done.result())
    with open(tmp / "noisy_imagenette.csv", "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(_COLUMNS), extrasaction="ignore")
        out.writeheader()
        out.writerows(rows)


def make_imagenette_like(
    data_dir: Path,
    table: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    quality: int = JPEG_QUALITY,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """The root of an Imagenette-320-shaped folder under ``data_dir``, generated on first use.

    ``table`` is Imagenette's ``noisy_imagenette.csv``; ``limit`` rows of it (stratified, see
    :func:`plan_rows`) or all. The folder holds ``train/<wnid>/*.JPEG``, ``val/<wnid>/*.JPEG``
    and the (possibly subset) table as ``noisy_imagenette.csv``, so ``scan_folder`` accepts every
    ``label_noise`` level. It is built once (``trainable.data.atomic.build_once``) and reused.
    """
    rows = plan_rows(Path(table), limit, seed)
    workers = workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    digest = hashlib.sha256(f"{seed}\n{quality}\n{SHORT_SIDE}\n{ASPECTS}\n{_NOISE_STD}\n".encode())
    for r in rows:
        digest.update(r["path"].encode())
    root = Path(data_dir).expanduser() / f"imagenette-like-320-n{len(rows)}-{digest.hexdigest()[:10]}"
    build_once(root, lambda tmp: _write(tmp, rows, seed, quality, workers, progress))
    return root
