"""Numbers for people: accuracy as %, differences in percentage points, seconds as durations."""

from __future__ import annotations

import math

__all__ = ["duration", "ms", "pct", "pp", "value"]


def pct(x: float | None, digits: int = 1) -> str:
    """An accuracy in [0, 1] as a percentage: ``0.8342`` -> ``"83.4%"``."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.{digits}f}%"


def pp(x: float | None, digits: int = 1) -> str:
    """A difference of accuracies in percentage points, signed: ``0.013`` -> ``"+1.3 pp"``."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:+.{digits}f} pp"


def duration(s: float | None) -> str:
    """Seconds as ``"42 s"``, ``"3 min 05 s"`` or ``"1 h 02 min"``."""
    if s is None or not math.isfinite(s):
        return "n/a"
    s = max(s, 0.0)
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    m, sec = divmod(round(s), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def ms(x: float | None) -> str:
    """Milliseconds per image."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.2f} ms" if x < 100 else f"{x:.0f} ms"


def value(x: object) -> str:
    """A config or searched value, short: floats to 3 significant digits."""
    if isinstance(x, bool) or x is None:
        return str(x).lower() if isinstance(x, bool) else "none"
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)
