"""Durations as written in the configuration (`90s`, `5m`, `6h`, `1d`): parsing and spelling."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `5m`, `6h`, `1d` (decimals allowed: `0.2s`) as a timedelta; ValueError otherwise."""
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact `parse_duration` spelling of a timedelta (`90s`, `5m`, `1d`)."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        count = seconds / _UNIT_SECONDS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"


def human(seconds: float, precise: bool = False) -> str:
    """A duration for people, at most two units: `45s`, `4m12s`, `20m`, `2h03m`, `1h`, `1d02h`.

    A trailing zero unit is left out (`20m`, not `20m00s`); under a second it keeps its decimals
    (`0.3s`); with `precise`, anything under a minute shows one decimal (`12.3s`, `30.0s`)."""
    seconds = max(seconds, 0)
    if precise and seconds < 60:
        return f"{seconds:.1f}s"
    if 0 < seconds < 1:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + "s"
    total = int(round(seconds))
    for big, small, unit_big, unit_small in ((86400, 3600, "d", "h"), (3600, 60, "h", "m"),
                                             (60, 1, "m", "s")):
        if total >= big:
            count, rest = divmod(total, big)
            part = rest // small
            return f"{count}{unit_big}" + (f"{part:02d}{unit_small}" if part else "")
    return f"{total}s"
