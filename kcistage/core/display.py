"""How recorded values are shown to people, in the terminal and on the status page alike.

Values come from the state file and from GitHub (titles, logins, reasons): nothing here trusts
them to be well formed, and no control character gets through to a terminal or a page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kcistage.core.durations import human


def printable(value: Any) -> str:
    """Any value as text whose control and format characters are shown as escapes (`\\x1b`)."""
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else
                   (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
                   for ch in text)


def parse_time_lenient(text: Any) -> datetime | None:
    """An aware datetime from an ISO-8601 string, or None when absent or malformed."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from one ISO time to another (None if either is missing or malformed)."""
    a, b = parse_time_lenient(start), parse_time_lenient(end)
    return (b - a).total_seconds() if a and b else None


def minute(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM UTC`: a time as the views show it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: Any, precise: bool = False) -> str:
    """A recorded number of seconds as durations.human writes it; `-` when there is none."""
    if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "-"
    return human(seconds, precise)
