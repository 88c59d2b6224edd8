"""The `kcistage` command line: options, commands, and errors turned into exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from kcistage import __version__
from kcistage.errors import KcistageError


class Env:
    """What the global options said."""

    def __init__(self, config: str, now: str | None, verbose: bool) -> None:
        self.config_path = Path(config)
        self.now_text = now
        self.verbose = verbose

    def clock(self) -> Callable[[], Any]:
        """The tool's clock: --now/KCISTAGE_NOW as a start, else the real clock."""
        from kcistage.core.model import parse_time
        from kcistage.shell.clock import Clock

        if not self.now_text:
            return Clock()
        try:
            return Clock(parse_time(self.now_text))
        except ValueError:
            raise click.BadParameter(f"not an ISO-8601 time: {self.now_text!r}", param_hint="--now")

    def config(self):
        """The loaded, validated configuration."""
        from kcistage.shell.config import load_config

        return load_config(self.config_path)


def _guard(run: Callable[[], int]) -> None:
    """Run a command; a KcistageError becomes a one-line message and its exit code."""
    try:
        code = run()
    except KcistageError as exc:
        click.echo(f"kcistage: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", envvar="KCISTAGE_CONFIG", default="config.yaml",
              show_default=True, metavar="PATH",
              help="Configuration file (default: $KCISTAGE_CONFIG, else ./config.yaml).")
@click.option("--now", envvar="KCISTAGE_NOW", metavar="ISO-8601",
              help="Start the tool's clock at this time (default: $KCISTAGE_NOW, else real time).")
@click.option("-v", "--verbose", is_flag=True, help="Print details of every decision and step.")
@click.version_option(__version__, prog_name="kcistage")
@click.pass_context
def main(ctx: click.Context, config: str, now: str | None, verbose: bool) -> None:
    """Keep a staging deployment up to date with the open pull requests of trusted people.

    Exit status: 0 done (also nothing to do or waiting), 1 the deployment this run made failed,
    2 usage, configuration or state-file error, 3 GitHub or another service unreachable or
    rate-limited, 75 another kcistage run holds the lock.
    """
    ctx.obj = Env(config, now, verbose)


def _output(env: Env, progress: bool) -> Any:
    """Plain lines for the journal; a deploy by hand shows every step, in colour on a terminal."""
    from kcistage.app.context import Output

    if progress and sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        from rich.console import Console

        console = Console()
        return Output(write=lambda text: console.log(text, markup=False, highlight=False),
                      verbose=True)
    return Output(write=click.echo, verbose=env.verbose or progress)


def _run_engine(env: Env, dry_run: bool, action: Callable[[Any], int],
                progress: bool = False) -> None:
    """Load config and state, take the lock (not in a dry run), run the engine, save."""

    def run() -> int:
        from kcistage.app.engine import run as run_engine

        cfg = env.config()
        return run_engine(cfg, env.clock(), action, dry_run=dry_run, out=_output(env, progress))

    _guard(run)


@main.command()
@click.option("--dry-run", is_flag=True,
              help="Print the decision and the composition; write nothing, run nothing.")
@click.pass_obj
def tick(env: Env, dry_run: bool) -> None:
    """One poll -> decide -> (deploy) cycle; what the systemd timer runs every minute."""
    from kcistage.app.engine import tick as run_tick

    _run_engine(env, dry_run, run_tick)


@main.command()
@click.option("--full", is_flag=True, help="A full cycle (with the test kernel), not a partial one.")
@click.option("--dry-run", is_flag=True,
              help="Print the decision and the composition; write nothing, run nothing.")
@click.pass_obj
def deploy(env: Env, full: bool, dry_run: bool) -> None:
    """Deploy now, by hand: partial unless --full; ignores settle, throttle and the interval."""
    from kcistage.app.engine import deploy_now

    _run_engine(env, dry_run, lambda ctx: deploy_now(ctx, full), progress=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object (see SPEC section 2).")
@click.pass_obj
def status(env: Env, as_json: bool) -> None:
    """Running deployment, next action, recent deployments and every open PR; no GitHub request."""

    def run() -> int:
        from kcistage.app.status_document import status_document
        from kcistage.cli.views import render_json, render_plain
        from kcistage.shell import statefile

        cfg = env.config()
        now = env.clock()()
        doc = status_document(cfg, statefile.load(cfg.state_file, now, readonly=True), now)
        if as_json:
            click.echo(render_json(doc), nl=False)
        elif sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
            from rich.console import Console

            from kcistage.cli.views import render_rich

            render_rich(doc, Console())
        else:
            click.echo(render_plain(doc), nl=False)
        return 0

    _guard(run)


@main.command()
@click.argument("deploy_id", required=False, type=int, metavar="[ID]")
@click.argument("step", required=False, metavar="[STEP]")
@click.pass_obj
def log(env: Env, deploy_id: int | None, step: str | None) -> None:
    """Show a deployment's step logs (the latest deployment by default)."""

    def run() -> int:
        from kcistage.cli.views import render_log
        from kcistage.shell import statefile

        cfg = env.config()
        state = statefile.load(cfg.state_file, env.clock()(), readonly=True)
        click.echo(render_log(cfg.workdir, state["deployments"], deploy_id, step), nl=False)
        return 0

    _guard(run)


@main.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the sandbox in this folder instead of a temporary one.")
@click.pass_obj
def demo(env: Env, keep: Path | None) -> None:
    """Run a scripted stretch of activity on an offline sandbox and print what happened."""
    from kcistage.sandbox.demo import run_demo

    _guard(lambda: run_demo(keep=keep, verbose=env.verbose))


if __name__ == "__main__":  # pragma: no cover
    main()
