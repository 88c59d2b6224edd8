"""The tool's clock: real time, or a given start (`--now`) advancing with real elapsed time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Callable returning an aware UTC datetime; the demo and tests may jump it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = timedelta(0)
        if start is not None:
            self._offset = start - datetime.now(UTC)
        self._start = start
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        if self._start is None:
            return datetime.now(UTC) + self._offset
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward by `delta` (simulated waiting) and return the new time."""
        self._offset += delta
        if self._start is not None:
            self._start += delta
        return self()
