"""The status page's picture of recent deployments: an inline SVG bar per deployment.

Full cycles sit in the upper lane, partial ones in the lower; a bar's height grows with its
duration (square root, so a 10-minute partial cycle still shows next to a 4-hour full one) and
its colour says the result. Every bar carries a <title> (a tooltip, and what screen readers say).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kcistage.core.display import duration, seconds_between
from kcistage.web.html_text import esc, when

SHOWN = 60
COLOURS = {"success": "#2e7d32", "failed": "#c62828", "interrupted": "#ef6c00",
           "running": "#1565c0"}
WIDTH, LANE, LABEL, GAP = 960, 70, 60, 10
HEIGHT = 2 * LANE + 3 * GAP + 24


def bars(deployments: Sequence[Mapping[str, Any]], generated: str) -> list[dict[str, Any]]:
    """The newest SHOWN deployments (oldest first) as {id, cycle, result, seconds, ...}."""
    shown = []
    for record in deployments[-SHOWN:]:
        end = record.get("finished") or (generated if record.get("result") == "running" else None)
        shown.append({"id": record.get("id"), "cycle": record.get("cycle"),
                      "trigger": record.get("trigger"), "result": record.get("result"),
                      "started": record.get("started"),
                      "seconds": max(seconds_between(record.get("started"), end) or 0.0, 0.0)})
    return shown


def render(deployments: Sequence[Mapping[str, Any]], generated: str) -> str:
    """The SVG element (no XML prolog: it is inlined in the page)."""
    shown = bars(deployments, generated)
    longest = max((b["seconds"] for b in shown), default=0.0) or 1.0
    slot = (WIDTH - LABEL) / max(len(shown), 1)
    width = max(min(slot * 0.8, 24.0), 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" role="img" aria-labelledby="timeline-title">',
             '<title id="timeline-title">Recent deployments, oldest on the left: full cycles above, '
             'partial cycles below; taller bars took longer</title>']
    for cycle, top in (("full", GAP), ("partial", 2 * GAP + LANE)):
        base = top + LANE
        parts.append(f'<line x1="{LABEL}" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="#999" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="0" y="{base - 4}" font-size="13" fill="#333">{cycle}</text>')
        for i, bar in enumerate(shown):
            if bar["cycle"] != cycle:
                continue
            height = max(math.sqrt(bar["seconds"] / longest) * (LANE - 4), 2.0)
            x = LABEL + i * slot + (slot - width) / 2
            colour = COLOURS.get(str(bar["result"]), "#757575")
            tip = (f"deployment {esc(bar['id'])}: {esc(bar['cycle'])} ({esc(bar['trigger'])}), "
                   f"{esc(bar['result'])} after {duration(bar['seconds'])}, "
                   f"started {when(bar['started'])}")
            parts.append(f'<g><title>{tip}</title><rect x="{x:.1f}" y="{base - height:.1f}" '
                         f'width="{width:.1f}" height="{height:.1f}" fill="{colour}"/></g>')
    if not shown:
        parts.append(f'<text x="{LABEL}" y="{GAP + LANE}" font-size="14" fill="#555">'
                     'no deployment yet</text>')
    legend_y = HEIGHT - 8
    x = LABEL
    for result, colour in COLOURS.items():
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{legend_y}" font-size="12" fill="#333">{result}</text>')
        x += 110
    if shown:
        parts.append(f'<text x="{WIDTH}" y="{legend_y}" font-size="12" fill="#333" '
                     f'text-anchor="end">deployments {esc(shown[0]["id"])} to '
                     f'{esc(shown[-1]["id"])}; the tallest bar is {duration(longest)}</text>')
    parts.append("</svg>")
    return "".join(parts)
