"""The GitHub webhook receiver: checks a delivery, remembers its id and leaves a poke.

The checks are pure functions over headers and bytes; `Receiver` adds the memory of delivery ids
and the poke file. A delivery only ever means "poll GitHub now": nothing in it is acted on.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcistage.core.settings import Repo
from kcistage.errors import StateError
from kcistage.shell import pokes

MAX_BODY = 1 << 20  # 1 MiB; GitHub caps payloads at 25 MB but ours never come near
EVENTS = frozenset({"pull_request", "issue_comment", "push", "ping"})
MAX_DEPTH = 64  # nesting of arrays and objects; GitHub's payloads stay under 10
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string (its brackets do not nest)
_NESTING = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 open, -1 close (signed byte)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
REMEMBERED = 10_000  # delivery ids kept in memory (GitHub redelivers by hand, days later at most)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a delivery: status code and a one-line text body."""

    status: int
    text: str


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is `sha256=<hex HMAC-SHA256 of body with secret>` (constant-time)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))


def nesting(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings do not count).

    Found without parsing, so a hostile body of 100 000 nested arrays costs a scan, not a
    RecursionError inside the parser."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    steps = (1 if b == 1 else -1 for b in brackets.translate(_NESTING))
    return max(itertools.accumulate(steps, initial=0))


def check_headers(headers: Mapping[str, str], content_length: str | None) -> Answer | None:
    """The answer for a delivery refused before its body is read (None: read the body)."""
    media = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        return Answer(415, "the body must be JSON (Content type: application/json)")
    event, delivery = headers.get("x-github-event"), headers.get("x-github-delivery")
    if not event or not delivery:
        return Answer(400, "X-GitHub-Event and X-GitHub-Delivery are required")
    if not pokes.DELIVERY_RE.match(delivery):
        return Answer(400, "X-GitHub-Delivery is not a delivery id")
    if content_length is None or not content_length.strip().isdigit():
        return Answer(400, "Content-Length is required")
    if int(content_length) > MAX_BODY:
        return Answer(413, f"the body is larger than {MAX_BODY} bytes")
    return None


def check_body(secret: bytes, headers: Mapping[str, str], body: bytes) -> tuple[Answer | None, dict[str, Any]]:
    """Authenticate and parse a body: (refusal or None, the JSON object)."""
    if not signature_ok(secret, body, headers.get("x-hub-signature-256")):
        if not headers.get("x-hub-signature-256") and headers.get("x-hub-signature"):
            return Answer(401, "only a SHA-1 signature: X-Hub-Signature-256 is required"), {}
        return Answer(401, "missing or invalid X-Hub-Signature-256"), {}
    if nesting(body) > MAX_DEPTH:
        return Answer(400, f"the body nests deeper than {MAX_DEPTH} levels"), {}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return Answer(400, "the body is not valid JSON"), {}
    if not isinstance(payload, dict):
        return Answer(400, "the body is not a JSON object"), {}
    return None, payload


def wanted(event: str, payload: dict[str, Any], repos: tuple[Repo, ...]) -> bool:
    """Whether an authenticated event may change what staging holds (others answer 204).

    A push counts only on a configured repo's base branch: pushes to PR branches arrive as
    pull_request events, and kcistage's own force-pushes of the staging branch change nothing."""
    if event not in EVENTS:
        return False
    if event != "push":
        return True
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    ref = payload.get("ref")
    return any(isinstance(name, str) and name.lower() == repo.github.lower()
               and ref == f"refs/heads/{repo.base}" for repo in repos)


class Receiver:
    """Delivery handling with memory: duplicate ids answer 200, accepted ones leave a poke."""

    def __init__(self, secret: bytes | None, poke_dir: Path, repos: tuple[Repo, ...],
                 remembered: int = REMEMBERED) -> None:
        self.secret, self.poke_dir, self.repos = secret, Path(poke_dir), repos
        self.remembered = remembered
        self._seen: OrderedDict[str, None] = OrderedDict(
            (name, None) for name in pokes.delivered(self.poke_dir))  # survives a restart
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def receive(self, headers: Mapping[str, str], content_length: str | None,
                read: Callable[[int], bytes]) -> Answer:
        """Handle one POST /webhook; `headers` have lower-case names, `read(n)` reads the body."""
        answer = self._receive(headers, content_length, read)
        key = {202: "accepted", 200: "duplicate", 204: "ignored"}.get(answer.status, "refused")
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
        return answer

    def _receive(self, headers: Mapping[str, str], content_length: str | None,
                 read: Callable[[int], bytes]) -> Answer:
        if self.secret is None:
            return Answer(404, "no webhook secret is configured")
        refused = check_headers(headers, content_length)
        if refused is not None:
            return refused
        length = int(content_length or 0)
        body = read(length)
        if len(body) != length:
            return Answer(400, "the body is shorter than its Content-Length")
        refused, payload = check_body(self.secret, headers, body)
        if refused is not None:
            return refused
        delivery, event = headers["x-github-delivery"], headers["x-github-event"]
        if not self._first_time(delivery):
            return Answer(200, "duplicate")
        if not wanted(event, payload, self.repos):
            return Answer(204, "")
        try:
            pokes.write(self.poke_dir, delivery)
        except StateError as exc:
            with self._lock:  # not accepted: a redelivery must be able to try again
                self._seen.pop(delivery, None)
            return Answer(503, str(exc))
        return Answer(202, "accepted: the next tick polls GitHub")

    def _first_time(self, delivery: str) -> bool:
        """Remember a delivery id; False when it was seen before."""
        with self._lock:
            if delivery in self._seen:
                return False
            self._seen[delivery] = None
            while len(self._seen) > self.remembered:
                self._seen.popitem(last=False)
            return True
