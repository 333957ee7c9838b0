"""Index an image folder laid out like Imagenette: ``train/<class>/*`` and ``val/<class>/*``.

The index is what the decoded cache is built from: every image path with its label, checked
up front so that a badly laid-out folder fails here with a message saying what to fix, not
halfway through a training run. Train labels come from the class folders, or, for
``label_noise > 0``, from the data set's label table (Imagenette's ``noisy_imagenette.csv``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainable.config import LABEL_NOISE_CHOICES
from trainable.data.errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "LABEL_NOISE_LEVELS", "DatasetIndex", "scan_folder"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})  # compared lower-cased
LABEL_NOISE_LEVELS = LABEL_NOISE_CHOICES  # %, the noisy_labels_* columns of Imagenette's table (kept once, in config)
_TABLES = ("noisy_imagenette.csv", "noisy_imagewoof.csv")  # preferred; then any noisy_*.csv
_LAYOUT_HINT = "a data folder needs train/<class>/<images> and val/<class>/<images> (or valid/)"


@dataclass(frozen=True, eq=False)
class DatasetIndex:
    """Every image of a data set folder with its label; paths are absolute, labels index ``classes``."""

    root: Path  # the data set folder
    classes: tuple[str, ...]  # sorted train sub-folder names; label i is classes[i]
    train_paths: tuple[Path, ...]
    train_labels: np.ndarray  # int64, (len(train_paths),); noisy if label_noise > 0
    valid_paths: tuple[Path, ...]
    valid_labels: np.ndarray  # int64, (len(valid_paths),)
    label_noise: int = 0  # % of train labels flipped (0 = the class folders' labels)
    label_table: Path | None = None  # the CSV the train labels came from, if label_noise > 0
    skipped: tuple[str, ...] = ()  # entries of class folders that are not images, relative to root

    def paths(self, split: str) -> tuple[Path, ...]:
        """The image paths of ``split`` ('train' or 'valid')."""
        return self.train_paths if _split(split) == "train" else self.valid_paths

    def labels(self, split: str) -> np.ndarray:
        """The int64 labels of ``split`` ('train' or 'valid')."""
        return self.train_labels if _split(split) == "train" else self.valid_labels


def _split(split: str) -> str:
    if split not in ("train", "valid"):
        raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
    return split


def scan_folder(root: Path, label_noise: int = 0) -> DatasetIndex:
    """Index ``root``'s images; raise :class:`DataError` naming the path and the fix if the layout is off.

    Classes are the sorted sub-folders of ``train/``; ``val/`` (or ``valid/``) may hold a subset of
    them. Files are images by extension; anything else in a class folder is skipped and listed in
    ``DatasetIndex.skipped``. For ``label_noise`` in {1, 5, 25, 50} the train labels come from the
    ``noisy_labels_{label_noise}`` column of the label table at the root, whose train paths must
    be exactly the train images found.
    """
    root = Path(root).expanduser()
    if label_noise not in LABEL_NOISE_LEVELS:
        raise DataError(f"label_noise must be one of {LABEL_NOISE_LEVELS} (% of train labels flipped), got {label_noise!r}")
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist or is not a folder; {_LAYOUT_HINT}")
    train_dir = root / "train"
    valid_dir = next((root / n for n in ("val", "valid") if (root / n).is_dir()), None)
    if not train_dir.is_dir():
        raise DataError(f"{root} has no train/ folder; {_LAYOUT_HINT}")
    if valid_dir is None:
        raise DataError(f"{root} has no val/ (or valid/) folder; {_LAYOUT_HINT}")
    classes = tuple(sorted(_class_dirs(train_dir)))
    if not classes:
        raise DataError(f"{train_dir} has no class sub-folders; {_LAYOUT_HINT}")
    valid_classes = sorted(_class_dirs(valid_dir))
    if not valid_classes:
        raise DataError(f"{valid_dir} has no class sub-folders; {_LAYOUT_HINT}")
    unknown = [c for c in valid_classes if c not in classes]
    if unknown:
        raise DataError(
            f"{valid_dir} has class folders that train/ lacks: {unknown[:5]}{' ...' if len(unknown) > 5 else ''}; "
            f"every validation class must be a train class (train/ has {list(classes[:5])}{' ...' if len(classes) > 5 else ''})"
        )
    skipped: list[str] = []
    train_paths, train_labels = _images(train_dir, classes, classes, root, skipped)
    valid_paths, valid_labels = _images(valid_dir, valid_classes, classes, root, skipped)
    table = None
    if label_noise > 0:
        table = _find_table(root)
        if table is None:
            raise DataError(
                f"label_noise={label_noise} needs a label table noisy_*.csv with noisy_labels_* columns "
                f"at {root}, and there is none; use label_noise=0"
            )
        train_labels = _table_labels(table, label_noise, train_paths, root, classes)
    return DatasetIndex(
        root=root,
        classes=classes,
        train_paths=train_paths,
        train_labels=_frozen(train_labels),
        valid_paths=valid_paths,
        valid_labels=_frozen(valid_labels),
        label_noise=label_noise,
        label_table=table,
        skipped=tuple(skipped),
    )


def _class_dirs(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]


def _images(
    split_dir: Path, names: list[str] | tuple[str, ...], classes: tuple[str, ...], root: Path, skipped: list[str]
) -> tuple[tuple[Path, ...], np.ndarray]:
    paths: list[Path] = []
    labels: list[int] = []
    for name in names:
        folder = split_dir / name
        label = classes.index(name)
        found = 0
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(p)
                labels.append(label)
                found += 1
            else:
                skipped.append(p.relative_to(root).as_posix())
        if found == 0:
            raise DataError(
                f"class folder {folder} holds no images (extensions {sorted(IMAGE_EXTENSIONS)}); "
                "put images in it or remove it"
            )
    return tuple(paths), np.asarray(labels, np.int64)


def _find_table(root: Path) -> Path | None:
    for name in _TABLES:
        if (root / name).is_file():
            return root / name
    others = sorted(root.glob("noisy_*.csv"))
    return others[0] if others else None


def _table_labels(
    table: Path, label_noise: int, train_paths: tuple[Path, ...], root: Path, classes: tuple[str, ...]
) -> np.ndarray:
    """The ``noisy_labels_{label_noise}`` labels of the table's train rows, in ``train_paths`` order."""
    column = f"noisy_labels_{label_noise}"
    with open(table, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("path", column, "is_valid") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"label table {table} lacks the column(s) {missing} (it has {reader.fieldnames}); "
                f"label_noise={label_noise} needs path, {column} and is_valid"
            )
        rows = {r["path"]: r[column] for r in reader if r["is_valid"].strip().lower() not in ("true", "1")}
    on_disk = [p.relative_to(root).as_posix() for p in train_paths]
    not_in_table = [p for p in on_disk if p not in rows]
    not_on_disk = sorted(set(rows) - set(on_disk))
    if not_in_table or not_on_disk:
        raise DataError(
            f"label table {table} disagrees with the train images under {root}: "
            f"{len(not_in_table)} image(s) not in the table (first: {not_in_table[:3]}), "
            f"{len(not_on_disk)} table row(s) with no image (first: {not_on_disk[:3]}); "
            "restore the missing files or use the table that came with these images (or label_noise=0)"
        )
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({rows[p] for p in on_disk} - set(index))
    if unknown:
        raise DataError(f"label table {table} column {column} names classes with no train/ folder: {unknown[:5]}")
    return np.asarray([index[rows[p]] for p in on_disk], np.int64)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a
