"""Network failures in plain words: DNS, connection refused, TLS, timeout (for one-line messages)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import requests

_DNS_WORDS = ("name or service not known", "temporary failure in name resolution",
              "nodename nor servname", "failed to resolve", "no address associated",
              "name resolution")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and urllib3's wrapped `reason`s."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (current.__cause__, current.__context__, getattr(current, "reason", None),
                      *[a for a in current.args if isinstance(a, BaseException)]):
            if isinstance(inner, BaseException):
                todo.append(inner)


def describe(exc: BaseException) -> str:
    """What went wrong with a connection, in a few words: "DNS lookup failed", "connection
    refused", "TLS error: …", "timed out", "connection reset", else the exception's name."""
    chain = list(_chain(exc))
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, (requests.exceptions.SSLError, ssl.SSLError)) for e in chain):
        detail = next((str(e.reason) for e in chain
                       if isinstance(e, ssl.SSLError) and getattr(e, "reason", None)), "")
        return "TLS error" + (f": {detail.lower().replace('_', ' ')}" if detail else "")
    if any(isinstance(e, socket.gaierror) for e in chain) or any(w in text for w in _DNS_WORDS):
        return "DNS lookup failed (name not resolved)"
    if any(isinstance(e, (requests.exceptions.Timeout, TimeoutError, socket.timeout))
           for e in chain) or "timed out" in text:
        return "timed out"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return "connection refused"
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in text:
        return "connection reset"
    return type(exc).__name__
