"""Values shown to people: control characters made visible, lenient times, durations."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from kcistage.core.display import duration, minute, parse_time_lenient, printable, seconds_between


@given(st.text())
def test_printable_never_emits_a_control_character(text: str) -> None:
    out = printable(text)
    assert out.isprintable()
    assert out == text or not text.isprintable()


def test_times_and_durations() -> None:
    assert parse_time_lenient("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_time_lenient("yesterday") is None and parse_time_lenient(None) is None
    assert seconds_between("2024-05-01T10:00:00Z", "2024-05-01T10:04:12+00:00") == 252
    assert seconds_between("2024-05-01T10:00:00Z", None) is None
    assert minute(datetime(2024, 5, 1, 12, 7, tzinfo=UTC)) == "2024-05-01 12:07 UTC"
    assert duration(252) == "4m12s" and duration(12.34, precise=True) == "12.3s"
    assert duration(None) == "-" and duration(True) == "-" and duration("5") == "-"
