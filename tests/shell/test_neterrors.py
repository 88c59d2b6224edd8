"""neterrors.describe: real failures on loopback named as DNS, refused, TLS or timeout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError

from kcistage.shell.neterrors import describe


def failure(url: str, timeout: float = 2.0) -> BaseException:
    try:
        requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return exc
    raise AssertionError(f"{url} answered")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused() -> None:
    assert describe(failure(f"http://127.0.0.1:{free_port()}/")) == "connection refused"


def test_timeout(silent_port: int) -> None:
    assert describe(failure(f"http://127.0.0.1:{silent_port}/", timeout=0.2)) == "timed out"


def test_tls_to_a_plain_port() -> None:
    server = socket.create_server(("127.0.0.1", 0))

    def answer_plain() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    threading.Thread(target=answer_plain, daemon=True).start()
    try:
        text = describe(failure(f"https://127.0.0.1:{server.getsockname()[1]}/"))
    finally:
        server.close()
    assert text.startswith("TLS error"), text


def test_dns() -> None:
    # As requests raises it when the resolver fails (no network lookup in tests).
    gai = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    inner = NameResolutionError("api.github.example", None, gai)  # type: ignore[arg-type]
    exc = requests.exceptions.ConnectionError(MaxRetryError(None, "/", inner))  # type: ignore[arg-type]
    assert describe(exc) == "DNS lookup failed (name not resolved)"


def test_other_errors_keep_their_name() -> None:
    assert describe(requests.exceptions.ChunkedEncodingError("x")) == "ChunkedEncodingError"


def test_github_client_names_the_cause() -> None:
    from kcistage.core.settings import GitHubSettings, Repo
    from kcistage.errors import ServiceError
    from kcistage.shell.clock import Clock
    from kcistage.shell.github import GitHub

    url = f"http://127.0.0.1:{free_port()}"
    gh = GitHub(GitHubSettings(api_url=url), "t0ken", {}, Clock(), pace=0, retries=1, backoff=0.01,
                timeout=1.0)
    with pytest.raises(ServiceError) as caught:
        gh.permission(Repo(name="api", github="kernelci/kernelci-api"), "alice")
    message = str(caught.value)
    assert message.startswith("GitHub unreachable (connection refused): ") and url in message
    assert "t0ken" not in message
