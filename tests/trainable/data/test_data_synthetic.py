"""The embedded set: Imagenette's layout and label table, determinism, and the properties that make it a test bed."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from trainable.data import DataError, ensure_embedded
from trainable.data.synthetic import CLASSES, NOISE_LEVELS, plan_images, render_image

COLUMNS = ["path", "noisy_labels_0", "noisy_labels_1", "noisy_labels_5", "noisy_labels_25", "noisy_labels_50", "is_valid"]


def _rows(root: Path) -> list[dict[str, str]]:
    with open(root / "noisy_imagenette.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_layout_counts_and_label_table(small_embedded: Path) -> None:
    root = small_embedded
    assert root.name == "embedded-v1-seed7-6x2"
    for split, per_class in (("train", 6), ("val", 2)):
        assert sorted(p.name for p in (root / split).iterdir()) == list(CLASSES)
        for name in CLASSES:
            files = sorted((root / split / name).iterdir())
            assert len(files) == per_class
            assert all(f.suffix == ".JPEG" and f.name.startswith(name) for f in files)
    rows = _rows(root)
    on_disk = {p.relative_to(root).as_posix() for p in root.glob("*/*/*.JPEG")}
    assert {r["path"] for r in rows} == on_disk and len(rows) == 80
    assert {r["is_valid"] for r in rows} == {"True", "False"}
    for r in rows:
        assert r["noisy_labels_0"] == r["path"].split("/")[1]
        if r["is_valid"] == "True":  # validation labels are never noised
            assert all(r[c] == r["noisy_labels_0"] for c in COLUMNS[1:-1])


def test_noise_flips_the_stated_share_of_train_labels_nested(small_embedded: Path) -> None:
    train = [r for r in _rows(small_embedded) if r["is_valid"] == "False"]
    flipped_before: set[str] = set()
    for pct in NOISE_LEVELS:
        flipped = {r["path"] for r in train if r[f"noisy_labels_{pct}"] != r["noisy_labels_0"]}
        assert len(flipped) == round(len(train) * pct / 100)
        assert flipped_before <= flipped  # nested
        flipped_before = flipped
    by_path = {r["path"]: r for r in train}
    for p in flipped_before:  # a flipped label keeps its wrong class at every higher level
        wrong = {by_path[p][f"noisy_labels_{pct}"] for pct in NOISE_LEVELS} - {by_path[p]["noisy_labels_0"]}
        assert len(wrong) == 1


def test_same_seed_same_bytes_other_seed_differs(small_embedded: Path, tmp_path: Path) -> None:
    again = ensure_embedded(tmp_path / "a", seed=7, train_per_class=6, valid_per_class=2)
    other = ensure_embedded(tmp_path / "b", seed=8, train_per_class=6, valid_per_class=2)
    files = sorted(p.relative_to(small_embedded) for p in small_embedded.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((small_embedded / f).read_bytes() == (again / f).read_bytes() for f in files)
    first = "train/c0_disc/c0_disc_00000.JPEG"
    assert (small_embedded / first).read_bytes() != (other / first).read_bytes()


def test_second_call_reuses_the_folder(small_embedded: Path) -> None:
    before = (small_embedded / "noisy_imagenette.csv").stat().st_mtime_ns
    assert ensure_embedded(small_embedded.parent, seed=7, train_per_class=6, valid_per_class=2) == small_embedded
    assert (small_embedded / "noisy_imagenette.csv").stat().st_mtime_ns == before
    assert [p.name for p in small_embedded.parent.iterdir() if ".tmp-" in p.name] == []


@pytest.mark.parametrize("kwargs", [{"seed": -1}, {"train_per_class": 0}, {"valid_per_class": 0}])
def test_bad_arguments_are_rejected(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(DataError, match="got"):
        ensure_embedded(tmp_path, **kwargs)


def test_background_is_dark_and_differs_per_channel() -> None:
    specs = plan_images(0, 4, 0)
    means = np.mean([render_image(s, 0).reshape(-1, 3).mean(0) / 255 for s in specs], axis=0)
    assert np.all(np.abs(means - 0.5) > 0.12), means
    assert means[0] - means[2] > 0.05, means


def test_a_third_of_objects_are_cut_by_a_centre_crop_and_aspects_vary() -> None:
    specs = plan_images(0, 130, 50)
    near = [s for s in specs if s.near_edge]
    assert 0.28 < len(near) / len(specs) < 0.39
    cut = 0
    for s in specs:
        long_, short = max(s.width, s.height), min(s.width, s.height)
        along = s.cx if s.width >= s.height else s.cy
        band = ((long_ - short) / 2, (long_ + short) / 2)  # what a centre crop keeps
        if s.near_edge:  # at least 0.3 r of it lies outside the centre crop (in a 1:1 image: the frame)
            assert along - s.radius < band[0] - 0.29 * s.radius or along + s.radius > band[1] + 0.29 * s.radius
        cut += along - s.radius < band[0] or along + s.radius > band[1]
    assert cut >= len(near)
    ratios = {round(s.width / s.height, 2) for s in specs}
    assert {1.33, 0.75, 1.0, 1.78, 0.56} <= ratios
    assert all(96 <= min(s.width, s.height) <= 128 for s in specs)


def test_texture_tells_classes_apart_at_full_size_only() -> None:
    """A striped or checkered disc equals a plain disc once downsampled 4x, not before."""
    plain = next(s for s in plan_images(1, 1, 0) if s.label == 0)
    plain = dataclasses.replace(plain, cx=plain.width / 2, cy=plain.height / 2, radius=0.3 * min(plain.width, plain.height))
    base = render_image(plain, 1).astype(np.float32)
    r = int(plain.radius * 0.7)
    y0, x0 = int(plain.cy) - r, int(plain.cx) - r
    y0, x0 = y0 - y0 % 4, x0 - x0 % 4
    side = (2 * r) // 4 * 4

    def inside(img: np.ndarray) -> np.ndarray:
        return img[y0:y0 + side, x0:x0 + side]

    def down4(img: np.ndarray) -> np.ndarray:
        return img.reshape(side // 4, 4, side // 4, 4, 3).mean((1, 3))

    for label in (CLASSES.index("c7_disc_stripes"), CLASSES.index("c8_disc_checker")):
        textured = render_image(dataclasses.replace(plain, label=label), 1).astype(np.float32)
        full = np.abs(inside(textured) - inside(base)).mean()
        small = np.abs(down4(inside(textured)) - down4(inside(base))).mean()
        assert full > 40 and small < 8, (CLASSES[label], full, small)
