"""Durations as people write them: ``"90s"``, ``"10m"``, ``"2h"``, ``"1h30m"``, or seconds as a number.

Used for the study's wall-clock budget (``[budget] time`` in a study file, ``--time-budget`` on the
command line). Units, largest first, each at most once: ``d``, ``h``, ``m``, ``s`` (also spelled
``day(s)``, ``hr``/``hour(s)``, ``min``/``minute(s)``, ``sec``/``second(s)``), with an optional
space between number and unit. A bare number (``600`` or ``"600"``) is seconds.
"""

from __future__ import annotations

import math
import re
from typing import Any

from study.common.errors import UsageError
from study.common.messages import short

__all__ = ["MAX_DURATION_S", "format_duration", "parse_duration"]

MAX_DURATION_S = 366 * 86_400.0  # s, one year: anything longer is a typo, and overflows timedelta math elsewhere

_UNITS = {
    "d": 86_400.0, "day": 86_400.0, "days": 86_400.0,
    "h": 3_600.0, "hr": 3_600.0, "hrs": 3_600.0, "hour": 3_600.0, "hours": 3_600.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*", re.ASCII)
_NUMBER = re.compile(r"[+-]?(\d+(?:\.\d*)?|\.\d+)(e[+-]?\d+)?", re.ASCII)
_HINT = "write it like '90s', '10m', '2h' or '1h30m', or as seconds (a number)"


def parse_duration(value: Any) -> float:
    """Seconds in ``value`` (a string like ``"1h30m"`` or a number of seconds); > 0, finite, <= a year.

    Raises :class:`~study.common.errors.UsageError` naming the bad value and the accepted spellings.
    """
    if isinstance(value, bool):
        raise UsageError(f"duration must be a number of seconds or text like '10m', got {value!r}; {_HINT}")
    if isinstance(value, (int, float)):
        seconds = _number(value)
    elif isinstance(value, str):
        seconds = _text(value)
    else:
        raise UsageError(f"duration must be a number of seconds or text like '10m', got a {type(value).__name__}; {_HINT}")
    if math.isnan(seconds) or seconds <= 0:
        raise UsageError(f"duration must be more than 0 seconds, got {short(value)}; {_HINT}")
    if seconds > MAX_DURATION_S:
        raise UsageError(f"duration must be at most a year (366d), got {short(value)}; {_HINT}")
    return seconds


def format_duration(seconds: float) -> str:
    """``5400 -> "1h30m"``, ``90 -> "1m30s"``, ``2.5 -> "2.5s"`` (the inverse of :func:`parse_duration`)."""
    if seconds < 60:
        return f"{seconds:g}s"
    total = round(seconds)
    out = ""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            out += f"{n}{unit}"
    return out or "0s"


def _number(value: float) -> float:
    if isinstance(value, int) and abs(value) > 2**63:
        raise UsageError(f"duration must be at most a year (366d), got an integer with {value.bit_length()} bits; {_HINT}")
    seconds = float(value)
    if math.isinf(seconds) or math.isnan(seconds):
        raise UsageError(f"duration must be a finite number of seconds, got {value!r}; {_HINT}")
    return seconds


def _text(value: str) -> float:
    text = value.strip().lower()
    if not text or len(text) > 64:
        raise UsageError(f"duration {short(value)} is not a duration; {_HINT}")
    if _NUMBER.fullmatch(text):
        return _number(float(text))
    seconds = 0.0
    pos = 0
    last_size = math.inf
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None or m.group(2) not in _UNITS:
            raise UsageError(f"duration {short(value)} is not a duration; {_HINT}")
        size = _UNITS[m.group(2)]
        if size >= last_size:
            raise UsageError(f"duration {short(value)}: units must go from largest to smallest, each once; {_HINT}")
        last_size = size
        seconds += float(m.group(1)) * size
        pos = m.end()
    return seconds
