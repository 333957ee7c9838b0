"""Output folders are checked for writing before any work starts."""

from __future__ import annotations

from pathlib import Path

from study.errors import UsageError

__all__ = ["ensure_writable"]


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
