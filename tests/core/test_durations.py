"""Durations as written in the configuration: parsing, and the shortest exact spelling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcistage.core.durations import format_duration, human, parse_duration

DURATIONS = [
    ("90s", timedelta(seconds=90)), ("5m", timedelta(minutes=5)), ("6h", timedelta(hours=6)),
    ("1d", timedelta(days=1)), ("0.2s", timedelta(seconds=0.2)), ("0s", timedelta(0)),
    ("1.5h", timedelta(minutes=90)), (" 30m ", timedelta(minutes=30)), (".5m", timedelta(seconds=30)),
]
BAD_DURATIONS = ["", "5", "5 minutes", "m", "-1s", "1w", "5M", "1h30m", "1e3s", "PT5M", "5.s"]


@pytest.mark.parametrize("text,expected", DURATIONS)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", BAD_DURATIONS)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("value", [None, 5, 1.5, True, ["5m"]])
def test_parse_duration_rejects_non_text(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from("smhd"))
def test_duration_round_trip(count: int, unit: str) -> None:
    seconds = count * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    value = parse_duration(f"{count}{unit}")
    assert value == timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(st.integers(min_value=0, max_value=10**6))
def test_duration_format_is_shortest(seconds: int) -> None:
    text = format_duration(timedelta(seconds=seconds))
    assert parse_duration(text) == timedelta(seconds=seconds)
    unit = text[-1]
    if unit == "s" and seconds:
        assert seconds % 60 != 0


@pytest.mark.parametrize("seconds, precise, text", [
    # statuses and logs (precise: one decimal under a minute)
    (0, False, "0s"), (45, False, "45s"), (252, False, "4m12s"), (7380, False, "2h03m"),
    (93600, False, "1d02h"), (12.34, True, "12.3s"), (30, True, "30.0s"), (75.0, True, "1m15s"),
    # configured timeouts and intervals in step logs
    (0.3, False, "0.3s"), (1, False, "1s"), (90, False, "1m30s"), (1200, False, "20m"),
    (3600, False, "1h"), (5400, False, "1h30m"),
    # ages in the rules' reasons
    (6 * 3600 + 12 * 60, False, "6h12m"), (25 * 60, False, "25m"), (40, False, "40s"),
    (2 * 86400 + 3 * 3600, False, "2d03h"), (86400 + 5 * 60, False, "1d"), (-5, False, "0s"),
])
def test_human(seconds: float, precise: bool, text: str) -> None:
    assert human(seconds, precise) == text


@given(st.floats(min_value=0, max_value=10**7, allow_nan=False), st.booleans())
def test_human_is_short_and_names_at_most_two_units(seconds: float, precise: bool) -> None:
    text = human(seconds, precise)
    units = [c for c in text if c.isalpha()]
    assert 1 <= len(units) <= 2 and len(text) <= 8, text
