"""scan_folder: what an image folder must look like, and the message when it does not."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from trainable.data import DataError, scan_folder

LAYOUT = {"train/b": 3, "train/a": 2, "val/a": 1, "val/b": 2}


def _table(root: Path, rows: list[tuple[str, str, str, str, str, str, str]]) -> None:
    with open(root / "noisy_imagenette.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["path", "noisy_labels_0", "noisy_labels_1", "noisy_labels_5", "noisy_labels_25", "noisy_labels_50", "is_valid"])
        out.writerows(rows)


def _train_rows(root: Path, noisy25: dict[str, str]) -> list[tuple[str, str, str, str, str, str, str]]:
    rows = []
    for p in sorted(root.glob("train/*/*")):
        rel, label = p.relative_to(root).as_posix(), p.parent.name
        rows.append((rel, label, label, label, noisy25.get(rel, label), label, "False"))
    return rows


def test_indexes_classes_paths_and_labels(make_folder) -> None:
    root = make_folder(LAYOUT)
    index = scan_folder(root)
    assert index.classes == ("a", "b")
    assert [p.relative_to(root).as_posix() for p in index.train_paths] == [
        "train/a/img0.png", "train/a/img1.png", "train/b/img0.png", "train/b/img1.png", "train/b/img2.png",
    ]
    assert index.train_labels.tolist() == [0, 0, 1, 1, 1] and index.train_labels.dtype == np.int64
    assert index.valid_labels.tolist() == [0, 1, 1]
    assert index.label_noise == 0 and index.label_table is None and index.skipped == ()
    assert not index.train_labels.flags.writeable


def test_accepts_valid_folder_subset_of_classes_and_any_case_extension(make_folder) -> None:
    root = make_folder({"train/a": 1, "train/b": 1, "valid/b": 1})
    (root / "train/a/img0.png").rename(root / "train/a/IMG0.PNG")
    index = scan_folder(root)
    assert index.valid_labels.tolist() == [1]
    assert index.train_paths[0].name == "IMG0.PNG"


def test_non_images_are_skipped_and_recorded(make_folder) -> None:
    root = make_folder(LAYOUT)
    (root / "train/a/notes.txt").write_text("not an image")
    (root / "val/b/.DS_Store").write_bytes(b"\0")
    (root / "train/b/nested").mkdir()
    index = scan_folder(root)
    assert sorted(index.skipped) == ["train/a/notes.txt", "train/b/nested", "val/b/.DS_Store"]
    assert len(index.train_paths) == 5 and len(index.valid_paths) == 3


def test_label_noise_takes_train_labels_from_the_table(make_folder) -> None:
    root = make_folder(LAYOUT)
    _table(root, _train_rows(root, {"train/a/img1.png": "b"}) + [("val/a/img0.png", "a", "a", "a", "a", "a", "True")])
    index = scan_folder(root, label_noise=25)
    assert index.train_labels.tolist() == [0, 1, 1, 1, 1]
    assert index.valid_labels.tolist() == [0, 1, 1]
    assert index.label_table == root / "noisy_imagenette.csv" and index.label_noise == 25
    assert scan_folder(root, label_noise=5).train_labels.tolist() == [0, 0, 1, 1, 1]


def test_any_noisy_csv_is_a_label_table(make_folder) -> None:
    root = make_folder(LAYOUT)
    _table(root, _train_rows(root, {}))
    (root / "noisy_imagenette.csv").rename(root / "noisy_mine.csv")
    assert scan_folder(root, label_noise=1).label_table == root / "noisy_mine.csv"


def _error(root: Path, label_noise: int = 0) -> str:
    with pytest.raises(DataError) as info:
        scan_folder(root, label_noise)
    return str(info.value)


def test_missing_root(tmp_path: Path) -> None:
    message = _error(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in message and "does not exist" in message and "train/<class>" in message


def test_missing_train_or_val(make_folder) -> None:
    root = make_folder({"val/a": 1}, name="no_train")
    assert "no train/ folder" in _error(root) and str(root) in _error(root)
    root = make_folder({"train/a": 1}, name="no_val")
    assert "no val/ (or valid/) folder" in _error(root)


def test_no_classes(make_folder) -> None:
    root = make_folder({"val/a": 1}, name="empty_train")
    (root / "train").mkdir()
    message = _error(root)
    assert f"{root / 'train'} has no class sub-folders" in message


def test_val_class_not_in_train(make_folder) -> None:
    root = make_folder({"train/a": 1, "val/a": 1, "val/zebra": 1})
    message = _error(root)
    assert "zebra" in message and "train/ lacks" in message


def test_empty_class_folder(make_folder) -> None:
    root = make_folder({"train/a": 1, "val/a": 1})
    (root / "train/b").mkdir()
    (root / "train/b/readme.md").write_text("no images")
    message = _error(root)
    assert str(root / "train/b") in message and "holds no images" in message and "remove it" in message


@pytest.mark.parametrize("level", [2, -1, 100])
def test_label_noise_outside_the_table_levels(make_folder, level: int) -> None:
    root = make_folder(LAYOUT)
    assert "label_noise must be one of (0, 1, 5, 25, 50)" in _error(root, level) and str(level) in _error(root, level)


def test_label_noise_without_a_table(make_folder) -> None:
    root = make_folder(LAYOUT)
    message = _error(root, 5)
    assert "needs a label table" in message and str(root) in message and "label_noise=0" in message


def test_table_disagreeing_with_the_files(make_folder) -> None:
    root = make_folder(LAYOUT)
    rows = _train_rows(root, {})
    rows[0] = ("train/a/gone.png",) + rows[0][1:]
    _table(root, rows)
    message = _error(root, 25)
    assert "disagrees with the train images" in message
    assert "1 image(s) not in the table (first: ['train/a/img0.png'])" in message
    assert "1 table row(s) with no image (first: ['train/a/gone.png'])" in message


def test_table_without_the_column(make_folder) -> None:
    root = make_folder(LAYOUT)
    (root / "noisy_imagenette.csv").write_text("path,noisy_labels_0,is_valid\n")
    message = _error(root, 50)
    assert "lacks the column(s) ['noisy_labels_50']" in message
