"""`serve` facing the internet: body size to the byte, nesting, HEAD framing, waitress limits,
and /healthz answering while hundreds of idle and slow connections are open."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcistage.shell.clock import Clock
from kcistage.web import server as web_server
from kcistage.web.webhook import MAX_BODY, MAX_DEPTH, nesting
from tests.web.conftest import NOW, Site, sign, start_site, write_site

ROUTES = ("/", "/status.json", "/metrics", "/healthz", "/webhook", "/no-such-page",
          "/deployments/2", "/deployments/999")


def body_of_size(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    body = json.dumps({"action": "opened", "padding": ""}).encode()
    return body[:-2] + b"x" * (size - len(body)) + b'"}'


def test_a_body_of_exactly_one_mib_is_accepted_one_byte_more_is_413(site: Site) -> None:
    body = body_of_size(MAX_BODY)
    assert len(body) == MAX_BODY
    assert site.deliver("ping", body, "exactly-1mib") == (202, b"accepted: the next tick polls GitHub\n")
    bigger = body_of_size(MAX_BODY + 1)
    head = (f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: ping\r\nX-GitHub-Delivery: one-more\r\n"
            f"X-Hub-Signature-256: {sign(bigger)}\r\nContent-Length: {len(bigger)}\r\n\r\n")
    with socket.create_connection((site.host, site.port), timeout=5) as conn:
        conn.sendall(head.encode())  # refused on its headers: the body is never waited for
        assert conn.recv(4096).startswith(b"HTTP/1.1 413 ")
    assert site.pokes() == ["exactly-1mib"]


def test_a_signed_body_nesting_100k_arrays_is_400_not_a_server_error(site: Site) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert site.deliver("ping", deep, "deep") == (400, f"the body nests deeper than {MAX_DEPTH} "
                                                       "levels\n".encode())
    # a deep one inside a JSON object, and one that never closes
    assert site.deliver("ping", b'{"a":' + b"{\"b\":" * 20_000 + b"1" + b"}" * 20_001,
                        "deep-objects")[0] == 400
    assert site.deliver("ping", b"[" * 100_000, "unclosed")[0] == 400
    # as deep as allowed is fine
    ok = b'{"a":' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert site.deliver("ping", ok, "deep-enough")[0] == 202
    assert site.pokes() == ["deep-enough"]


@given(st.recursive(st.none() | st.integers() | st.text(alphabet="[]{}\"\\ab"),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(alphabet="[]{}\"\\"), inner, max_size=3)))
def test_nesting_is_the_depth_of_the_parsed_value(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0

    assert nesting(json.dumps(value).encode()) == depth(value)


def raw_exchange(site: Site, *requests: str) -> bytes:
    """Send requests on one connection (the last closes it); every byte the server sent."""
    with socket.create_connection((site.host, site.port), timeout=10) as conn:
        for i, line in enumerate(requests):
            close = "Connection: close\r\n" if i == len(requests) - 1 else ""
            conn.sendall(f"{line} HTTP/1.1\r\nHost: x\r\n{close}\r\n".encode())
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("path", ROUTES)
def test_head_answers_carry_no_body_and_keep_the_connection_framed(site: Site, path: str) -> None:
    got = raw_exchange(site, f"GET {path}")
    get_head, get_body = got.split(b"\r\n\r\n", 1)
    answer = raw_exchange(site, f"HEAD {path}", "GET /healthz")
    head, after = answer.split(b"\r\n\r\n", 1)
    assert head.split(b"\r\n")[0] == get_head.split(b"\r\n")[0]  # the same status
    if b" 204 " not in head.split(b"\r\n")[0]:
        assert f"Content-Length: {len(get_body)}".encode() in head.split(b"\r\n")
    # the next answer starts right after the HEAD answer's headers: no body in between
    assert after.startswith(b"HTTP/1.1 200 OK\r\n"), after[:60]


def test_waitress_is_configured_for_the_open_internet(tmp_path: Path) -> None:
    server, _ = web_server.make_server(write_site(tmp_path / "site"), Clock(NOW))
    try:
        adj = server.adj
        assert adj.max_request_body_size == MAX_BODY + 1  # waitress refuses this size or more
        assert adj.max_request_header_size <= 64 * 1024
        assert adj.connection_limit >= 500 and adj.asyncore_use_poll  # select() stops at 1024
        assert adj.channel_timeout <= 60 and adj.cleanup_interval <= adj.channel_timeout
        assert adj.clear_untrusted_proxy_headers
    finally:
        server.close()


def test_a_request_header_larger_than_the_limit_is_refused(site: Site) -> None:
    status, _, _ = site.request("GET", "/healthz",
                                headers={"X-Filler": "y" * (web_server.MAX_HEADER_BYTES + 10)})
    assert status == 431


IDLE, SLOW = 250, 200


def test_healthz_answers_within_a_second_under_idle_and_slow_connections(tmp_path: Path) -> None:
    """250 connections that send nothing and 200 that send a request one byte a second."""
    running, server, thread = start_site(write_site(tmp_path / "site"))
    sockets: list[socket.socket] = []
    done = threading.Event()
    try:
        for _ in range(IDLE):
            sockets.append(socket.create_connection((running.host, running.port), timeout=5))
        slow = [socket.create_connection((running.host, running.port), timeout=5)
                for _ in range(SLOW)]
        sockets += slow
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 100

        def drip() -> None:
            for i in range(len(request)):
                for conn in slow:
                    conn.send(request[i:i + 1])
                if done.wait(1.0):  # the load's shape: one byte a second on each
                    return

        dripping = threading.Thread(target=drip, daemon=True)
        dripping.start()
        latencies = []
        deadline = time.monotonic() + 3.0  # the load lasts 3 s; healthz asked all along
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, _, _ = running.request("GET", "/healthz")
            latencies.append(time.monotonic() - started)
            assert status == 200
        assert len(latencies) >= 3 and max(latencies) < 1.0, latencies
        assert dripping.is_alive()  # the slow clients were still sending throughout
    finally:
        done.set()
        for conn in sockets:
            conn.close()
        web_server.stop(server)
        thread.join(5)


def test_a_signature_over_the_deep_body_is_checked_first(site: Site) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    status, _ = site.deliver("ping", deep, "deep-unsigned", signature=sign(b"other"))
    assert status == 401  # an unsigned sender learns nothing about what would be parsed


def test_stop_ends_a_server_whose_wake_up_pipe_is_already_closed(tmp_path: Path) -> None:
    # seen once under load: the pipe that wakes waitress's loop was closed before stop() wrote to it
    running, server, thread = start_site(write_site(tmp_path, secret=None))
    assert running.request("GET", "/healthz")[0] in (200, 503)
    server.trigger.close()
    web_server.stop(server)  # before: OSError (Bad file descriptor)
    thread.join(10)
    assert not thread.is_alive()
