"""The status page's picture of recent deployments: an SVG with a time axis, as an image.

Each deployment is a bar from its start to its end on a time axis, full cycles in the upper
lane and partial ones in the lower. A result is told by its fill pattern as well as its colour
(solid: success, hatched: failed, dotted: interrupted, striped outline: running), named in the
legend. The SVG is served as a `data:` image with a text alternative, so a text browser shows a
sentence instead of the SVG's labels run together; a narrower picture with fewer bars and the
same type size is picked on a phone.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

from kcistage.core.display import parse_time_lenient
from kcistage.web.html_text import esc

SHOWN, SHOWN_NARROW = 60, 20
COLOURS = {"success": "#2e7d32", "failed": "#c62828", "interrupted": "#ef6c00",
           "running": "#1565c0"}
FILLS = {"success": "#2e7d32", "failed": "url(#hatch)", "interrupted": "url(#dots)",
         "running": "url(#stripes)"}
PATTERNS = {"success": "solid", "failed": "hatched", "interrupted": "dotted",
            "running": "striped"}
STEPS = [timedelta(minutes=m) for m in (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)]
_DEFS = ('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
         'patternTransform="rotate(45)"><rect width="6" height="6" fill="#c62828"/>'
         '<rect width="2" height="6" fill="#fff"/></pattern>'
         '<pattern id="dots" width="5" height="5" patternUnits="userSpaceOnUse">'
         '<rect width="5" height="5" fill="#ef6c00"/><circle cx="2.5" cy="2.5" r="1.2" '
         'fill="#fff"/></pattern>'
         '<pattern id="stripes" width="8" height="8" patternUnits="userSpaceOnUse">'
         '<rect width="8" height="8" fill="#fff"/><rect width="4" height="8" fill="#1565c0"/>'
         '</pattern></defs>')


@dataclass(frozen=True)
class Bar:
    """One deployment on the axis."""

    ident: Any
    cycle: str
    result: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Size:
    """A picture's geometry (user units are CSS pixels at the width it is drawn for)."""

    width: int
    shown: int
    ticks: int  # at most this many time labels


WIDE, NARROW = Size(960, SHOWN, 8), Size(340, SHOWN_NARROW, 3)
LABEL, LANE, TOP, FONT = 58, 28, 8, 13


def bars(deployments: Sequence[Mapping[str, Any]], generated: str, shown: int) -> list[Bar]:
    """The newest `shown` deployments with readable times (oldest first)."""
    now = parse_time_lenient(generated)
    out = []
    for record in deployments[-shown:]:
        start = parse_time_lenient(record.get("started"))
        end = parse_time_lenient(record.get("finished")) or now
        if start is None or end is None:
            continue
        out.append(Bar(record.get("id"), str(record.get("cycle")), str(record.get("result")),
                       start, max(end, start)))
    return out


def _step(span: timedelta, ticks: int) -> timedelta:
    return next((s for s in STEPS if span / s <= ticks), STEPS[-1])


def _tick_label(value: datetime, step: timedelta) -> str:
    """A label on the axis: the day at midnight or for day-long steps, else HH:MM."""
    if step >= timedelta(days=1) or (value.hour, value.minute) == (0, 0):
        return value.strftime("%b %d")
    return value.strftime("%H:%M")


def svg(shown: list[Bar], size: Size) -> str:
    """The picture as an SVG document."""
    width = size.width
    axis_y = TOP + 2 * LANE + 10
    legend_y = axis_y + 36
    height = legend_y + 12
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" font-family="sans-serif" font-size="{FONT}">',
             _DEFS]
    for cycle, top in (("full", TOP), ("partial", TOP + LANE)):
        parts.append(f'<text x="0" y="{top + LANE - 9}" fill="#222">{cycle}</text>')
        parts.append(f'<line x1="{LABEL}" y1="{top + LANE - 2}" x2="{width}" '
                     f'y2="{top + LANE - 2}" stroke="#ccc"/>')
    if shown:
        first = min(b.start for b in shown)
        last = max(b.end for b in shown)
        span = max(last - first, timedelta(minutes=10))
        room = width - LABEL - 4

        def x(value: datetime) -> float:
            return LABEL + (value - first) / span * room

        for bar in shown:
            top = TOP if bar.cycle == "full" else TOP + LANE
            left, right = x(bar.start), max(x(bar.end), x(bar.start) + 3)
            fill = FILLS.get(bar.result, "#757575")
            parts.append(f'<rect x="{left:.1f}" y="{top + 4}" width="{right - left:.1f}" '
                         f'height="{LANE - 8}" fill="{fill}" stroke="{COLOURS.get(bar.result, "#444")}"'
                         f' stroke-width="1"/>')
        step = _step(span, size.ticks)
        tick = datetime.fromtimestamp(first.timestamp() // step.total_seconds()
                                      * step.total_seconds(), first.tzinfo)
        parts.append(f'<line x1="{LABEL}" y1="{axis_y}" x2="{width}" y2="{axis_y}" stroke="#555"/>')
        parts.append(f'<text x="0" y="{axis_y + 16}" fill="#222">UTC</text>')
        while tick <= first + span:
            if tick >= first:
                pos = x(tick)
                anchor = "end" if pos > width - 30 else "middle"
                parts.append(f'<line x1="{pos:.1f}" y1="{axis_y}" x2="{pos:.1f}" y2="{axis_y + 5}" '
                             f'stroke="#555"/><text x="{pos:.1f}" y="{axis_y + 18}" fill="#222" '
                             f'text-anchor="{anchor}">{_tick_label(tick, step)}</text>')
            tick += step
    else:
        parts.append(f'<text x="{LABEL}" y="{axis_y}" fill="#444">no deployment yet</text>')
    pos = 0
    per = (width - 8) // 4
    for result in ("success", "failed", "interrupted", "running"):
        parts.append(f'<rect x="{pos}" y="{legend_y - 11}" width="14" height="12" '
                     f'fill="{FILLS[result]}" stroke="{COLOURS[result]}"/>'
                     f'<text x="{pos + 18}" y="{legend_y}" fill="#222">{result}</text>')
        pos += per
    parts.append("</svg>")
    return "".join(parts)


def describe(shown: list[Bar]) -> str:
    """The picture in words (its text alternative)."""
    if not shown:
        return "Timeline: no deployment yet."
    counts = {r: sum(1 for b in shown if b.result == r) for r in PATTERNS}
    cycles = {c: sum(1 for b in shown if b.cycle == c) for c in ("full", "partial")}
    results = ", ".join(f"{n} {r} ({PATTERNS[r]})" for r, n in counts.items() if n)
    return (f"Timeline of the last {len(shown)} deployments, "
            f"{shown[0].start:%Y-%m-%d %H:%M} to {shown[-1].end:%Y-%m-%d %H:%M} UTC: "
            f"{cycles['full']} full (upper lane), {cycles['partial']} partial (lower lane); "
            f"{results}. The table below lists them.")


def _data(document: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(document.encode()).decode()


def render(deployments: Sequence[Mapping[str, Any]], generated: str) -> str:
    """The <figure> with the picture for wide screens and phones, and its text alternative."""
    wide = bars(deployments, generated, WIDE.shown)
    narrow = bars(deployments, generated, NARROW.shown)
    alt = describe(wide)
    return ('<figure class="timeline"><picture>'
            f'<source media="(max-width: 40em)" srcset={quoteattr(_data(svg(narrow, NARROW)))}>'
            f'<img src={quoteattr(_data(svg(wide, WIDE)))} alt={quoteattr(alt)}></picture>'
            f"<figcaption>{esc(_caption(wide))}</figcaption></figure>\n")


def _caption(shown: list[Bar]) -> str:
    """What the picture shows, in one line under it."""
    return ("Time runs left to right (UTC); full cycles above, partial below; "
            "solid = success, hatched = failed, dotted = interrupted, striped = running."
            if shown else "No deployment yet.")

