"""shell/stopping.py with a real SIGTERM to this process: a wait on a slow HTTP server on
127.0.0.1 ends at once with Stopped; outside a wait the request is only remembered."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from kcistage.shell import stopping
from kcistage.shell.kernelci import KernelCIClient

SLOW = 10.0  # seconds the server takes to answer


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.arrived.set()  # type: ignore[attr-defined]
        self.server.release.wait(SLOW)  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):  # the client is long gone
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.arrived = threading.Event()  # type: ignore[attr-defined]
    server.release = threading.Event()  # type: ignore[attr-defined]
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture
def on_sigterm() -> Iterator[None]:
    """The run's handler, as engine.run installs it."""
    stopping.reset()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.request("stopped by SIGTERM"))
    yield
    signal.signal(signal.SIGTERM, previous)
    stopping.reset()


def term_when(event: threading.Event) -> None:
    """SIGTERM to the main thread once `event` is set (the request reached the server).

    To the main thread, where the wait is: kcistage has no other thread, but a pytest -n worker
    does, and one of them could take a signal sent to the process without interrupting the wait."""
    main = threading.main_thread().ident
    assert main is not None

    def send() -> None:
        if event.wait(10):
            signal.pthread_kill(main, signal.SIGTERM)
    threading.Thread(target=send, daemon=True).start()


def test_sigterm_cuts_a_slow_http_wait_at_once(slow_server, on_sigterm) -> None:
    url = f"http://127.0.0.1:{slow_server.server_address[1]}/"
    term_when(slow_server.arrived)
    started = time.monotonic()
    with pytest.raises(stopping.Stopped, match="stopped by SIGTERM"), stopping.cut_short():
        requests.get(url, timeout=30)
    assert time.monotonic() - started < 2.0  # not the server's 10 s
    # no wait starts after it
    with pytest.raises(stopping.Stopped):
        stopping.sleep(5)


def test_the_kernelci_client_is_cut_short_too(slow_server, on_sigterm) -> None:
    url = f"http://127.0.0.1:{slow_server.server_address[1]}"
    term_when(slow_server.arrived)
    client = KernelCIClient(url, url)
    started = time.monotonic()
    with pytest.raises(stopping.Stopped):
        client._request("GET", url + "/latest/nodes", "the nodes")
    assert time.monotonic() - started < 2.0


def test_outside_a_wait_sigterm_is_only_remembered(on_sigterm) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 5
    while stopping.reason() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the handler runs between bytecodes of this thread
    assert stopping.reason() == "stopped by SIGTERM"
    with pytest.raises(stopping.Stopped), stopping.cut_short():
        pytest.fail("a wait entered after the stop request")


def test_held_delays_sigterm_until_the_record_is_made(on_sigterm) -> None:
    with stopping.held():
        # to this thread: a signal sent to the process may be taken by another of its threads
        # that does not block it (a pytest -n worker has a few), and not be pending here
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        assert signal.SIGTERM in signal.sigpending()  # held back, not delivered
        assert stopping.reason() is None
    deadline = time.monotonic() + 5
    while stopping.reason() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stopping.reason() == "stopped by SIGTERM"
