"""The probe step against a real loopback HTTP server that starts, answers, then crash-loops.

Time for the probe is the count of answers the server gave (one tenth of a second each), so the
verdict does not depend on how fast a busy machine answers; reads are 10 ms apart."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kcistage.core.settings import Probe, Step
from kcistage.shell.probe import run_probe

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TICK = timedelta(seconds=0.1)  # what one answer "takes" on the probe's clock


class Service:
    """Answers a script of statuses in order (0: close the connection unanswered); the last repeats."""

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.served = 0

    def next(self) -> int:
        status = self.script[min(self.served, len(self.script) - 1)]
        self.served += 1
        return status

    def clock(self) -> datetime:
        return T0 + self.served * TICK


@pytest.fixture
def service() -> Iterator[tuple[str, Service]]:
    svc = Service([200])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            status = svc.next()
            if status == 0:  # the container died mid-request
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/latest/", svc
    httpd.shutdown()
    httpd.server_close()


def probe_step(url: str, stable: float = 0.3, within: float = 2.0) -> Step:
    return Step(name="api-up", probe=Probe(url=url, expect=200, stable=timedelta(seconds=stable),
                                           interval=timedelta(seconds=0.01),
                                           within=timedelta(seconds=within)))


def never() -> str | None:
    return None


def test_a_service_that_starts_then_answers_steadily_passes(
        tmp_path: Path, service: tuple[str, Service]) -> None:
    url, svc = service
    svc.script = [503, 503, 0, 200]
    result, seen = run_probe(probe_step(url), tmp_path / "p.log", never, svc.clock)
    assert result == "ok" and svc.served == 7  # 3 while starting, then 200 held for 0.3 s
    assert seen.summary == f"{url} answered 200 steadily for 0.3s (after 0.4s)"
    log = (tmp_path / "p.log").read_text()
    assert "HTTP 503" in log and "HTTP 200" in log


def test_a_service_that_answers_then_crash_loops_fails_naming_the_last_answer(
        tmp_path: Path, service: tuple[str, Service]) -> None:
    url, svc = service
    svc.script = [503, 200, 200, 200, 502, 200, 200, 0, 200, 502]  # up, then up and down
    result, seen = run_probe(probe_step(url), tmp_path / "p.log", never, svc.clock)
    assert result == "failed" and svc.served == 20  # 2 s on its clock: 20 answers
    assert seen.summary == (f"{url} did not answer 200 steadily for 0.3s within 2s: "
                            "last answer HTTP 502")


def test_a_service_that_never_listens_fails_naming_the_connection_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    now = [T0]

    def clock() -> datetime:
        now[0] += TICK / 2  # two reads of the clock per answer
        return now[0]

    result, seen = run_probe(probe_step(f"http://127.0.0.1:{port}/", within=1.0),
                             tmp_path / "p.log", never, clock)
    assert result == "failed" and "last answer" in seen.summary
    assert "refused" in seen.summary.split("last answer ")[1]


def test_a_probe_is_interrupted_by_check(tmp_path: Path, service: tuple[str, Service]) -> None:
    url, svc = service
    svc.script = [503]
    calls: list[int] = []

    def check() -> str | None:
        calls.append(1)
        return "stopped by SIGTERM" if svc.served >= 2 else None

    result, seen = run_probe(probe_step(url, within=60), tmp_path / "p.log", check, svc.clock)
    assert result == "interrupted" and seen.summary == "interrupted: stopped by SIGTERM"
