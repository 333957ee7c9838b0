"""The libraries' own log lines (MLflow's database set-up, Ray's token-authentication warning,
Optuna's trial lines) and the output of the servers a study starts (``study ui``'s ``mlflow server``)
go to log files in the study folder: a user's terminal shows the study's own lines only."""

from __future__ import annotations

import logging
import shlex
import time
from pathlib import Path
from typing import BinaryIO

__all__ = ["LIBRARIES", "UI_LOG", "open_server_log", "route_library_logs", "tail"]

LIBRARIES = ("mlflow", "alembic", "ray", "optuna", "urllib3", "filelock", "sqlalchemy")
UI_LOG = "ui.log"  # in the study folder: `study ui`'s mlflow server (start-up lines, warnings, requests)


def route_library_logs(path: Path) -> None:
    """Every logger of :data:`LIBRARIES` writes to ``path`` only (called again after a library's
    import, which may install its own terminal handler; idempotent)."""
    target = str(Path(path).resolve())
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        if [getattr(h, "baseFilename", None) for h in logger.handlers] == [target]:
            continue  # already routed
        for h in list(logger.handlers):
            logger.removeHandler(h)
        handler = logging.FileHandler(target, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def open_server_log(path: Path, cmd: list[str]) -> tuple[BinaryIO, int]:
    """``path`` opened to append a server's stdout and stderr, after a line naming the command and
    the time; and the offset where this run's part starts (for :func:`tail`). Earlier runs stay."""
    out = open(path, "ab")  # handed to the server's process; the caller closes its own copy
    start = out.tell()
    out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(cmd)}\n".encode())
    out.flush()
    return out, start


def tail(path: Path, start: int = 0, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of ``path`` from byte ``start`` on (none if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
