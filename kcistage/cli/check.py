"""`check`: a doctor for a server setup, one line per checked part (no lock, no writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

import click

from kcistage.errors import KcistageError

if TYPE_CHECKING:
    from kcistage.cli.main import Env

_MARK = {True: "ok  ", False: "FAIL", None: "--  "}


@click.command()
@click.pass_obj
def check(env: Env) -> int:
    """Check a server setup: one line per part, nothing written.

    Config, state and folders, the credential and who it is, each repository readable (GitHub
    and git) and its staging branch pushable (git push --dry-run), each step's program, drain and
    probe URLs. Exit 0 when all pass, 3 when only a service is unreachable, else 2.
    """
    from kcistage.app.check import Finding, exit_status, run_checks

    findings: list[Finding] = []

    def show(finding: Finding) -> None:
        findings.append(finding)
        click.echo(f"{_MARK[finding.ok]} {finding.name}: {finding.detail}")

    try:
        cfg = env.config()
    except KcistageError as exc:
        show(Finding("config", False, str(exc)))
        return 2
    local = urlparse(cfg.github.api_url).hostname in ("127.0.0.1", "localhost", "::1")
    for finding in run_checks(cfg, env.clock(), local=local):
        show(finding)
    code = exit_status(findings)
    broken = sum(1 for f in findings if f.ok is False)
    click.echo(f"{len(findings)} checks, {broken} failed" if broken
               else f"{len(findings)} checks passed")
    return code


COMMANDS = (check,)
