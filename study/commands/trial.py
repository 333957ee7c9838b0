"""``study trial``: one trial in-process, without Ray — the debugging mode.

Shows a progress bar and a per-epoch table, and writes into the output folder:
``config.json`` (the resolved config), ``epochs.jsonl`` (one line of metrics per epoch, appended
as they come), ``result.json`` (final metrics) and ``checkpoints/`` (per-epoch, resumable: running
the same command with the same ``--out`` continues where it stopped).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from study.common.errors import UsageError
from study.common.files import ensure_writable, write_json

__all__ = ["run"]


def run(config: Any, out: Path, *, progress: bool = True) -> dict[str, Any]:
    """Run ``config`` (a TrialConfig) and write its records under ``out``; returns the result dict."""
    from study.common.console import EpochTable
    from trainable.config import ConfigError
    from trainable.data import DataError
    from trainable.data.sources import check_source
    from trainable.train import run_trial

    try:
        check_source(config.data)
    except DataError as e:
        raise UsageError(str(e)) from None
    ensure_writable(out, "output folder", "choose another with --out")
    write_json(out / "config.json", config.to_dict())
    table = EpochTable()
    epochs_file = out / "epochs.jsonl"
    seen = set()
    if epochs_file.exists():  # a resumed run: keep the lines of epochs already done
        seen = {json.loads(line)["epoch"] for line in epochs_file.read_text().splitlines() if line.strip()}

    def on_epoch(metrics: dict[str, Any], _checkpoint: Any) -> None:
        table.row(metrics)
        if metrics["epoch"] not in seen:
            with epochs_file.open("a", encoding="utf-8") as f:
                f.write(json.dumps(metrics) + "\n")

    started = time.time()
    try:
        result = run_trial(config, on_epoch=on_epoch, checkpoint_dir=out / "checkpoints", progress=progress)
    except (ConfigError, DataError) as e:
        raise UsageError(str(e)) from None
    record = result.to_dict()
    record["wall_seconds"] = time.time() - started
    write_json(out / "result.json", record)
    return record
