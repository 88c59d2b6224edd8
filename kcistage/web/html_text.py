"""Text for the status page: every value escaped for HTML, times and durations made short."""

from __future__ import annotations

import html
import re
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


def link(href: str, text_html: str) -> str:
    """An <a> to `href` (escaped) around HTML that is already escaped."""
    return f'<a href="{esc(href)}">{text_html}</a>'


def ago(seconds: float | None) -> str:
    """`just now`, `1 minute ago`, `3 hours ago`, `2 days ago` (escaped; `-` when unknown)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "-"


def with_code(value: Any) -> str:
    """Text escaped, its `backtick` spans (commands to type) shown as <code>."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", esc(value))
