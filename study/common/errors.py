"""The one error type the command line turns into ``study: error: …`` and exit code 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: the message names the bad value and the fix."""
