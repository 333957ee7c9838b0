"""The one error type of the data path, so callers can catch bad data apart from bugs."""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """A data set, folder, cache or download is unusable; the message names it and says how to fix it."""
