"""Durations as people write them (the budget's time, --time-budget)."""

from __future__ import annotations

import math

import pytest

from study.common.errors import UsageError
from study.spec import parse_duration


@pytest.mark.parametrize("value,seconds", [
    ("90s", 90), ("10m", 600), ("2h", 7200), ("1h30m", 5400), (" 1H30M ", 5400), ("1.5h", 5400),
    ("1d2h", 93600), ("2 hours", 7200), ("45 min", 2700), ("600", 600), ("1e3", 1000), (600, 600), (0.5, 0.5),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [
    "5 minutes please", "", "   ", "-5", -5, 0, "0s", "0", math.nan, math.inf, -math.inf, "inf", "nan", "1e999",
    True, None, [], "30m1h", "1h1h", "10 parsecs", "h", "1.2.3s", 10**400, "400d", 10**9, "x" * 1000,
])
def test_parse_duration_rejects(value):
    with pytest.raises(UsageError):
        parse_duration(value)

