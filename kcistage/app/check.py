"""`kcistage check`: prove a server setup works, one finding per part, without the state lock.

Each finding says what was tried and what answered: the credential (a token's user, or the GitHub
App and its installations' permissions), each repository on GitHub and through git (readable; the
staging branch pushable, by `git push --dry-run`), each step's program, each drain URL, the state
file and the workdir. Nothing is written: no state, no checkout, no GitHub write.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kcistage.core.branch_rules import push_refusals
from kcistage.core.durations import human
from kcistage.core.settings import Config, Repo, Step
from kcistage.errors import KcistageError, ServiceError, one_line
from kcistage.shell import statefile
from kcistage.shell.branch_protection import read_branch_rules
from kcistage.shell.config import read_secret
from kcistage.shell.credentials import AppCredentials, TokenCredentials, open_credentials
from kcistage.shell.git import Git
from kcistage.shell.git_text import http_remote
from kcistage.shell.github import GitHub
from kcistage.shell.steps import probe_count

# What the App's installation must allow (GitHub's permission names): statuses and comments on
# PRs, reading them, and pushing the staging branch where `push` is set.
APP_NEEDS = {"metadata": "read", "pull_requests": "read", "statuses": "write", "issues": "write"}
APP_PUSH_NEEDS = {"contents": "write"}
_LEVEL = {"read": 1, "write": 2, "admin": 3}
PROBE_TIMEOUT = 10.0  # seconds: the bound of each probe (a GitHub request, a git command)


@dataclass(frozen=True)
class Finding:
    """One checked part: ok (True), broken (False) or not checked (None), and what was seen."""

    name: str
    ok: bool | None
    detail: str
    service: bool = False  # broken only because a service did not answer (exit 3, not 2)


def exit_status(findings: list[Finding]) -> int:
    """0 when nothing is broken; 3 when only services were unreachable; else 2."""
    broken = [f for f in findings if f.ok is False]
    if not broken:
        return 0
    return 3 if all(f.service for f in broken) else 2


def _failed(name: str, exc: KcistageError) -> Finding:
    return Finding(name, False, str(exc), service=isinstance(exc, ServiceError))


def run_checks(cfg: Config, clock: Callable[[], datetime], local: bool = False
               ) -> Iterator[Finding]:
    """Check every part of the setup in turn (the config is already loaded and valid).

    Each part is guarded: one that cannot be checked (a file it may not stat, a service that
    does not answer within PROBE_TIMEOUT) is a FAIL line and the rest still runs."""
    yield Finding("config", True, f"{cfg.path}: {len(cfg.repos)} repos, {len(cfg.steps)} steps")
    yield from _guard("state", lambda: _state(cfg, clock))
    timeout = 5.0 if local else PROBE_TIMEOUT
    creds: TokenCredentials | AppCredentials | None = None
    try:
        creds = open_credentials(cfg, clock, timeout=timeout)
    except KcistageError as exc:
        yield _failed("credential", exc)
    gh = None
    if creds is not None:
        gh = GitHub(cfg.github, creds, {}, clock, pace=0.0, retries=1 if local else 0,
                    backoff=0.05, timeout=timeout)
        identity = _identity(cfg, creds, gh)
        yield identity
        if identity.ok is False:
            gh = None
    git = Git(cfg.workdir, hide_env=(cfg.github.token_env,),
              credential=None if creds is None else (lambda repo: creds.token(repo.github)),
              timeout=PROBE_TIMEOUT, low_speed_time=int(PROBE_TIMEOUT))
    login = _pusher(cfg, creds) if gh is not None else None
    for repo in cfg.repos:
        yield from _guard(repo.name, lambda repo=repo: _repo(cfg, repo, creds, gh, git))  # type: ignore[misc]
        if repo.push and gh is not None:
            yield from _guard(f"{repo.name} protection",
                              lambda repo=repo: [_protection(repo, gh, login)])  # type: ignore[misc]
        if repo.gate.checks != "none" and gh is not None:
            yield from _guard(f"{repo.name} gate", lambda repo=repo: [_gate(repo, gh)])  # type: ignore[misc]
    for step in cfg.steps:
        yield from _guard(f"step {step.name}", lambda step=step: [_step(cfg, step)])  # type: ignore[misc]
        if step.kernelci is not None:
            yield from _guard(f"{step.name} kernelci", lambda step=step: _kernelci(step, local))  # type: ignore[misc]
    if cfg.notify.on_failure:
        program = cfg.notify.on_failure[0]
        yield from _guard("notify.on_failure",
                          lambda: [_program("notify.on_failure", program, None)])
    yield from _guard("serve.webhook_secret_file", lambda: _webhook_secret(cfg))


def _guard(name: str, part: Callable[[], Iterable[Finding]]) -> Iterator[Finding]:
    """The findings of one part; an error it did not foresee is its FAIL line, not the end."""
    try:
        yield from part()
    except KcistageError as exc:
        yield _failed(name, exc)
    except Exception as exc:  # e.g. PermissionError on a stat: reported, and check goes on
        yield Finding(name, False, one_line(exc))


def _state(cfg: Config, clock: Callable[[], datetime]) -> Iterator[Finding]:
    """The state file reads (without its lock) and the folders can be written."""
    try:
        state = statefile.load_full(cfg.state_file, clock())
    except KcistageError as exc:
        yield _failed("state", exc)
    else:
        count = len(state.get("deployments", []))
        yield Finding("state", True, f"{cfg.state_file}: {count} deployments" if count
                      else f"{cfg.state_file}: none yet (the first tick creates it)")
    for name, folder in (("state folder", cfg.state_file.parent), ("workdir", cfg.workdir)):
        yield _writable(name, folder)


def _writable(name: str, folder: Path) -> Finding:
    """A folder that exists and is writable, or whose nearest existing parent is."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return Finding(name, False, f"{folder}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        return Finding(name, False, f"{folder}: {probe} is not writable by this user")
    return Finding(name, True, f"{folder}" + ("" if probe == folder else " (will be created)"))


def _identity(cfg: Config, creds: TokenCredentials | AppCredentials, gh: GitHub) -> Finding:
    """Who the credential is: the token's user (GET /user) or the App (GET /app)."""
    try:
        if isinstance(creds, AppCredentials):
            slug = creds.slug()
            return Finding("github", True, f"GitHub App {slug!r} (id {creds.app_id}) at "
                           f"{cfg.github.api_url}; writes as {slug}[bot]; {_clocks(creds)}")
        login = gh.whoami()
        return Finding("github", True, f"token of {login} at {cfg.github.api_url}")
    except KcistageError as exc:
        return _failed("github", exc)


def _repo(cfg: Config, repo: Repo, creds: TokenCredentials | AppCredentials | None,
          gh: GitHub | None, git: Git) -> Iterator[Finding]:
    """A repository: on GitHub (and what the credential may do there), through git, pushable."""
    name = repo.name
    if gh is not None and creds is not None:
        yield _repo_on_github(repo, creds, gh)
    needs_credential = http_remote(repo.url) is not None
    if needs_credential and creds is None:
        yield Finding(f"{name} git", None, "not checked: no credential for its https url")
        return
    try:
        head = git.remote_head(repo)
        yield Finding(f"{name} git", True, f"{repo.base} at {head[:12]} (git ls-remote)")
    except KcistageError as exc:
        yield _failed(f"{name} git", exc)
        return
    if not repo.push:
        yield Finding(f"{name} push", None, "push: false (the staging branch stays local)")
        return
    try:
        git.can_push(repo)
        yield Finding(f"{name} push", True,
                      f"{repo.staging_branch} would be accepted (git push --dry-run)")
    except KcistageError as exc:
        yield _failed(f"{name} push", exc)


def _repo_on_github(repo: Repo, creds: TokenCredentials | AppCredentials, gh: GitHub) -> Finding:
    """GET /repos/{o}/{r}; the token's role, or the App installation's permissions."""
    what = f"{repo.name} github"
    try:
        data = gh.repository(repo)
        if isinstance(creds, AppCredentials):
            granted = creds.permissions(repo.github)
            needs = {**APP_NEEDS, **(APP_PUSH_NEEDS if repo.push else {})}
            missing = [f"{k}: {v}" for k, v in needs.items()
                       if _LEVEL.get(str(granted.get(k)), 0) < _LEVEL[v]]
            if missing:
                return Finding(what, False, f"{repo.github}: the App's installation lacks "
                               f"{', '.join(missing)} (change it in the App's settings)")
            return Finding(what, True, f"{repo.github}: installation {creds.installation(repo.github)}"
                           f" allows {_describe(granted)}")
        perms: dict[str, Any] = data.get("permissions") or {}
        if perms and not perms.get("push"):
            return Finding(what, False, f"{repo.github}: the token's user has no write access "
                           "(commit statuses need it)")
        role = next((r for r in ("admin", "maintain", "push", "triage", "pull") if perms.get(r)),
                    "unknown")
        return Finding(what, True, f"{repo.github}: readable, role {role}")
    except KcistageError as exc:
        return _failed(what, exc)


def _describe(granted: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(granted.items())) or "nothing"


def _step(cfg: Config, step: Step) -> Finding:
    """A run step's program is found; a drain step's URL answers a count, a probe's its status."""
    if step.drain is not None:
        count, answered, said = probe_count(step.drain, timeout=5.0)
        what = f"step {step.name}"
        if count is not None:
            return Finding(what, True, f"{step.drain.url} answers {count}")
        return Finding(what, False, f"{step.drain.url}: {said}", service=not answered)
    if step.probe is not None:  # answering at all is what a check can show; steadiness is the step's
        from kcistage.shell.probe import ask

        status, said = ask(step.probe.url, timeout=5.0)
        what = f"step {step.name}"
        if status == step.probe.expect:
            return Finding(what, True, f"{step.probe.url} answers {status}")
        return Finding(what, False, f"{step.probe.url}: {said} (expected {step.probe.expect})",
                       service=status is None)
    if step.run is None:  # a verification step: its services are checked on their own lines
        return Finding(f"step {step.name}", True, "runs no program")
    cwd: Path | None = None
    where = ""
    if step.cwd is not None:
        if "/" in step.cwd:
            cwd = Path(step.cwd)
            if not cwd.is_dir():
                return Finding(f"step {step.name}", False, f"cwd {cwd} is not a folder")
        else:
            cwd = cfg.workdir / "repos" / step.cwd
            where = step.cwd
    return _program(f"step {step.name}", step.run[0], cwd, where)


def _kernelci(step: Step, local: bool) -> Iterator[Finding]:
    """A kernelci step's KernelCI API (its /latest/ answers), pipeline (answers HTTP at all),
    token (present; never shown) and test kernel branch (its tip, by git ls-remote)."""
    from kcistage.shell import kernelci  # (requests and git: only when a kernelci step exists)

    kc = step.kernelci
    assert kc is not None
    client = kernelci.KernelCIClient(kc.api, kc.pipeline, timeout=(5.0, 5.0 if local else 15.0))
    try:
        ok, said = client.answers(f"{kc.api}/latest/")
        yield Finding(f"{step.name} api", ok, said, service=not ok)
        ok, said = client.pipeline_answers()
        yield Finding(f"{step.name} pipeline", ok, said, service=not ok)
    finally:
        client.close()
    try:
        kernelci.kernelci_token(kc)
        where = f"{kc.token_file}" if kc.token_file is not None and kc.token_file.exists() \
            else f"${kc.token_env}"
        yield Finding(f"{step.name} token", True, f"the KernelCI token is present ({where})")
    except KcistageError as exc:
        yield _failed(f"{step.name} token", exc)
    try:
        tip = kernelci.tip_commit(kc.tree.url, kc.tree.branch, timeout=15.0 if local else 60.0)
        yield Finding(f"{step.name} kernel", True, f"{kc.tree.branch} of {kc.tree.url} is at "
                      f"{tip[:12]} (git ls-remote)")
    except KcistageError as exc:
        yield _failed(f"{step.name} kernel", exc)


def _program(what: str, program: str, cwd: Path | None, checkout: str = "") -> Finding:
    """argv[0] found: on PATH for a bare name, else a file that can be run."""
    if "/" not in program:
        found = shutil.which(program)
        if found:
            return Finding(what, True, f"{program} is {found}")
        return Finding(what, False, f"{program}: not found on PATH ({os.environ.get('PATH', '')})")
    path = Path(program)
    if not path.is_absolute():
        if cwd is None or not cwd.is_dir():
            if checkout:
                return Finding(what, None, f"{program}: in the {checkout} checkout, which the "
                               "first deployment makes")
            cwd = Path.cwd()
        path = cwd / path
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Finding(what, False, f"{path}: no such file")
    except OSError as exc:  # e.g. a folder on the way this user may not enter
        return Finding(what, False, f"{path}: cannot stat: {exc.strerror or exc}")
    if stat.S_ISREG(mode) and os.access(path, os.X_OK):
        return Finding(what, True, f"{path} can be run")
    return Finding(what, False, f"{path}: not executable")


def _pusher(cfg: Config, creds: TokenCredentials | AppCredentials | None) -> str | None:
    """Who pushes: the App's bot, or the token's account (github.bot)."""
    if isinstance(creds, AppCredentials):
        return creds.bot_login()
    return cfg.github.bot


def _protection(repo: Repo, gh: GitHub, login: str | None) -> Finding:
    """Whether GitHub's branch protection or rulesets would refuse the staging branch's
    force-push (`git push --dry-run` does not run the server's rules)."""
    what = f"{repo.name} protection"
    rules = read_branch_rules(gh, repo)
    refusals = push_refusals(rules, login)
    if refusals:
        return Finding(what, False, f"GitHub would refuse the force-push of "
                       f"{repo.staging_branch}: {'; '.join(refusals)}")
    said = "protected, force pushes allowed" if rules.protected else "not protected"
    return Finding(what, True, f"{repo.staging_branch} {said}, no ruleset refuses it")


def _gate(repo: Repo, gh: GitHub) -> Finding:
    """Whether the checks `repos[].gate` waits for can be read (those of the base's head)."""
    sha = gh.branch_head(repo)
    checks = gh.head_checks(repo, sha) or []
    wanted = "all" if repo.gate.checks == "all" else ", ".join(repo.gate.checks)
    return Finding(f"{repo.name} gate", True, f"checks: {wanted}: readable "
                   f"({len(checks)} on {repo.base} at {sha[:12]})")


def _webhook_secret(cfg: Config) -> Iterator[Finding]:
    """`serve`'s webhook secret file reads and is not empty (when set)."""
    what = "serve.webhook_secret_file"
    path = cfg.serve.webhook_secret_file
    if path is None:
        yield Finding(what, None, "not set: serve answers POST /webhook with 404 (polling only)")
        return
    if not path.exists() and str(path).startswith("/run/credentials/"):
        yield Finding(what, None, f"{path}: only the serve unit sees it (LoadCredential)")
        return
    secret = read_secret(cfg)
    assert secret is not None
    yield Finding(what, True, f"{path}: {len(secret)} bytes")


def _clocks(creds: AppCredentials) -> str:
    """How far GitHub's clock is from this server's, as the Date of its answer showed (App JWTs
    are signed on GitHub's clock, so an offset is no failure)."""
    if creds.offset is None:
        return "GitHub's answer had no Date"
    seconds = creds.offset.total_seconds()
    if abs(seconds) < 2:
        return "GitHub's clock and this server's agree"
    side = "ahead of" if seconds > 0 else "behind"
    return f"GitHub's clock is {human(abs(seconds))} {side} this server's (App JWTs use GitHub's)"
