"""Compiled graphs kept between processes and machines: Inductor's caches and their portable artifacts.

On one machine Inductor's FX-graph and AOTAutograd caches (``TORCHINDUCTOR_CACHE_DIR``, on by
default) already let a second process skip most of a compilation. For the other machines of a
cluster, or a fresh one, a trial that compiled writes ``torch.compiler.save_cache_artifacts()``
into a folder (a study puts its own, ``<study>/compile``, on storage every node sees); the first
compiling trial of every process loads all of them (``load_cache_artifacts``) before it compiles.
A marker per (card, model, size, batch, torch) says that its graphs were compiled and saved: the
cost model (:mod:`trainable.compile_cost`) then counts a warm compile.

Nothing happens at import: the folder is read by the first trial that compiles.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["load_artifacts", "marker", "save_artifacts", "warm_sizes"]

_LOADED: set[str] = set()  # folders whose artifacts this process loaded


def marker(folder: Path, card: str, model: str, size: int, batch: int) -> Path:
    import torch

    version = torch.__version__.split("+")[0]
    return Path(folder) / f"{card}-{model}-{size}px-b{batch}-torch{version}.compiled"


def warm_sizes(folder: Path, card: str, model: str, sizes: list[int], batch: int) -> dict[int, bool]:
    """Which of ``sizes`` were compiled and saved before (by any process that shares ``folder``)."""
    return {s: marker(folder, card, model, s, batch).exists() for s in sizes}


def load_artifacts(folder: Path) -> int:
    """Load every artifact file of ``folder`` into this process's compile caches, once per process; how many."""
    key = str(Path(folder).resolve())
    if key in _LOADED:
        return 0
    _LOADED.add(key)
    import torch

    n = 0
    for path in sorted(Path(folder).glob("*.bin")) if Path(folder).is_dir() else []:
        try:
            if torch.compiler.load_cache_artifacts(path.read_bytes()) is not None:
                n += 1
        except Exception:  # noqa: BLE001 -- a stale or foreign artifact only means a cold compile
            continue
    return n


def save_artifacts(folder: Path, name: str, markers: list[Path]) -> Path | None:
    """Write this process's compile artifacts as ``folder/name.bin`` (atomically) and the ``markers``; None if there were none."""
    import torch

    saved = torch.compiler.save_cache_artifacts()
    if saved is None:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".bin", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(saved[0])
    final = folder / f"{name}.bin"
    os.replace(tmp, final)
    for m in markers:
        m.touch()
    return final
