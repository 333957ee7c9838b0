"""Build a folder exactly once across processes: in a temporary sibling, under a file lock, then rename.

The generated set, the decoded caches and the downloads are all shared by many trials on one
machine. Only a folder's final name is ever trusted: a process killed mid-build leaves a hidden
``.NAME.tmp-*`` sibling, which the next builder (holding the lock, so no one else is writing it)
deletes.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout

from trainable.data.errors import DataError

__all__ = ["build_once"]

log = logging.getLogger(__name__)


def build_once(final: Path, build: Callable[[Path], None]) -> bool:
    """Make folder ``final`` by calling ``build(tmp)`` on an empty temporary folder, then renaming it.

    Concurrent callers wait on ``final``'s lock file and reuse what the first one built.
    Returns True if this call built the folder, False if it already existed. A parent folder
    that cannot be created or locked (read-only disk, a file in the way) is a :class:`DataError`
    before any work.
    """
    if final.is_dir():
        return False
    parent = final.parent
    lock = FileLock(str(parent / f".{final.name}.lock"))
    try:
        parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("waiting for another process to finish building %s", final)
            lock.acquire()
    except Timeout:  # filelock's Timeout is an OSError, but not a sign of an unwritable folder
        raise
    except OSError as e:
        raise DataError(
            f"cannot create {final}: {parent} is not a writable folder ({e}); pass a writable data_dir "
            "(or set XRESNET_STUDY_DATA)"
        ) from e
    try:
        if final.is_dir():
            return False
        for stale in parent.glob(f".{glob.escape(final.name)}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            build(tmp)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return True
    finally:
        lock.release()
