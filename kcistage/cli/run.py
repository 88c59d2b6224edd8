"""`tick` and `deploy`: the commands that poll GitHub, decide and deploy."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kcistage.app.context import Context, Output
    from kcistage.cli.main import Env


def _output(env: Env, progress: bool) -> Output:
    """Plain lines for the journal; a deploy by hand shows every step, in colour on a terminal."""
    from kcistage.app.context import Output

    if progress and sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        from rich.console import Console

        console = Console()
        return Output(write=lambda text: console.log(text, markup=False, highlight=False),
                      verbose=True)
    return Output(write=click.echo, verbose=env.verbose or progress)


def _engine() -> ModuleType:
    """kcistage.app.engine (and PyGithub, requests, the core): imported the first time with the
    garbage collector paused, their objects then frozen out of its later passes. They live as
    long as the process, and walking them again at each pass that loading the state and
    answering the poll set off cost an idle tick about 5% of its CPU."""
    if "kcistage.app.engine" in sys.modules:
        from kcistage.app import engine

        return engine
    enabled = gc.isenabled()
    gc.disable()
    try:
        from kcistage.app import engine
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return engine


def _run_engine(env: Env, dry_run: bool, action: Callable[[Context], int],
                progress: bool = False) -> int:
    """Load config and state, take the lock (not in a dry run), run the engine, save."""
    cfg = env.config()
    return int(_engine().run(cfg, env.clock(), action, dry_run=dry_run, out=_output(env, progress)))


@click.command(short_help="One poll, decision and maybe deployment (what the timer runs).")
@click.option("--dry-run", is_flag=True,
              help="Print the decision and the composition; write nothing, run nothing.")
@click.pass_obj
def tick(env: Env, dry_run: bool) -> int:
    """One poll -> decide -> (deploy) cycle; what the systemd timer runs every minute."""
    engine = _engine()
    return _run_engine(env, dry_run, engine.tick)


@click.command(short_help="A cycle now, by hand: partial unless --full.")
@click.option("--full", is_flag=True, help="A full cycle (with the test kernel), not a partial one.")
@click.option("--dry-run", is_flag=True,
              help="Print the decision and the composition; write nothing, run nothing.")
@click.pass_obj
def deploy(env: Env, full: bool, dry_run: bool) -> int:
    """Deploy now, by hand: partial unless --full.

    Ignores settle, throttle, the full interval and a pause. Waits for nothing: while another
    run holds the lock, or a deployment runs or waits, it refuses (exit 75) naming it.
    """
    engine = _engine()

    def action(ctx: Any) -> int:
        return int(engine.deploy_now(ctx, full))

    return _run_engine(env, dry_run, action, progress=True)


COMMANDS = (tick, deploy)
