"""`demo`: a scripted stretch of activity on an offline sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from kcistage.cli.main import Env


@click.command(short_help="A scripted stretch of activity on an offline sandbox.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the sandbox in this folder instead of a temporary one.")
@click.pass_obj
def demo(env: Env, keep: Path | None) -> int:
    """Run a scripted stretch of activity on an offline sandbox and print what happened."""
    from kcistage.sandbox.demo import run_demo

    return run_demo(keep=keep, verbose=env.verbose)


COMMANDS = (demo,)
