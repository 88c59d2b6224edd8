"""The poke folder: `serve` leaves one file per accepted webhook delivery; a tick removes them.

A poke only means "poll GitHub now". The file name is the delivery id, so the names also tell a
restarted `serve` which deliveries it already accepted.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

from kcistage.errors import StateError

# GitHub's delivery ids are UUIDs; anything else that fits a file name safely is accepted too.
DELIVERY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")
_TEMP_PREFIX = ".poke-"
STALE_TEMP_SECONDS = 10.0


def write(folder: Path, delivery: str) -> Path:
    """Leave the poke for `delivery` atomically (temp file + rename); StateError if impossible."""
    if not DELIVERY_RE.match(delivery):
        raise ValueError(f"not a delivery id: {delivery!r}")
    folder = Path(folder)
    target = folder / delivery
    # The temp name is the delivery's own (ids are unique, and serve writes each one once), so
    # no random name to find: os.open + rename is a third of mkstemp's cost on a webhook's path.
    tmp = folder / f"{_TEMP_PREFIX}{delivery}"
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        except FileNotFoundError:
            folder.mkdir(mode=0o750, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        try:
            os.write(fd, b"poll now\n")
        finally:
            os.close(fd)
        os.rename(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StateError(f"{folder}: cannot leave a poke: {exc.strerror or exc}") from exc
    return target


def waiting(folder: Path) -> list[str]:
    """Every name in the poke folder now (pokes and temp files a killed writer left behind)."""
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []  # no folder (serve never ran) or unreadable: nothing to consume


def delivered(folder: Path) -> list[str]:
    """The delivery ids whose pokes are still waiting (what a restarted `serve` has seen)."""
    return [name for name in waiting(folder) if DELIVERY_RE.match(name)]


def remove(folder: Path, names: list[str], now: float | None = None) -> None:
    """Remove these names from the poke folder; ones already gone or not removable are skipped.

    Anything left would keep the path unit starting ticks, so a temp file that a killed write
    left behind goes too, once it is older than any write in progress could be."""
    for name in names:
        path = Path(folder) / name
        with contextlib.suppress(OSError):
            if name.startswith(_TEMP_PREFIX):
                age = (time.time() if now is None else now) - path.stat().st_mtime
                if age < STALE_TEMP_SECONDS:
                    continue
            os.unlink(path)
