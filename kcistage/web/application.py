"""The WSGI application of `kcistage serve`: webhook, status page, status.json, metrics, healthz.

It reads the state file and the history file beside it and never locks or writes them; the
parsed state is cached by both files' (mtime, size, inode), so a page costs two stat() calls
while nothing changes.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kcistage.app.status_document import render_json, status_document
from kcistage.core import paths
from kcistage.core.display import parse_time_lenient as parse
from kcistage.core.history import last_success
from kcistage.core.model import format_time
from kcistage.core.settings import Config
from kcistage.core.state import State
from kcistage.errors import KcistageError
from kcistage.shell import historyfile, statefile
from kcistage.web import deployment_page, metrics, page
from kcistage.web.webhook import Receiver

HEALTHY_POLL_AGE = timedelta(minutes=5)
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
_HTML = "text/html; charset=utf-8"
_COMMON = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
           ("Cache-Control", "no-store")]


@dataclass
class Snapshot:
    """The state file as last read: its parsed content, or why it could not be read."""

    key: tuple[int, ...] | None
    state: State | None
    mtime: datetime | None
    problem: str | None


class StateReader:
    """Reads the state and history files read-only, each again only when its (mtime, size,
    inode) changed: a tick marks the state file's mtime every minute, while the history file
    changes only when a deployment leaves the state."""

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path, self.clock = Path(path), clock
        self.history = paths.history_file(self.path)
        self._snapshot = Snapshot(None, None, None, "not read yet")
        self._past: tuple[tuple[int, ...], historyfile.History] | None = None
        self._lock = threading.Lock()

    def read(self) -> Snapshot:
        """The current snapshot (a missing or corrupt file gives one with `problem` set)."""
        try:
            info = self.path.stat()
        except OSError as exc:
            return Snapshot(None, None, None, f"{self.path}: cannot read: {exc.strerror}")
        try:
            past = self.history.stat()
            history_key: tuple[int, ...] = (past.st_mtime_ns, past.st_size, past.st_ino)
        except OSError:
            history_key = (0, 0, 0)  # none yet: the history starts with the first one to leave
        key = (info.st_mtime_ns, info.st_size, info.st_ino, *history_key)
        with self._lock:
            if self._snapshot.key == key:
                return self._snapshot
            cached = self._past[1] if self._past and self._past[0] == history_key else None
        mtime = datetime.fromtimestamp(info.st_mtime, UTC)
        try:
            state = statefile.load(self.path, self.clock(), readonly=True)
            history = cached if cached is not None else historyfile.read(self.history)
            if cached is None:
                for problem in history.problems:  # said once per change of the file
                    print(problem, file=sys.stderr, flush=True)
            snapshot = Snapshot(key, statefile.merged(state, history.records), mtime, None)
        except KcistageError as exc:
            snapshot, history = Snapshot(key, None, mtime, str(exc)), None
        with self._lock:
            self._snapshot = snapshot
            if history is not None:
                self._past = (history_key, history)
        return snapshot

    def rate(self) -> dict[str, Any] | None:
        """GitHub's rate-limit figures as the last tick saw them (None when unknown)."""
        return statefile.read_rate(self.path)


def last_poll(snapshot: Snapshot) -> datetime | None:
    """The later of the recorded poll time and the state file's mtime (a polling run touches it)."""
    observed = snapshot.state.get("observed") if snapshot.state else None
    times = [t for t in (parse(observed.get("at")) if observed else None, snapshot.mtime)
             if t is not None]
    return max(times) if times else None


class Application:
    """The WSGI callable."""

    def __init__(self, cfg: Config, clock: Callable[[], datetime], secret: bytes | None) -> None:
        self.cfg, self.clock = cfg, clock
        self.reader = StateReader(cfg.state_file, clock)
        self.receiver = Receiver(secret, cfg.serve.poke_dir, cfg.repos)
        self.counter = metrics.DeploymentCounter()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        body = self._route(environ, start_response)
        # HEAD: the same status and headers (Content-Length included), never a body
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else body

    def _route(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """The answer to one request, body included."""
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if path == "/webhook":
            if self.receiver.secret is None:  # no endpoint at all, whatever the method
                return _answer(start_response, 404, "no webhook secret is configured")
            if method != "POST":
                return _answer(start_response, 405, "POST only", [("Allow", "POST")])
            headers = {key[5:].replace("_", "-").lower(): value
                       for key, value in environ.items() if key.startswith("HTTP_")}
            headers["content-type"] = environ.get("CONTENT_TYPE", "")
            stream = environ["wsgi.input"]
            answer = self.receiver.receive(headers, environ.get("CONTENT_LENGTH") or None,
                                           stream.read)
            return _answer(start_response, answer.status, answer.text)
        routes = {"/": self.page, "/status.json": self.status_json, "/metrics": self.metrics,
                  "/healthz": self.healthz}
        handler = routes.get(path)
        if handler is None and path.startswith("/deployments/"):
            ident = deployment_page.deployment_id(path)
            handler = (lambda: self.deployment(ident)) if ident is not None else self.no_deployment
        if handler is None:
            return _answer(start_response, 404, "not found")
        if method not in ("GET", "HEAD"):
            return _answer(start_response, 405, "GET only", [("Allow", "GET, HEAD")])
        status, content_type, body, extra = handler()
        return _send(start_response, status, content_type, body, extra, len(body))

    def _document(self) -> tuple[Snapshot, dict[str, Any] | None]:
        snapshot = self.reader.read()
        if snapshot.state is None:
            return snapshot, None
        return snapshot, status_document(self.cfg, snapshot.state, self.clock())

    def page(self) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """GET /: the HTML status page (503 and a page saying why before the first tick)."""
        snapshot, doc = self._document()
        if doc is None or snapshot.state is None:
            html = (page.no_tick_yet() if not self.cfg.state_file.exists()
                    else page.unreadable(str(snapshot.problem)))
            return 503, _HTML, html.encode(), [("Content-Security-Policy", page.CSP)]
        html = page.render(doc, snapshot.state["deployments"])
        return 200, _HTML, html.encode(), [("Content-Security-Policy", page.CSP)]

    def deployment(self, ident: int) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """GET /deployments/<id>: one recorded deployment (404 when it is not recorded)."""
        snapshot = self.reader.read()
        if snapshot.state is None:
            html = page.unreadable(str(snapshot.problem))
            return 503, _HTML, html.encode(), [("Content-Security-Policy", page.CSP)]
        deployments = snapshot.state["deployments"]
        record = next((d for d in deployments if d.get("id") == ident), None)
        if record is None:
            return self.no_deployment(f"No deployment #{ident} is recorded.")
        repos = {r.name: r.github for r in self.cfg.repos}
        html = deployment_page.render(record, deployments, snapshot.state, repos,
                                      format_time(self.clock()))
        return 200, _HTML, html.encode(), [("Content-Security-Policy", page.CSP)]

    def no_deployment(self, text: str = "Not a deployment id."
                      ) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """404 for an unknown or malformed deployment id."""
        html = deployment_page.not_found(text)
        return 404, _HTML, html.encode(), [("Content-Security-Policy", page.CSP)]

    def status_json(self) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """GET /status.json: the `status --json` document."""
        snapshot, doc = self._document()
        if doc is None:
            body = json.dumps({"error": snapshot.problem}) + "\n"
            return 503, "application/json", body.encode(), []
        return 200, "application/json", render_json(doc).encode(), []

    def metrics(self) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """GET /metrics: Prometheus text format."""
        snapshot, doc = self._document()
        deployments = snapshot.state["deployments"] if snapshot.state else []
        counts = self.counter.update(deployments)
        good = last_success(deployments)
        text = metrics.render(doc or {}, counts, good, last_poll(snapshot), self.reader.rate(),
                              self.receiver.counts)
        text += ("# HELP kcistage_state_readable 1 while the state file can be read.\n"
                 "# TYPE kcistage_state_readable gauge\n"
                 f"kcistage_state_readable {1.0 if snapshot.state is not None else 0.0}\n")
        return 200, "text/plain; version=0.0.4; charset=utf-8", text.encode(), []

    def healthz(self) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """GET /healthz: 200 while the state is readable and the last poll is recent."""
        snapshot = self.reader.read()
        if snapshot.state is None:
            return 503, "text/plain; charset=utf-8", f"unhealthy: {snapshot.problem}\n".encode(), []
        polled = last_poll(snapshot)
        if polled is None:
            return 503, "text/plain; charset=utf-8", b"unhealthy: no poll recorded yet\n", []
        age = (self.clock() - polled).total_seconds()
        if age >= HEALTHY_POLL_AGE.total_seconds():
            body = f"unhealthy: last poll {age:.0f}s ago (limit {HEALTHY_POLL_AGE.seconds}s)\n"
            return 503, "text/plain; charset=utf-8", body.encode(), []
        return 200, "text/plain; charset=utf-8", f"ok: last poll {max(age, 0):.0f}s ago\n".encode(), []


_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
            401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Content Too Large", 415: "Unsupported Media Type", 503: "Service Unavailable"}


def _send(start_response: StartResponse, status: int, content_type: str, body: bytes,
          extra: list[tuple[str, str]], length: int) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(length)), *_COMMON, *extra]
    if status == 204:
        headers = [h for h in headers if h[0] not in ("Content-Type", "Content-Length")]
        body = b""
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return [body]


def _answer(start_response: StartResponse, status: int, text: str,
            extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = (text + "\n").encode() if text else b""
    return _send(start_response, status, "text/plain; charset=utf-8", body, extra or [], len(body))

