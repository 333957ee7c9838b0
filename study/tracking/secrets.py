"""Secret values never leave the process: not as MLflow params, tags or artifacts, nor in the
study folder's trial records.

A secret is the value of a known credential variable (``SECRET_ENV``), or of any environment
variable whose name says it is one (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*API_KEY*``,
``*ACCESS_KEY*``, ``*CREDENTIAL*``) and whose value is long enough (8+ characters) not to be a
flag. Values are read from the environment of the process that writes: a Ray worker of a local
cluster inherits the driver's environment as it was when Ray started.
"""

from __future__ import annotations

import os
import re

__all__ = ["SECRET_ENV", "scrub", "secret_values"]

# Environment variables whose values must never be logged as params, tags or artifacts.
SECRET_ENV = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME", "AWS_SECRET_ACCESS_KEY")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
_MIN_LEN = 8  # shorter values of look-alike names ("1", "true") are not treated as secrets
MASK = "***"


def secret_values() -> list[str]:
    """The secrets in this process's environment, longest first (so a secret inside another goes too)."""
    found = {v for k, v in os.environ.items() if v and (k in SECRET_ENV or (_SECRET_NAME.search(k) and len(v) >= _MIN_LEN))}
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with every secret value replaced by ``***`` (``secrets``: :func:`secret_values`, when
    the caller scrubs many texts at once)."""
    for secret in secret_values() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
