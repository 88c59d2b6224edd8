"""`status` and `log`: read-only views of the state and history files (no GitHub request, no lock)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from kcistage.cli.main import Env


@click.command(short_help="What runs, what comes next and why, and every open PR.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object (its keys are described in docs/commands.md).")
@click.pass_obj
def status(env: Env, as_json: bool) -> int:
    """The running deployment, the pause, the next action and its reason, recent deployments
    and every open PR with its state and reason. Reads the state file and the history beside
    it only: no GitHub request, no lock."""
    from kcistage.app.status_document import RECENT, status_document
    from kcistage.cli.views import render_json, render_plain
    from kcistage.shell import statefile

    cfg = env.config()
    now = env.clock()()
    # the state holds what decisions read; of the history, the recent deployments shown
    state = statefile.load_full(cfg.state_file, now, warn=lambda line: click.echo(line, err=True),
                                newest=RECENT)
    doc = status_document(cfg, state, now)
    if as_json:
        click.echo(render_json(doc), nl=False)
    elif sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        from rich.console import Console

        from kcistage.cli.views import render_rich

        render_rich(doc, Console())
    else:
        click.echo(render_plain(doc), nl=False)
    return 0


@click.command(short_help="A deployment's step logs (the latest by default).")
@click.argument("deploy_id", required=False, type=int, metavar="[ID]")
@click.argument("step", required=False, metavar="[STEP]")
@click.pass_obj
def log(env: Env, deploy_id: int | None, step: str | None) -> int:
    """Show a deployment's step logs (the latest deployment by default).

    ID is a deployment's number (as `status` lists them); STEP shows only that step's log.
    """
    from kcistage.cli.views import render_log
    from kcistage.shell import statefile

    cfg = env.config()
    state = statefile.load_full(cfg.state_file, env.clock()(),
                                warn=lambda line: click.echo(line, err=True))
    if not state["deployments"] and deploy_id is None:
        click.echo(f"no deployment yet (state file {cfg.state_file}), so no step logs")
        return 0
    click.echo(render_log(cfg.workdir, state["deployments"], deploy_id, step), nl=False)
    return 0


COMMANDS = (status, log)
