"""The files logged with every trial; the confusion-matrix plot in particular is drawn for every trial."""

from __future__ import annotations

import io
import subprocess
import sys

from PIL import Image

from study.tracking.artifacts import confusion_png, epochs_csv

CLASSES = ["c0_disc", "c1_ring", "c2_square", "c3_triangle", "c4_cross", "c5_star", "c6_bar", "c7_disc_stripes",
           "c8_disc_checker", "c9_square_checker"]


def test_confusion_png_is_a_heat_map_of_the_counts():
    confusion = [[10 if i == j else 0 for j in range(10)] for i in range(10)]
    confusion[3][4] = 5
    image = Image.open(io.BytesIO(confusion_png(confusion, CLASSES)))
    assert image.format == "PNG" and image.mode == "RGB"
    assert 360 < image.width < 1000 and 360 < image.height < 1000  # 10 cells of 36 px plus the labels
    colours = {image.getpixel((x, y)) for x in range(0, image.width, 4) for y in range(0, image.height, 4)}
    assert (8, 48, 107) in colours  # the darkest blue: the largest count
    assert (247, 251, 255) in colours  # the lightest: zero
    small = Image.open(io.BytesIO(confusion_png([[3, 1], [0, 4]], ["a", "b"])))
    assert small.width < image.width and small.height < image.height


def test_confusion_png_imports_no_matplotlib():
    """Drawn with Pillow: a Ray worker that logs the plot never imports matplotlib (about a second).
    How long a plot takes is measured by ``bench/confusion_png.py``, not asserted here."""
    code = ("import sys; from study.tracking.artifacts import confusion_png; "
            "png = confusion_png([[5] * 10 for _ in range(10)], [f'class_{k}' for k in range(10)]); "
            "print(png[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'matplotlib' in sys.modules)")
    drawn, matplotlib = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert (drawn, matplotlib) == ("True", "False")


def test_degenerate_matrices_still_draw():
    assert Image.open(io.BytesIO(confusion_png([], []))).format == "PNG"
    assert Image.open(io.BytesIO(confusion_png([[0, 0], [0, 0]], ["a", "b"]))).format == "PNG"


def test_epochs_csv_has_a_header_and_one_row_per_epoch():
    text = epochs_csv([{"epoch": 0, "accuracy": 0.5}, {"epoch": 1, "accuracy": 0.6}])
    assert text.splitlines() == ["epoch,accuracy", "0,0.5", "1,0.6"]
    assert epochs_csv([]) == ""


def test_the_epochs_table_has_every_column_when_some_epochs_were_not_validated() -> None:
    from study.tracking.artifacts import epochs_csv

    text = epochs_csv([{"epoch": 0, "train_loss": 2.0}, {"epoch": 1, "train_loss": 1.5, "accuracy": 0.6}])
    assert text.splitlines() == ["epoch,train_loss,accuracy", "0,2.0,", "1,1.5,0.6"]
