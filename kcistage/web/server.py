"""`kcistage serve`: the WSGI application behind waitress, a production-grade pure-Python server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import waitress
from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer

from kcistage.core.settings import Config, split_listen
from kcistage.errors import ConfigError, ServiceError
from kcistage.web.application import Application, read_secret
from kcistage.web.webhook import MAX_BODY

THREADS = 8


def make_server(cfg: Config, clock: Callable[[], datetime], listen: str | None = None
                ) -> tuple[BaseWSGIServer | MultiSocketServer, Application]:
    """A bound (not yet running) server and its application; `listen` overrides serve.listen."""
    text = listen or cfg.serve.listen
    try:
        host, port = split_listen(text)
    except ValueError as exc:
        raise ConfigError(f"{'--listen' if listen else 'serve.listen'}: {exc}") from None
    app = Application(cfg, clock, read_secret(cfg))
    options: dict[str, Any] = {
        "host": host, "port": port, "threads": THREADS, "ident": "kcistage",
        # waitress refuses bigger bodies itself (413) before the application reads a byte
        "max_request_body_size": MAX_BODY, "channel_timeout": 30, "connection_limit": 200,
        "clear_untrusted_proxy_headers": True,
    }
    try:
        server = waitress.create_server(app, **options)
    except OSError as exc:
        raise ServiceError(f"cannot listen on {text}: {exc.strerror or exc}") from None
    return server, app


def stop(server: BaseWSGIServer | MultiSocketServer) -> None:
    """Stop a server running in another thread: its loop closes every socket and returns."""
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
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
