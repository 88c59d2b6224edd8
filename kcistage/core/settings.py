"""Typed, immutable configuration values (pure data; config_validation.py builds them from YAML)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from kcistage.core import paths

CYCLES = ("partial", "full")
PERMISSIONS = ("write", "maintain", "admin")


@dataclass(frozen=True)
class GitHubApp:
    """A GitHub App to act as (instead of a token): its id and private key file."""

    id: int
    private_key_file: Path


@dataclass(frozen=True)
class GitHubSettings:
    """How to reach GitHub and how the bot presents itself."""

    api_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    token_file: Path | None = None
    app: GitHubApp | None = None  # wins over the token
    bot: str = "kcibot"
    public_url: str | None = None  # the status page; commit statuses link to it
    status_context: str = "kcistage/staging"


@dataclass(frozen=True)
class Schedule:
    """Timing rules (docs/rules.md)."""

    full_interval: timedelta = timedelta(hours=6)
    throttle: timedelta = timedelta(minutes=30)
    settle: timedelta = timedelta(minutes=5)
    max_restarts: int = 1
    watch_interval: timedelta = timedelta(seconds=60)
    full_when_unchanged: bool = True


@dataclass(frozen=True)
class Trust:
    """Who is trusted, who may approve, who may force cycles (logins kept as written)."""

    users: tuple[str, ...] = ()
    maintainers: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    min_permission: str | None = None
    skip_label: str = "staging-skip"


@dataclass(frozen=True)
class Gate:
    """A PR's own checks as a gate: "all", "none", or the names that must pass."""

    checks: str | tuple[str, ...] = "none"


@dataclass(frozen=True)
class Repo:
    """One repository merged into staging."""

    name: str
    github: str  # "owner/name"
    base: str = "main"
    url: str = ""  # fetch URL (or local path, already resolved); default https://github.com/<github>.git
    staging_branch: str = "staging.kernelci.org"
    push: bool = False
    gate: Gate = Gate()


def env_name(repo: str) -> str:
    """A repo's short name as it appears in KCISTAGE_REPO_<NAME>_DIR (other characters: `_`)."""
    return re.sub(r"[^A-Za-z0-9]", "_", repo).upper()


@dataclass(frozen=True)
class Drain:
    """Wait until a KernelCI API count endpoint answers 0."""

    url: str
    params: tuple[tuple[str, str], ...] = ()
    interval: timedelta = timedelta(seconds=30)
    timeout: timedelta = timedelta(minutes=30)
    on_timeout: str = "fail"  # fail | proceed


@dataclass(frozen=True)
class Probe:
    """Read a URL until it answers `expect` and keeps answering it for `stable` (within `within`)."""

    url: str
    expect: int = 200
    stable: timedelta = timedelta(seconds=60)
    interval: timedelta = timedelta(seconds=10)
    within: timedelta = timedelta(minutes=5)


KERNEL_CHOICES = ("pinned", "tip")
MAX_FILTERS = 8  # the pipeline's checkout API refuses more jobfilter/platformfilter entries


@dataclass(frozen=True)
class KernelTree:
    """The test kernel's git tree: where the pipeline fetches it and which branch."""

    url: str
    branch: str


@dataclass(frozen=True)
class KernelCI:
    """Submit a checkout of the test kernel to the pipeline and judge its tree (docs/verification.md)."""

    api: str  # nodes are read under <api>/latest/
    pipeline: str  # POST <pipeline>/api/checkout
    tree: KernelTree
    token_file: Path | None = None  # wins over token_env
    token_env: str | None = None
    jobfilter: tuple[str, ...] = ()
    platformfilter: tuple[str, ...] = ()
    kernel: str = "pinned"  # pinned | tip
    interval: timedelta = timedelta(seconds=60)
    timeout: timedelta = timedelta(hours=4)
    max_regressions: int = 0


STEP_KINDS = ("run", "drain", "probe", "kernelci")  # what a step does: exactly one of these


@dataclass(frozen=True)
class Step:
    """One deployment step: an argv to run, a queue to drain, a URL to probe, or a KernelCI
    tree to judge."""

    name: str
    run: tuple[str, ...] | None = None
    drain: Drain | None = None
    probe: Probe | None = None
    kernelci: KernelCI | None = None
    cwd: str | None = None  # a repo name (its checkout) or an absolute path
    paths: tuple[tuple[str, tuple[str, ...]], ...] | None = None  # ((repo, (pattern, ...)), ...)
    cycles: tuple[str, ...] = CYCLES
    timeout: timedelta = timedelta(hours=1)
    retries: int = 0

    @property
    def kind(self) -> str:
        """Which of STEP_KINDS it is (the configuration gives exactly one)."""
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)


@dataclass(frozen=True)
class Notify:
    """What to run once per failed deployment."""

    on_failure: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Serve:
    """`kcistage serve`: where it listens, the webhook secret, where accepted webhooks poke."""

    listen: str = "127.0.0.1:8080"
    webhook_secret_file: Path | None = None  # without it the webhook endpoint answers 404
    poke_dir: Path = paths.DEFAULT_POKE_DIR


def split_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6) as (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535 \
            or any(c.isspace() or c in "[]/" for c in host):
        raise ValueError(f"expected HOST:PORT like 127.0.0.1:8080, got {text!r}")
    return host, int(port)


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    path: Path
    github: GitHubSettings = field(default_factory=GitHubSettings)
    state_file: Path = paths.DEFAULT_STATE_FILE
    workdir: Path = paths.DEFAULT_WORKDIR
    schedule: Schedule = field(default_factory=Schedule)
    trust: Trust = field(default_factory=Trust)
    repos: tuple[Repo, ...] = ()
    history: int = 500
    git_timeout: timedelta = timedelta(minutes=5)  # bound of each git fetch, ls-remote, push
    notify: Notify = field(default_factory=Notify)
    steps: tuple[Step, ...] = ()
    serve: Serve = field(default_factory=Serve)

    def repo(self, name: str) -> Repo:
        """The repo with this short name (KeyError if none)."""
        for repo in self.repos:
            if repo.name == name:
                return repo
        raise KeyError(name)
