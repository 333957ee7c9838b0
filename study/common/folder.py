"""A study folder: finding it by name, reading its ``study.json``, and its format version.

Every command that opens an existing study (``study resume``, ``study sync``, ``study ui``,
``study dashboard``) goes through :func:`find_study` and :func:`read_study`, so a folder that is not
a study, or whose ``study.json`` is damaged, gets the same message from all of them.

A study folder can be moved or copied (rsync'ed from the GPU box to a laptop): nothing in it
depends on where it was written. The default MLflow store (``mlflow.db``, ``mlartifacts/``) is
recorded as ``"tracking_store": "folder"`` and found inside the folder wherever it is; an external
tracking URI stays as given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from study.common.errors import UsageError

__all__ = ["FORMAT", "RECORD", "check_format", "find_study", "folder_tracking_uri", "read_study", "tracking_uri_of"]

RECORD = "study.json"
FORMAT = 4  # of the study folder; 3: Optuna's trials in an RDB file (optuna.db);
# 2: the confirmation and the ablation as untyped dicts (no ablation.json);
# 1: before study/ was grouped into packages (Tune's pickles name old modules)


def find_study(name: str | None, root: str | Path) -> Path:
    """The study ``name`` under ``root`` (the newest study when ``name`` is None)."""
    base = Path(root)
    if name:
        d = base / name
        if not (d / RECORD).exists():
            known = sorted(p.parent.name for p in base.glob(f"*/{RECORD}"))
            raise UsageError(f"no study {name!r} under {base}/" + (f"; known studies: {', '.join(known)}" if known
                                                                    else "; run `study launch` first"))
        return d
    found = sorted(base.glob(f"*/{RECORD}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(f"no study under {base}/; run `study launch` first or pass --root")
    return found[-1].parent


def read_study(study_dir: Path) -> dict[str, Any]:
    """``study.json`` of ``study_dir``; a clear UsageError when it is missing, damaged or not a study's."""
    path = Path(study_dir) / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path} cannot be read ({e}); is {study_dir} a study folder?") from None
    if not isinstance(data, dict) or "name" not in data:
        raise UsageError(f"{path} is not a study record (no 'name'); is {study_dir} a study folder?")
    return data


def check_format(study_dir: Path, record: dict[str, Any], command: str) -> None:
    """``study resume`` and ``study sync`` need a folder of this version's format."""
    found = record.get("format", 1)
    if found != FORMAT:
        raise UsageError(f"study folder {study_dir} is of format {found}, and this version of study reads format {FORMAT}; "
                         f"`{command}` cannot continue it (launch the study again with `study launch`; its records stay "
                         f"readable in {study_dir})")


def folder_tracking_uri(study_dir: Path) -> str:
    """The default MLflow store: ``mlflow.db`` inside the study folder, wherever the folder is now."""
    return f"sqlite:///{(Path(study_dir) / 'mlflow.db').resolve()}"


def tracking_uri_of(study_dir: Path, record: dict[str, Any]) -> str | None:
    """The study's MLflow tracking URI: its own folder's store, or the external URI it was launched with."""
    if record.get("tracking_store") == "folder":
        return folder_tracking_uri(study_dir)
    uri = record.get("tracking_uri")
    return str(uri) if uri else None
