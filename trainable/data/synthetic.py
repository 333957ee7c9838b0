"""The embedded data set: ten shape-and-texture classes drawn from a seed, laid out like Imagenette.

Imagenette cannot be downloaded everywhere, so the project generates a stand-in with chapter 7's
effects *planted* in it: each technique has a mechanism in the images that it can exploit, at the
scale the variant is made for, so a study that searches over the techniques has something known
to find. Each image shows one object on a cluttered background. The classes (folder names, in
label order) are::

    c0_disc   c1_ring   c2_square   c3_triangle   c4_cross   c5_star   c6_bar
    c7_disc_stripes   c8_square_stripes   c9_triangle_stripes

Two variants share the drawing and differ only in scale (:data:`VARIANTS`):

* ``embedded`` (the CPU demo's; presize 72, training sizes 32-48 px): shorter side 96-128 px.
* ``embedded-large`` (GPU studies; presize 288, training sizes 128-224 px): shorter side 288-352
  px, the same objects and textures, scaled so that the stripes sit between 128 and 224 px as
  the small variant's sit between 32 and 48 px.

The planted mechanisms:

* **Resolution** (presizing, progressive resizing, size): a disc, square or triangle is plain or
  striped. The stripes' period is :data:`Variant.texture_period` of the shorter side (3.2 px at
  presize 72; the same at presize 288 in the large variant), a sine grating of contrast
  ``TEXTURE_CONTRAST`` around the object's mean colour (never clipped, so its mean stays that
  colour). Resampled to 48 px (large: 224 px) the stripes stay; at 32 px (large: 128 px), below
  their frequency, the antialiased resampling of both validation and training (which pre-shrinks
  when the presize is over twice the size: hence presize 72, not 64) averages them away, and each
  striped class looks like its plain twin: three of the ten classes need the final size.
  Progressive resizing can learn the shapes at the small size and the stripes at the end.
* **Crops and TTA**: :data:`EDGE_FRACTION` of the objects in non-square images sit at an end of
  the long axis, fully inside the image, so the centre crop that validation uses (the middle
  square) cuts part of them (``objects.csv``'s ``cut_fraction``: the share of the object's
  bounding disc outside it: 10-26 % in 4:3 images, 33-77 % in 16:9 ones; 35 % of all objects
  are cut so, by 19 % in the median) while random crops and TTA's augmented passes see more of
  them. Square images cannot have this (the
  frame, not the crop, would cut them).
* **Normalization**: the images are dark and low in contrast (channel means about 0.26, 0.20,
  0.13 and standard deviations about 0.10, 0.10, 0.07, far from 0 and 1 and unequal), so the
  first layer sees inputs far from the zero-mean, unit-variance range its initialization assumes.
  ``imagenet`` statistics only partly fix this; the training set's (``dataset``) do.
* **Label noise** (label smoothing, mixup): the label table's noisy columns flip 1/5/25/50 % of
  the train labels (``label_noise``). Without it, and at the demo's 4 epochs (the network
  underfits), mixup and label smoothing change nothing (bench/technique_effects.py: +-0.005).
* **Colour is no shortcut**: every class draws its colour from the same distribution.
* **Sizes and aspect ratios like photos'**: aspect ratios 4:3 (40 %), 3:4 (20 %), 1:1 (10 %),
  16:9 (20 %), 9:16 (10 %), more wide ones than Imagenette so that crops matter.

The label table ``noisy_imagenette.csv`` has Imagenette's columns. The noisy columns flip exactly
1/5/25/50 % of the train labels to another class (val labels never change), nested: a label
flipped at 5 % is flipped, to the same wrong class, at 25 % and 50 % (the real table is not nested;
nesting makes the noise levels comparable). ``objects.csv`` records each object's class, bounding
circle, whether it was placed near an edge, and the share of it a centre crop cuts (the ground
truth, for tests and inspection).
"""

from __future__ import annotations

import csv
import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from trainable.data.atomic import build_once
from trainable.data.decode import run_chunks, worker_pool
from trainable.data.errors import DataError

__all__ = [
    "CLASSES", "NOISE_LEVELS", "VARIANTS", "ImageSpec", "Variant", "centre_cut_fraction", "ensure_embedded",
    "plan_images", "render_image",
]

FORMAT_VERSION = 2  # bump when the drawing changes: the folder name carries it
CLASSES: tuple[str, ...] = (
    "c0_disc", "c1_ring", "c2_square", "c3_triangle", "c4_cross",
    "c5_star", "c6_bar", "c7_disc_stripes", "c8_square_stripes", "c9_triangle_stripes",
)
NOISE_LEVELS = (1, 5, 25, 50)  # % of train labels flipped, Imagenette's noisy_labels_* columns
TRAIN_PER_CLASS = 130
VALID_PER_CLASS = 50
ASPECTS = ((4, 3), (3, 4), (1, 1), (16, 9), (9, 16))  # (width, height)
ASPECT_P = (0.40, 0.20, 0.10, 0.20, 0.10)
EDGE_FRACTION = 0.4  # of the objects in non-square images: placed at an end, so that a centre crop cuts them
RADIUS = (0.26, 0.36)
MAX_TILT = 20.0  # degrees: objects stand roughly upright, as in photos  # object radius as a fraction of the shorter side
BACKGROUND = (0.24, 0.17, 0.11)  # mean background colour per channel, in [0, 1]
OBJECT_COLOUR = ((0.30, 0.62), (0.22, 0.52), (0.12, 0.40))  # per-channel range of an object's mean colour
TEXTURE_CONTRAST = 0.5  # the stripes: colour x (1 + TEXTURE_CONTRAST sin): zero-mean, and never clipped
PIXEL_NOISE = 0.02  # std of the per-pixel Gaussian noise
JPEG_QUALITY = 92
_IN_PROCESS_BELOW_PIXELS = 50_000_000  # smaller sets are drawn in this process (the default one: 25 M px)


@dataclass(frozen=True)
class Variant:
    """One scale of the embedded set: what a source name generates."""

    name: str  # the data source name
    short_side: tuple[int, int]  # px, inclusive range of the shorter side
    texture_period: float  # period of the stripes as a fraction of the shorter side


VARIANTS: dict[str, Variant] = {
    # presize 72: stripes of 3.2 px, resolved at 48 px, averaged away at 32 px
    "embedded": Variant("embedded", (96, 128), 0.045),
    # presize 288: stripes of 3.2 px, resolved at 224 px, averaged away at 128 px
    "embedded-large": Variant("embedded-large", (288, 352), 0.01125),
}

_SHAPE = {  # class -> (outline, textured)
    "c0_disc": ("disc", False), "c1_ring": ("ring", False), "c2_square": ("square", False),
    "c3_triangle": ("triangle", False), "c4_cross": ("cross", False), "c5_star": ("star", False),
    "c6_bar": ("bar", False), "c7_disc_stripes": ("disc", True), "c8_square_stripes": ("square", True),
    "c9_triangle_stripes": ("triangle", True),
}


@dataclass(frozen=True)
class ImageSpec:
    """Where and how one image's object is drawn (all that is random about it, but the clutter)."""

    path: str  # relative to the data set root, e.g. "train/c0_disc/c0_disc_00000.JPEG"
    label: int  # index into CLASSES
    width: int  # px
    height: int  # px
    cx: float  # px, object centre
    cy: float  # px
    radius: float  # px, radius of the object's bounding circle
    angle: float  # radians
    colour: tuple[float, float, float]  # object mean colour in [0, 1]
    near_edge: bool  # placed so that a centre crop cuts it
    is_valid: bool
    texture_period: float = 0.0  # px, period of the stripes (textured classes)


def centre_cut_fraction(spec: ImageSpec) -> float:
    """The share of the object's bounding disc outside the centre crop (the middle square of the image)."""
    long_, short = max(spec.width, spec.height), min(spec.width, spec.height)
    along = spec.cx if spec.width >= spec.height else spec.cy
    lo, hi = (long_ - short) / 2, (long_ + short) / 2
    r = spec.radius
    return (_segment(r, lo - (along - r)) + _segment(r, (along + r) - hi)) / (math.pi * r * r)


def _segment(r: float, depth: float) -> float:
    """Area of the part of a disc of radius ``r`` beyond a chord ``depth`` from its edge."""
    h = min(max(depth, 0.0), 2 * r)
    return r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(max(2 * r * h - h * h, 0.0))


def plan_images(seed: int, train_per_class: int, valid_per_class: int, variant: str = "embedded") -> list[ImageSpec]:
    """Draw every image's geometry from ``seed``: train images of all classes, then val images."""
    var = VARIANTS[variant]
    rng = np.random.default_rng([seed, 0])
    specs: list[ImageSpec] = []
    number = 0
    for is_valid, per_class in ((False, train_per_class), (True, valid_per_class)):
        split = "val" if is_valid else "train"
        for label, name in enumerate(CLASSES):
            for _ in range(per_class):
                specs.append(_plan_one(rng, var, f"{split}/{name}/{name}_{number:05d}.JPEG", label, is_valid))
                number += 1
    return specs


def _plan_one(rng: np.random.Generator, var: Variant, path: str, label: int, is_valid: bool) -> ImageSpec:
    aw, ah = ASPECTS[rng.choice(len(ASPECTS), p=ASPECT_P)]
    short = int(rng.integers(var.short_side[0], var.short_side[1] + 1))
    width, height = (round(short * aw / ah), short) if aw >= ah else (short, round(short * ah / aw))
    long_ = max(width, height)
    r = float(rng.uniform(*RADIUS)) * short
    near_edge = bool(rng.random() < EDGE_FRACTION) and aw != ah
    # Position along the long axis; a centre crop keeps [(long - short) / 2, (long + short) / 2].
    margin = (long_ - short) / 2
    if near_edge:  # inside the image, at most a third of the margin from its end: the crop cuts it
        along = float(rng.uniform(r, r + margin / 3))
        if rng.random() < 0.5:
            along = long_ - along
    else:  # inside the centre square, up to 10 % of r outside it
        lo, hi = margin + 0.9 * r, margin + short - 0.9 * r
        along = float(rng.uniform(lo, hi)) if hi > lo else long_ / 2
    across = float(rng.uniform(0.9 * r, short - 0.9 * r))
    cx, cy = (along, across) if width >= height else (across, along)
    colour = tuple(float(rng.uniform(lo, hi)) for lo, hi in OBJECT_COLOUR)
    angle = math.radians(float(rng.uniform(-MAX_TILT, MAX_TILT)))
    return ImageSpec(path, label, width, height, cx, cy, r, angle,
                     colour, near_edge, is_valid, var.texture_period * short)  # type: ignore[arg-type]


def render_image(spec: ImageSpec, seed: int) -> np.ndarray:
    """Draw ``spec`` as an (H, W, 3) uint8 array; the clutter comes from ``(seed, path)``."""
    rng = np.random.default_rng([seed, 1, *spec.path.encode()])
    h, w = spec.height, spec.width
    short = min(h, w)
    # Drawn planar (3, H, W) so that every per-channel operation is contiguous.
    img = np.empty((3, h, w), np.float32)
    background = np.asarray(BACKGROUND) + rng.normal(0, 0.03, 3)
    # Clutter under the object: soft colour blobs (separable Gaussians: one outer product each, not
    # a BLAS matmul, whose threads crawl on a busy machine and whose sums may differ between
    # machines), then thin lines.
    k = int(rng.integers(3, 7))
    sigma = rng.uniform(0.08, 0.3, k) * short
    gx = np.exp(-((np.arange(w) + 0.5)[:, None] - rng.uniform(0, w, k)) ** 2 / (2 * sigma**2)).astype(np.float32)
    gy = np.exp(-((np.arange(h) + 0.5)[:, None] - rng.uniform(0, h, k)) ** 2 / (2 * sigma**2)).astype(np.float32)
    amp = rng.normal(0, 0.07, (k, 3)).astype(np.float32)
    img[:] = np.asarray(background, np.float32)[:, None, None]
    for j in range(k):
        blob = np.multiply.outer(gy[:, j], gx[:, j])
        for c in range(3):
            img[c] += amp[j, c] * blob
    line_scale = short / 112  # lines as thick relative to the image in every variant
    for _ in range(int(rng.integers(1, 4))):
        p0, p1 = rng.uniform((0, 0), (w, h)), rng.uniform((0, 0), (w, h))
        width = float(rng.uniform(0.5, 1.2)) * line_scale
        pad = width + 2
        box = _box(min(p0[0], p1[0]) - pad, max(p0[0], p1[0]) + pad, min(p0[1], p1[1]) - pad, max(p0[1], p1[1]) + pad, w, h)
        xx, yy = _grid(box)
        cover = np.clip(width + 0.5 - _segment_distance(xx, yy, p0, p1), 0, 1)
        _paint(img[:, box[2]:box[3], box[0]:box[1]], cover, rng.uniform(0.08, 0.4, 3).astype(np.float32))
    # The object, in its bounding box: outline coverage (1-px antialiased edge), colour, texture.
    outline, textured = _SHAPE[CLASSES[spec.label]]
    r = spec.radius
    box = _box(spec.cx - r - 2, spec.cx + r + 2, spec.cy - r - 2, spec.cy + r + 2, w, h)
    xx, yy = _grid(box)
    ca, sa = math.cos(spec.angle), math.sin(spec.angle)
    u = (xx - spec.cx) * ca + (yy - spec.cy) * sa
    v = (yy - spec.cy) * ca - (xx - spec.cx) * sa
    cover = np.clip(0.5 - _sdf(outline, u, v, r), 0, 1)
    colour: np.ndarray = np.asarray(spec.colour, np.float32)
    if textured:  # a sine grating: one frequency, so a low-pass below it removes it entirely
        wave = np.sin(u * np.float32(2 * math.pi / spec.texture_period)).astype(np.float32)
        colour = colour[:, None, None] * (1 + TEXTURE_CONTRAST * wave)
    _paint(img[:, box[2]:box[3], box[0]:box[1]], cover, colour)
    # Pixel noise: a random window of a fixed pool (drawing fresh normals would take most of the time).
    pool = _noise_pool(seed)
    start = int(rng.integers(0, pool.size - img.size))
    img += pool[start:start + img.size].reshape(img.shape)
    np.clip(img, 0, 1, out=img)
    return (img.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8, order="C")


@functools.lru_cache(maxsize=2)
def _noise_pool(seed: int) -> np.ndarray:
    """Eight million Gaussian pixel-noise values (std PIXEL_NOISE), drawn once per seed."""
    return np.random.default_rng([seed, 3]).standard_normal(8_000_000, dtype=np.float32) * np.float32(PIXEL_NOISE)


def _box(x0: float, x1: float, y0: float, y1: float, w: int, h: int) -> tuple[int, int, int, int]:
    """Integer pixel box ``(x0, x1, y0, y1)`` clipped to a ``w`` x ``h`` image."""
    return max(int(x0), 0), min(int(np.ceil(x1)), w), max(int(y0), 0), min(int(np.ceil(y1)), h)


def _grid(box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of ``box``, broadcastable to its (rows, columns)."""
    x0, x1, y0, y1 = box
    return np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5, np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5


def _paint(img: np.ndarray, cover: np.ndarray, colour: np.ndarray) -> None:
    """Blend ``colour`` (3,) or (3, h, w) over planar ``img`` (3, h, w) with coverage ``cover`` (h, w)."""
    if colour.ndim == 1:
        colour = colour[:, None, None]
    img *= 1 - cover
    img += cover * colour


def _segment_distance(xx: np.ndarray, yy: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    dx, dy = float(p1[0] - p0[0]), float(p1[1] - p0[1])
    x, y = xx - float(p0[0]), yy - float(p0[1])
    t = np.clip((x * dx + y * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
    return np.hypot(x - t * dx, y - t * dy)


def _sdf(outline: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Approximate signed distance (px, negative inside) to an outline of bounding radius ``r``."""
    if outline == "disc":
        return np.hypot(u, v) - r
    if outline == "ring":
        return np.abs(np.hypot(u, v) - 0.72 * r) - 0.28 * r
    if outline == "square":
        return np.maximum(np.abs(u), np.abs(v)) - r / math.sqrt(2)
    if outline == "triangle":  # equilateral, circumradius r
        sides = [u * math.cos(a) + v * math.sin(a) for a in (math.pi / 2, math.pi * 7 / 6, -math.pi / 6)]
        return np.maximum(np.maximum(sides[0], sides[1]), sides[2]) - r / 2
    if outline == "cross":
        au, av = np.abs(u), np.abs(v)
        return np.minimum(np.maximum(au - r, av - 0.3 * r), np.maximum(au - 0.3 * r, av - r))
    if outline == "star":  # five points; the radius goes linearly in angle from 0.4 r to r
        turn = (np.arctan2(v, u) * (5 / (2 * math.pi))) % 1
        reach = r * (0.4 + 0.6 * (1 - 2 * np.abs(turn - 0.5)))
        return np.hypot(u, v) - reach
    if outline == "bar":
        return np.maximum(np.abs(u) - r, np.abs(v) - 0.3 * r)
    raise ValueError(f"unknown outline {outline!r}")


def _noisy_labels(labels: np.ndarray, seed: int) -> dict[int, np.ndarray]:
    """Nested label noise: the first k% of one permutation flipped, each to a fixed other class."""
    rng = np.random.default_rng([seed, 2])
    order = rng.permutation(len(labels))
    wrong = (labels + rng.integers(1, len(CLASSES), len(labels))) % len(CLASSES)
    out = {0: labels}
    for pct in NOISE_LEVELS:
        noisy = labels.copy()
        flip = order[: round(len(labels) * pct / 100)]
        noisy[flip] = wrong[flip]
        out[pct] = noisy
    return out


def _render_chunk(chunk: list[ImageSpec], root: Path, seed: int) -> dict:
    for spec in chunk:
        Image.fromarray(render_image(spec, seed)).save(root / spec.path, quality=JPEG_QUALITY)
    return {}


def _write(root: Path, seed: int, specs: list[ImageSpec]) -> None:
    for name in CLASSES:
        (root / "train" / name).mkdir(parents=True)
        (root / "val" / name).mkdir(parents=True)
    # Every image depends on (seed, its spec) alone, so worker processes draw the same bytes.
    pixels = sum(s.width * s.height for s in specs)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = 1 if pixels < _IN_PROCESS_BELOW_PIXELS else cores
    with worker_pool(workers) as pool:
        run_chunks(pool, _render_chunk, specs, (root, seed), workers, False, "drawing the embedded set")
    train = [s for s in specs if not s.is_valid]
    noisy = _noisy_labels(np.array([s.label for s in train], np.int64), seed)
    with open(root / "noisy_imagenette.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["path", *(f"noisy_labels_{p}" for p in (0, *NOISE_LEVELS)), "is_valid"])
        for i, s in enumerate(train):
            out.writerow([s.path, *(CLASSES[noisy[p][i]] for p in (0, *NOISE_LEVELS)), "False"])
        for s in specs[len(train):]:
            out.writerow([s.path, *(CLASSES[s.label] for _ in (0, *NOISE_LEVELS)), "True"])
    with open(root / "objects.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["path", "label", "width", "height", "cx", "cy", "radius", "near_edge", "cut_fraction",
                      "texture_period"])
        for s in specs:
            out.writerow([s.path, s.label, s.width, s.height, f"{s.cx:.2f}", f"{s.cy:.2f}", f"{s.radius:.2f}",
                          int(s.near_edge), f"{centre_cut_fraction(s):.4f}",
                          f"{s.texture_period:.2f}" if _SHAPE[CLASSES[s.label]][1] else ""])


def ensure_embedded(
    data_dir: Path,
    seed: int = 0,
    *,
    train_per_class: int = TRAIN_PER_CLASS,
    valid_per_class: int = VALID_PER_CLASS,
    variant: str = "embedded",
) -> Path:
    """The root of the embedded set under ``data_dir``, generated on first use (once per machine).

    The folder is ``{variant}-v2-seed{seed}`` (with ``-{train}x{valid}`` appended for other than
    the default counts per class); it is generated in a temporary sibling under a file lock and
    renamed when complete, so concurrent trials generate it once and never see half of it.
    """
    if not isinstance(seed, int) or seed < 0:
        raise DataError(f"the embedded set's seed must be an int >= 0, got {seed=!r}")
    for name, n in (("train_per_class", train_per_class), ("valid_per_class", valid_per_class)):
        if not isinstance(n, int) or n < 1:
            raise DataError(f"{name} must be an int >= 1, got {n!r}")
    if variant not in VARIANTS:
        raise DataError(f"unknown embedded variant {variant!r}; choose one of {list(VARIANTS)}")
    name = f"{variant}-v{FORMAT_VERSION}-seed{seed}"
    if (train_per_class, valid_per_class) != (TRAIN_PER_CLASS, VALID_PER_CLASS):
        name += f"-{train_per_class}x{valid_per_class}"
    root = Path(data_dir).expanduser() / name
    build_once(root, lambda tmp: _write(tmp, seed, plan_images(seed, train_per_class, valid_per_class, variant)))
    return root
