"""`pause`, `resume`, `exclude`, `include`: operator controls that work while a deployment runs.

They change the controls file beside the state file under its own short lock (never the run
lock), and take effect at the next decision.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kcistage.cli.main import Env


def operator() -> str:
    """Who is acting: the person behind sudo, else the user."""
    for name in ("SUDO_USER", "USER", "LOGNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _change(env: Env, change: Callable[[Any, str, str], Any]) -> Any:
    """Apply `change(doc, by, at)` to the controls file of the configured state file."""
    from kcistage.core.model import format_time
    from kcistage.shell import controls as store

    cfg = env.config()
    at = format_time(env.clock()())
    by = operator()
    return cfg, store.update(cfg.state_file, lambda doc: change(doc, by, at))


def _ref(env: Env, text: str) -> str:
    """`<repo>#<n>` or `<owner>/<name>#<n>` checked against the configured repos, as
    `<repo>#<n>` (a usage error names the argument and hints at the form)."""
    from kcistage.core.controls import ControlsProblem, parse_ref

    cfg = env.config()
    repos = tuple(r.name for r in cfg.repos)
    try:
        repo, number = parse_ref(text, repos, {r.github: r.name for r in cfg.repos})
    except ControlsProblem as exc:
        raise click.BadParameter(str(exc), param_hint="<repo>#<n>") from None
    return f"{repo}#{number}"


def _open_prs(env: Env) -> dict[str, Any] | None:
    """The PR records of the last tick (None before the first tick wrote a state file)."""
    from kcistage.shell import statefile

    cfg = env.config()
    if not cfg.state_file.exists():
        return None
    return dict(statefile.load(cfg.state_file, env.clock()(), readonly=True)["prs"])


@click.command(short_help="Hold automatic, command and culprit-search cycles until resume.")
@click.option("--reason", metavar="TEXT", help="Why (shown in status and on the page).")
@click.pass_obj
def pause(env: Env, reason: str | None) -> int:
    """Hold every cycle the tool would start by itself, for a comment command or a culprit search.

    They wait and run after `kcistage resume`. A running deployment is not interrupted; polling,
    comment answers and `kcistage deploy` by hand go on. Works while a deployment runs.
    """
    from kcistage.core import controls
    from kcistage.shell import controls as store

    before = store.load(env.config().state_file)["paused"]
    cfg, doc = _change(env, lambda d, by, at: controls.pause(d, by, at, reason))
    click.echo(f"{controls.paused_reason(doc['paused'])}; `kcistage resume` releases "
               f"(recorded in {cfg.state_file.name}.controls)")
    if before is not None:
        whose = "your own" if before["by"] == doc["paused"]["by"] else f"{before['by']}'s"
        click.echo(f"this replaces {whose} pause ({controls.paused_reason(before)})")
    return 0


@click.command(short_help="Release the cycles held by pause.")
@click.pass_obj
def resume(env: Env) -> int:
    """Release the cycles held by `kcistage pause`; the next tick decides as usual."""
    from kcistage.core import controls
    from kcistage.shell import controls as store

    cfg = env.config()
    was = store.load(cfg.state_file)["paused"]
    store.update(cfg.state_file, controls.resume)
    click.echo("resumed: the next tick decides as usual" if was else "was not paused")
    return 0


@click.command(short_help="Keep a PR out of staging by hand until included again.")
@click.argument("pr", metavar="<repo>#<n>")
@click.option("--reason", metavar="TEXT", help="Why (shown in status and told on the PR).")
@click.pass_obj
def exclude(env: Env, pr: str, reason: str | None) -> int:
    """Keep the PR <repo>#<n> out of staging, whatever is pushed to it, until `include`.

    Takes effect at the next decision; the PR is told in its kcistage comment.
    """
    from kcistage.core import controls

    key = _ref(env, pr)
    prs = _open_prs(env)
    if prs is None or key not in prs:
        seen = "no tick has run yet" if prs is None else "it was not open at the last tick"
        raise click.BadParameter(f"{key}: {seen}; only an open PR can be excluded",
                                 param_hint="<repo>#<n>")
    _, doc = _change(env, lambda d, by, at: controls.exclude(d, key, by, at, reason))
    click.echo(f"{key} excluded {controls.by_hand_reason(doc['excluded'][key])}; "
               "takes effect at the next tick")
    return 0


@click.command(short_help="Let a PR back in (ends a hand, conflict or culprit exclusion).")
@click.argument("pr", metavar="<repo>#<n>[@<sha>]")
@click.pass_obj
def include(env: Env, pr: str) -> int:
    """Let the PR <repo>#<n> back in: ends its exclusion by hand, and lifts a conflict or culprit
    exclusion at the head GitHub shows when the next tick applies it. A commit proven faulty stays
    excluded whatever happens to the branch (a force-push back to it is excluded again) until
    included by name: <repo>#<n>@<sha> (at least 7 hex digits) lifts the exclusion at that
    commit. The PR is told."""
    from kcistage.core import controls
    from kcistage.shell import controls as store

    cfg = env.config()
    try:
        repo, number, sha = controls.parse_commit_ref(
            pr, tuple(r.name for r in cfg.repos), {r.github: r.name for r in cfg.repos})
    except controls.ControlsProblem as exc:
        raise click.BadParameter(str(exc), param_hint="<repo>#<n>[@<sha>]") from None
    key = f"{repo}#{number}"
    record = (_open_prs(env) or {}).get(key) or {}
    excluded = record.get("excluded")
    if sha is not None:
        known = controls.nameable(excluded, record.get("culprits"))
        found = controls.matching(sha, known)
        if len(found) > 1:
            raise click.BadParameter(f"{sha} names more than one excluded commit of {key}: "
                                     f"{', '.join(s[:12] for s in found)}",
                                     param_hint="<repo>#<n>[@<sha>]")
        if not found:
            listed = ", ".join(s[:12] for s in known) or "none"
            click.echo(f"{key} is not excluded at {sha} (excluded commits: {listed}): "
                       "nothing to include")
            return 0
        _change(env, lambda d, by, at: controls.include(d, key, by, at, found[0]))
        click.echo(f"{key} included at {found[0][:12]}; takes effect at the next tick")
        return 0
    by_hand = key in store.load(cfg.state_file)["excluded"]
    at_head = (excluded or {}).get("sha") == record.get("sha")
    if not by_hand and not at_head and record.get("state") != "excluded":
        state = f" (it is {record['state']}: {record.get('reason')})" if record.get("state") else ""
        click.echo(f"{key} is not excluded{state}: nothing to include")
        return 0
    _change(env, lambda d, by, at: controls.include(d, key, by, at))
    click.echo(f"{key} included; takes effect at the next tick")
    return 0


COMMANDS = (pause, resume, exclude, include)
