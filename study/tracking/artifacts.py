"""The files logged with every trial: resolved config, per-epoch table, result, confusion matrix."""

from __future__ import annotations

import csv
import functools
import io
import json
from typing import Any

__all__ = ["epochs_csv", "confusion_png", "trial_artifacts"]


def epochs_csv(history: list[dict[str, Any]]) -> str:
    if not history:
        return ""
    buf = io.StringIO()
    # every key any epoch has, in first-seen order: an epoch without a validation pass (eval_every) has fewer
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for row in history for k in row)))
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


# matplotlib's "Blues" colour map (ColorBrewer's 9-class Blues), light to dark
_BLUES = ((247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
          (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107))


def _blue(t: float) -> tuple[int, int, int]:
    """The colour at ``t`` in [0, 1] of the Blues map, interpolated linearly between its stops."""
    x = min(max(t, 0.0), 1.0) * (len(_BLUES) - 1)
    i = min(int(x), len(_BLUES) - 2)
    f = x - i
    return tuple(round(a + (b - a) * f) for a, b in zip(_BLUES[i], _BLUES[i + 1]))  # type: ignore[return-value]


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # a scalable font (Pillow >= 10.1 with FreeType)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


@functools.lru_cache(maxsize=4096)
def _glyphs(text: str, size: int, fill: str) -> tuple[Any, int, int, int, int]:
    """``text`` rasterized once per process (a worker draws the same counts and class names for
    every trial): an RGBA image and its bounding box (left, top, right, bottom)."""
    from PIL import Image, ImageDraw

    font = _font(size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    box = int(left), int(top), int(right), int(bottom)
    image = Image.new("RGBA", (max(box[2], 1), max(box[3], 1)), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((0, 0), text, font=font, fill=fill)
    return image, *box


def _put(image: Any, xy: tuple[float, float], text: str, size: int, fill: str, align: str) -> None:
    """Draw ``text`` centred (``align="c"``) or right-aligned (``"r"``) on ``xy``, vertically centred."""
    glyphs, left, top, right, bottom = _glyphs(text, size, fill)
    x = xy[0] - (right - left) / 2 - left if align == "c" else xy[0] - right
    y = xy[1] - (bottom - top) / 2 - top
    image.paste(glyphs, (round(x), round(y)), glyphs)


def confusion_png(confusion: list[list[int]], classes: list[str]) -> bytes:
    """A confusion-matrix heat map (rows: true class, columns: predicted), with the count in each cell.

    Drawn with Pillow rather than matplotlib: about 20 ms instead of about 350 ms for 10 classes,
    and no matplotlib import (about a second) in each Ray worker; it is logged with every trial.
    """
    from PIL import Image, ImageDraw

    n = len(classes)
    cell, pad = 36, 8
    font, small = 10, 9  # px
    label = max((_glyphs(c, font, "black")[3] for c in classes), default=0) + 6  # longest class name
    axis = 18  # room for the axis titles
    left, top = axis + label, pad
    width, height = left + n * cell + pad, top + n * cell + label + axis + pad
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    values = [v for row in confusion for v in row]
    low, high = (min(values), max(values)) if values else (0, 0)
    for i, row in enumerate(confusion):
        for j, v in enumerate(row):
            x, y = left + j * cell, top + i * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=_blue((v - low) / (high - low) if high > low else 0.0))
            _put(image, (x + cell / 2, y + cell / 2), str(v), small, "white" if v > high / 2 else "black", "c")
    for k, name in enumerate(classes):  # true classes down the left
        _put(image, (left - 4, top + k * cell + cell / 2), name, font, "black", "r")
    strip = Image.new("RGB", (label, max(n, 1) * cell), "white")  # predicted classes, written upwards
    for k, name in enumerate(classes):
        _put(strip, (label - 4, k * cell + cell / 2), name, font, "black", "r")
    image.paste(strip.rotate(90, expand=True), (left, top + n * cell + 2))
    _put(image, (left + n * cell / 2, height - pad - axis / 2), "predicted", font, "black", "c")
    title = Image.new("RGB", (max(n, 1) * cell, axis), "white")
    _put(title, (title.width / 2, axis / 2), "true", font, "black", "c")
    image.paste(title.rotate(90, expand=True), (0, top))

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def trial_artifacts(result: Any) -> dict[str, Any]:
    """``name -> content`` for :meth:`study.tracking.TrialRun.log_final`."""
    record = result.to_dict()
    return {
        "config.json": json.dumps(result.config, indent=2),
        "epochs.csv": epochs_csv(result.history),
        "result.json": json.dumps({k: v for k, v in record.items() if k not in ("history", "confusion")}, indent=2),
        "confusion_matrix.png": confusion_png(result.confusion, result.classes),
    }
