"""Fixtures shared by the data tests: tiny hand-made image folders and a small embedded set."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from trainable.data.synthetic import ensure_embedded

MakeFolder = Callable[..., Path]


def _write_image(path: Path, width: int, height: int, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def make_folder(tmp_path: Path) -> MakeFolder:
    """``make_folder(layout, name=...)``: a data folder from ``{"train/a": 3, "val/a": 1, ...}``.

    Each value is a number of random PNGs (``img{i}.png``, 20x16 px unless ``size`` is given).
    """
    counter = iter(range(10**6))

    def make(layout: dict[str, int], name: str = "data", size: tuple[int, int] = (20, 16)) -> Path:
        root = tmp_path / name
        for folder, count in layout.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                _write_image(root / folder / f"img{i}.png", *size, seed=next(counter))
        return root

    return make


@pytest.fixture(scope="session")
def small_embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small embedded set (10 classes x 6 train + 2 val), generated once per test session."""
    return ensure_embedded(tmp_path_factory.mktemp("embedded"), seed=7, train_per_class=6, valid_per_class=2)
