"""The `kcistage` command group: global options, the command modules, errors turned into exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from kcistage.cli import check, controls, demo, run, serve, status
from kcistage.core import paths
from kcistage.errors import exit_code_of, one_line

if TYPE_CHECKING:
    from kcistage.core.settings import Config

# Each command module lists its click commands in COMMANDS; a new family is one more entry here.
COMMAND_MODULES = (run, status, controls, check, demo, serve)


class Env:
    """What the global options said."""

    def __init__(self, config: str | None, now: str | None, verbose: bool) -> None:
        self.config_path, self.config_source = paths.config_path(
            config, os.environ, paths.LOCAL_CONFIG.is_file())
        self.now_text = now
        self.verbose = verbose
        if now:
            self.clock()  # a bad --now is a usage error before anything else is read

    def clock(self) -> Callable[[], Any]:
        """The tool's clock: --now/KCISTAGE_NOW as a start, else the real clock."""
        from kcistage.core.model import parse_time
        from kcistage.shell.clock import Clock

        if not self.now_text:
            return Clock()
        try:
            return Clock(parse_time(self.now_text))
        except ValueError:
            raise click.BadParameter(f"not an ISO-8601 time: {self.now_text!r}", param_hint="--now") from None

    def config(self) -> Config:
        """The loaded, validated configuration (a missing file says how it was chosen)."""
        from kcistage.errors import ConfigError
        from kcistage.shell.config import load_config

        if not self.config_path.exists():
            tried = self.config_path.absolute()
            how = {"--config": "given with --config",
                   f"${paths.CONFIG_ENV}": f"from ${paths.CONFIG_ENV}"}.get(self.config_source)
            if how is None:  # the default: nothing was given and ./config.yaml does not exist
                raise ConfigError(f"{tried}: no such file (the default when neither --config "
                                  f"nor ${paths.CONFIG_ENV} is given and there is no "
                                  "./config.yaml)")
            raise ConfigError(f"{tried}: no such file ({how}; without it kcistage reads "
                              f"./config.yaml when it exists, else {paths.DEFAULT_CONFIG})")
        return load_config(self.config_path)


class _Kcistage(click.Group):
    """The one place where a command's exit status is set and a KcistageError is reported."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; its return value is the exit status. Any error ends the run with one
        line and its exit status (errors.exit_code_of); the traceback only with -v."""
        try:
            code = super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click's own: usage errors (exit 2), --help, --version
        except BrokenPipeError:
            # the reader went away (`kcistage status | head -1`): its choice, not an error; the
            # rest of the output (and Python's flush at exit) goes nowhere, silently
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except Exception as exc:
            if isinstance(ctx.obj, Env) and ctx.obj.verbose:
                traceback.print_exception(exc, file=sys.stderr)
            click.echo(f"kcistage: {one_line(exc)}", err=True)
            ctx.exit(exit_code_of(exc))
        ctx.exit(code or 0)


@click.group(cls=_Kcistage, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH",
              help=f"Configuration file (default: ${paths.CONFIG_ENV}, else ./config.yaml when it "
                   f"exists, else {paths.DEFAULT_CONFIG}).")
@click.option("--now", envvar="KCISTAGE_NOW", metavar="ISO-8601",
              help="Start the tool's clock at this time (default: $KCISTAGE_NOW, else real time).")
@click.option("-v", "--verbose", is_flag=True, help="Print details of every decision and step.")
@click.version_option(package_name="kcistage", prog_name="kcistage")  # read only for --version
@click.pass_context
def main(ctx: click.Context, config: str | None, now: str | None, verbose: bool) -> None:
    """Keep a staging deployment up to date with the open pull requests of trusted people.

    Exit status: 0 done (also nothing to do or waiting), 1 the deployment this run made failed,
    2 usage, configuration or state-file error, 3 GitHub or another service unreachable or
    rate-limited, 75 another kcistage run holds the lock.
    """
    ctx.obj = Env(config, now, verbose)


for _module in COMMAND_MODULES:
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
