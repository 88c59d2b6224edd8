"""Text for the status page: every value escaped for HTML, times and durations made short."""

from __future__ import annotations

import html
from typing import Any

from kcistage.core.display import minute, parse_time_lenient, printable


def esc(value: Any) -> str:
    """Any value as HTML text: control characters shown as escapes, markup and quotes escaped.

    Titles, logins and reasons come from GitHub; an ANSI escape must not reach a text browser's
    terminal and a `<script>` must stay text."""
    return html.escape(printable(value), quote=True)


def when(text: Any) -> str:
    """`YYYY-MM-DD HH:MM UTC` (escaped), "-" when absent."""
    value = parse_time_lenient(text)
    if value is None:
        return esc(text) if text else "-"
    return minute(value)
