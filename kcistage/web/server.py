"""`kcistage serve`: the WSGI application behind waitress, a production-grade pure-Python server."""

from __future__ import annotations

import resource
from collections.abc import Callable
from datetime import datetime
from typing import Any

import waitress
from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer

from kcistage.core.settings import Config, split_listen
from kcistage.errors import ConfigError, ServiceError
from kcistage.shell.config import read_secret
from kcistage.web.application import Application
from kcistage.web.webhook import MAX_BODY

THREADS = 8
# Facing the internet (behind a proxy, or not): idle and slow connections cost a socket each
# and no thread (waitress reads a request whole before a thread sees it), so the limit is high
# and poll() is used (select() cannot watch descriptors past 1024); a connection silent for
# CHANNEL_TIMEOUT is closed, checked every CLEANUP_INTERVAL.
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT = 30
CLEANUP_INTERVAL = 5
MAX_HEADER_BYTES = 32 * 1024  # GitHub's deliveries and browsers send a few KiB at most


def make_server(cfg: Config, clock: Callable[[], datetime], listen: str | None = None
                ) -> tuple[BaseWSGIServer | MultiSocketServer, Application]:
    """A bound (not yet running) server and its application; `listen` overrides serve.listen."""
    text = listen or cfg.serve.listen
    try:
        host, port = split_listen(text)
    except ValueError as exc:
        raise ConfigError(f"{'--listen' if listen else 'serve.listen'}: {exc}") from None
    app = Application(cfg, clock, read_secret(cfg))
    room_for_connections(CONNECTION_LIMIT)
    options: dict[str, Any] = {
        "host": host, "port": port, "threads": THREADS, "ident": "kcistage",
        # waitress refuses bigger bodies itself (413) before the application reads a byte; it
        # refuses a body of max_request_body_size bytes or more, so exactly MAX_BODY passes
        "max_request_body_size": MAX_BODY + 1, "max_request_header_size": MAX_HEADER_BYTES,
        "channel_timeout": CHANNEL_TIMEOUT, "cleanup_interval": CLEANUP_INTERVAL,
        "connection_limit": CONNECTION_LIMIT, "asyncore_use_poll": True,
        "clear_untrusted_proxy_headers": True,
    }
    try:
        server = waitress.create_server(app, **options)
    except OSError as exc:
        raise ServiceError(f"cannot listen on {text}: {exc.strerror or exc}") from None
    return server, app


def room_for_connections(connections: int) -> None:
    """Raise the soft limit of open files so `connections` sockets fit (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 64  # the state file, pokes, logs, the listening sockets
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def stop(server: BaseWSGIServer | MultiSocketServer) -> None:
    """Stop a server running in another thread: its loop closes every socket and returns."""
    try:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    except OSError:  # its wake-up pipe is closed already (the loop has ended): close from here
        wasyncore.close_all(server._map, ignore_all=True)
    server.task_dispatcher.shutdown(timeout=5)


def address(server: BaseWSGIServer | MultiSocketServer) -> str:
    """`http://host:port/` of a bound server (the real port when 0 was asked)."""
    host = getattr(server, "effective_host", "127.0.0.1")
    port = getattr(server, "effective_port", 0)
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}:{port}/"


def serve(cfg: Config, clock: Callable[[], datetime], listen: str | None,
          say: Callable[[str], None]) -> int:
    """Run until stopped (SIGTERM/SIGINT); returns the exit status."""
    server, app = make_server(cfg, clock, listen)
    webhook = "on" if app.receiver.secret is not None else "off (no serve.webhook_secret_file)"
    say(f"kcistage serve: listening on {address(server)} (webhook {webhook}; pokes in "
        f"{cfg.serve.poke_dir}; state {cfg.state_file})")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
