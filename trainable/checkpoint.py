"""Per-epoch checkpoints, written atomically, the last few kept.

``trainable.train`` stores, after each epoch, what it needs to continue a trial so that it ends
exactly as an uninterrupted run would: the config (a resume with another one is refused), the
epoch just finished (the position in the schedule follows from it), the model's and the
optimizer's state, the metrics so far and the training time. No RNG state: every random choice
of an epoch comes from generators seeded with (seed, epoch). No normalization statistics: they
are recomputed from the decoded cache, the same in every process.

Checkpoints hold tensors and plain values only, and are loaded with ``weights_only=True``:
loading one never runs code from the file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["checkpoint_bytes", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

_NAME = re.compile(r"^epoch-(\d{5})\.pt$")


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(folder: Path, epoch: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as ``folder/epoch-NNNNN.pt`` atomically; delete all but the newest ``keep``.

    The file is written to a temporary name in the same folder, flushed and fsynced, then renamed:
    a process killed mid-write leaves at most a stray temporary file, never a truncated checkpoint.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"epoch-{epoch:05d}.pt"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for _, old in _checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    for stray in folder.glob(".tmp-*.pt"):
        stray.unlink(missing_ok=True)
    return final


def latest_checkpoint(folder: Path | str | None) -> Path | None:
    """The newest complete checkpoint in ``folder``, or None."""
    if folder is None:
        return None
    found = _checkpoints(Path(folder))
    return found[-1][1] if found else None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The state saved at ``path`` (tensors and plain values; anything else is refused, unpickled never)."""
    state: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=True)
    return state


def checkpoint_bytes(model: str) -> int:
    """Bytes of one epoch checkpoint of ``model``: weights and AdamW's two moments, float32 (the
    model is built on the meta device: nothing is allocated)."""
    from trainable.models.xresnet import build_model

    with torch.device("meta"):
        n = sum(p.numel() for p in build_model(model, n_out=1000).parameters())
    return n * 4 * 3
