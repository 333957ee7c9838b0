"""The libraries' own log lines (MLflow's database set-up, Ray's token-authentication warning,
Optuna's trial lines) go to a log file in the study folder: a user's terminal shows the study's
own lines only."""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["LIBRARIES", "route_library_logs"]

LIBRARIES = ("mlflow", "alembic", "ray", "optuna", "urllib3", "filelock", "sqlalchemy")


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
