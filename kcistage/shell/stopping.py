"""A request to stop the run (SIGTERM): remembered, and cutting a wait on the network short.

The run's SIGTERM handler calls `request()`. Outside a network wait that only records the
reason, which the run checks at its next safe point (between steps, in the step runner's loop).
Inside one (`cut_short()`: a GitHub request with its retries and pauses, a drain poll) the
handler raises `Stopped` at once: a socket wait whose signal handler raises ends with that
exception (PEP 475), so a GitHub answering in 12 s cannot hold a stopping run. A wait entered
after the request raises at once: nothing is sent to a service once the run is stopping.
Only the main thread is cut short (Python runs signal handlers there).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kcistage.errors import KcistageError


class Stopped(KcistageError):
    """The run was asked to stop (SIGTERM) while it waited on a service."""

    exit_code = 1  # as for a deployment that did not succeed: the run did not do its work


_reason: str | None = None
_depth = 0  # network waits the main thread is in


def reset() -> None:
    """No stop requested (a new run in this process)."""
    global _reason, _depth
    _reason, _depth = None, 0


def reason() -> str | None:
    """Why the run is stopping, or None."""
    return _reason


def request(why: str) -> None:
    """Record a stop request; inside a network wait of the main thread, raise Stopped now."""
    global _reason
    first = _reason is None
    _reason = why
    if first and _depth > 0 and threading.current_thread() is threading.main_thread():
        raise Stopped(why)


@contextmanager
def cut_short() -> Iterator[None]:
    """A wait on the network that a stop request ends at once (Stopped)."""
    global _depth
    if _reason is not None:
        raise Stopped(_reason)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def sleep(seconds: float) -> None:
    """time.sleep that a stop request ends (Stopped)."""
    with cut_short():
        time.sleep(seconds)


@contextmanager
def held() -> Iterator[None]:
    """SIGTERM held back (delivered at the end) while a decision and its record are made
    together, so that the record says what happened before the signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
