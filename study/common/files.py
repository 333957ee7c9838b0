"""Output folders are checked for writing before any work starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from study.common.errors import UsageError

__all__ = ["ensure_free_space", "ensure_writable", "write_json"]


def ensure_writable(folder: Path, what: str, fix: str) -> Path:
    """Create ``folder`` and prove a file can be written there, or raise a UsageError saying ``fix``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"{what} {str(folder)!r} is not writable ({e.strerror}); {fix}") from None
    return folder


def ensure_free_space(folder: Path, need_bytes: int, what: str, fix: str) -> None:
    """Raise a UsageError if ``folder``'s file system has less than ``need_bytes`` free."""
    import shutil

    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise UsageError(f"{what} {str(folder)!r} has {_size(free)} free, but the study needs about {_size(need_bytes)} "
                         f"for checkpoints and records; {fix}")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that readers see the old file or the new one, never half of one."""
    import json

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
