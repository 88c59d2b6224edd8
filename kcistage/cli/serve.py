"""`serve`: the web service (webhook receiver, status page, status.json, metrics, healthz)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from kcistage.cli.main import Env


@click.command(short_help="The web service: webhooks, status page, metrics.")
@click.option("--listen", metavar="HOST:PORT", default=None,
              help="Address to listen on (default: serve.listen in the config, 127.0.0.1:8080).")
@click.pass_obj
def serve(env: Env, listen: str | None) -> int:
    """Run the web service: GitHub webhook receiver, status page, status.json, metrics, healthz."""
    from kcistage.web.server import serve as run_server

    return run_server(env.config(), env.clock(), listen, click.echo)


COMMANDS = (serve,)
