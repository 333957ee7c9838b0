"""Terminal output: fastai-style per-epoch table."""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["EpochTable"]

_COLUMNS = [
    ("epoch", 5, "{:d}"),
    ("size", 4, "{:d}"),
    ("train_loss", 10, "{:.4f}"),
    ("valid_loss", 10, "{:.4f}"),
    ("accuracy", 8, "{:.4f}"),
    ("top5", 6, "{:.4f}"),
    ("lr", 9, "{:.2e}"),
    ("img/s", 7, "{:.0f}"),
    ("time", 6, "{}"),
]


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m:02d}:{s:02d}"


class EpochTable:
    """Prints a header once, then one row per epoch, like fastai's ``Recorder``."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._header = False

    def row(self, m: dict[str, Any]) -> None:
        if not self._header:
            print("  ".join(name.ljust(w) for name, w, _ in _COLUMNS), file=self.out, flush=True)
            self._header = True
        values = [
            m["epoch"], m["size"], m["train_loss"], m.get("valid_loss"), m.get("accuracy"), m.get("top5"),
            m["lr"], m["images_per_s"], _clock(m["epoch_seconds"]),
        ]
        # an epoch without a validation pass (eval_every) shows "-" where the pass would be
        cells = [("-" if v is None else fmt.format(v)).ljust(w) for (_, w, fmt), v in zip(_COLUMNS, values)]
        print("  ".join(cells), file=self.out, flush=True)


def say(text: str) -> None:
    """Print a line of study progress (module-level, so objects holding it stay picklable)."""
    print(text, flush=True)
