"""The files logged with every trial: resolved config, per-epoch table, result, confusion matrix."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

__all__ = ["epochs_csv", "confusion_png", "trial_artifacts"]


def epochs_csv(history: list[dict[str, Any]]) -> str:
    if not history:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def confusion_png(confusion: list[list[int]], classes: list[str]) -> bytes:
    """A confusion-matrix heat map (rows: true class, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 + 0.5 * n, 1.0 + 0.5 * n), dpi=100)
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(n), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max((max(r) for r in confusion), default=0)
    for i, row in enumerate(confusion):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=6, color="white" if v > top / 2 else "black")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
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
