"""Durations as written in the configuration: parsing, and the shortest exact spelling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcistage.core.durations import format_duration, parse_duration

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
