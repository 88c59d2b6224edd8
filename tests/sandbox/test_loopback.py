"""The sandbox's loopback HTTP servers: quiet when a client leaves, loud on a real error."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from kcistage.sandbox import loopback


@pytest.mark.parametrize(("error", "shown"), [
    (BrokenPipeError(32, "Broken pipe"), False),
    (ConnectionResetError(104, "Connection reset by peer"), False),
    (ValueError("a bug in the stand-in"), True),
])
def test_a_client_that_left_is_no_traceback_and_a_bug_is_one(
        capfd: pytest.CaptureFixture[str], error: Exception, shown: bool) -> None:
    server, _ = loopback.serve(BaseHTTPRequestHandler)
    try:
        try:
            raise error
        except Exception:  # handle_error runs inside the handler's except, as socketserver does
            server.handle_error(None, ("127.0.0.1", 40000))
        err = capfd.readouterr().err
        assert ("Traceback" in err and str(error) in err) is shown, err
    finally:
        loopback.close(server)
