"""Small helpers for messages about bad input: show a value briefly, suggest the name meant.

Every check that repeats a bad value (style point 13) shows it with :func:`short`, so a hostile
value (an integer of 4,000 digits, a string of a megabyte, an object whose ``repr`` raises) still
gives a one-line message; :func:`hint` adds "did you mean …" from the known names.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_PLAIN_INT", "finite", "hint", "is_number", "key_text", "kind_text", "short"]

MAX_PLAIN_INT = 2**53  # larger integers are not plain data (JSON, MLflow params) and no setting needs them
_PLAIN_KEY = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)


def is_number(v: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def finite(v: Any) -> bool:
    """A number that converts to a finite float without overflow (ints up to 2**53)."""
    if isinstance(v, float):
        return math.isfinite(v)
    return is_number(v) and abs(v) <= MAX_PLAIN_INT


def short(v: Any) -> str:
    """``repr`` of at most 80 characters, computable for any value (huge integers by their size)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10**30:
        return f"<{v.bit_length()}-bit integer>"
    try:
        text = repr(v)
    except (ValueError, RecursionError):
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def key_text(k: Any) -> str:
    """A key as written when it is a plain name (``A-Za-z0-9._-``), else its :func:`short` repr."""
    return k if isinstance(k, str) and _PLAIN_KEY.fullmatch(k) else short(k)


def kind_text(v: Any) -> str:
    """What a parsed TOML value is, in words: "a table", "a list", "text", "an integer" …"""
    names = {dict: "a table", list: "a list", str: "text", bool: "true/false", int: "an integer", float: "a number"}
    return names.get(type(v), f"a {type(v).__name__}")


def hint(word: Any, options: Iterable[Any]) -> str:
    """``" (did you mean 'lr'?)"`` when ``word`` is close to one of ``options``, else ``""``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
