"""The sandbox's HTTP servers (GitHub stand-in, git over HTTP) listen on 127.0.0.1 like this."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Listen on a free 127.0.0.1 port in a daemon thread; the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def close(server: ThreadingHTTPServer | None) -> None:
    """Stop listening (nothing to do for None)."""
    if server is not None:
        server.shutdown()
        server.server_close()
