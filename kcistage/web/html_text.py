"""Text for the status page: every value escaped for HTML, times and durations made short."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from kcistage.core.durations import human


def esc(value: Any) -> str:
    """Any value as HTML text: control characters shown as escapes, markup and quotes escaped.

    Titles, logins and reasons come from GitHub; an ANSI escape must not reach a text browser's
    terminal and a `<script>` must stay text."""
    text = "" if value is None else str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else
                       (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
                       for ch in text)
    return html.escape(text, quote=True)


def parse(text: Any) -> datetime | None:
    """An aware datetime from an ISO-8601 string, or None when absent or malformed."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(text: Any) -> str:
    """`YYYY-MM-DD HH:MM UTC` (escaped), "-" when absent."""
    value = parse(text)
    if value is None:
        return esc(text) if text else "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float | None) -> str:
    """A duration as people read it (`45s`, `4m12s`, `2h03m`); "-" when unknown."""
    if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "-"
    return human(seconds)


def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from one ISO time to another (None if either is missing or malformed)."""
    a, b = parse(start), parse(end)
    return (b - a).total_seconds() if a and b else None
