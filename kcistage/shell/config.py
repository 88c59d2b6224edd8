"""Load and validate config.yaml (SPEC 3) into the frozen dataclasses of settings.py."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import pathspec

from kcistage.core.settings import (
    CYCLES,
    PERMISSIONS,
    Config,
    Drain,
    GitHubSettings,
    Notify,
    Repo,
    Schedule,
    Step,
    Trust,
)
from kcistage.errors import AuthError, ConfigError
from kcistage.shell.yamlfile import one_line, read_yaml

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Short names end up in file names under workdir and in environment variable names.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_GITHUB_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_RE = re.compile(r"^[^/@:]+@[^/:]+:")  # git@github.com:owner/name.git


def parse_duration(text: str) -> timedelta:
    """`90s`, `5m`, `6h`, `1d` (decimals allowed: `0.2s`) as a timedelta; ValueError otherwise."""
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact `parse_duration` spelling of a timedelta (`90s`, `5m`, `1d`)."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        count = seconds / _UNIT_SECONDS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"


class _Loader:
    """Validation context: the file name for messages and the folder relative paths start from."""

    def __init__(self, path: Path):
        self.path = path
        self.base = path.resolve().parent

    def fail(self, key: str, problem: str) -> NoReturn:
        where = f"{key}: " if key else ""
        raise ConfigError(one_line(f"{self.path}: {where}{problem}"))

    # -- shapes -------------------------------------------------------------------------

    def mapping(self, value: Any, key: str, known: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict[str, Any]:
        """A mapping with only `known` keys (None = empty); names the first stray key."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping, got {_kind(value)}")
        for k in value:
            if not isinstance(k, str) or k not in known:
                hint = difflib.get_close_matches(str(k), known, n=1)
                self.fail(_join(key, str(k)),
                          "unknown key" + (f" (did you mean {hint[0]}?)" if hint else ""))
        for k in required:
            if value.get(k) is None:
                self.fail(_join(key, k), "missing (required)")
        return value

    def string(self, value: Any, key: str, pattern: re.Pattern[str] | None = None,
               expected: str = "") -> str:
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_kind(value)}")
        if not value.strip():
            self.fail(key, "must not be empty")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(key, f"expected {expected}, got {value!r}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_kind(value)}")
        return value

    def integer(self, value: Any, key: str, minimum: int) -> int:
        # YAML's true/false are Python bools, which are ints: reject them explicitly.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {_kind(value)}")
        if value < minimum:
            self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def duration(self, value: Any, key: str, allow_zero: bool = False) -> timedelta:
        try:
            result = parse_duration(value)
        except ValueError:
            self.fail(key, f"expected a duration like 30m, got {_kind(value)}")
        if not allow_zero and result <= timedelta(0):
            self.fail(key, "must be longer than 0")
        return result

    def choice(self, value: Any, key: str, choices: tuple[str, ...]) -> str:
        if value not in choices or not isinstance(value, str):
            self.fail(key, f"expected one of {'|'.join(choices)}, got {_kind(value)}")
        return value

    def items(self, value: Any, key: str, what: str = "a list") -> list[Any]:
        if not isinstance(value, list):
            self.fail(key, f"expected {what}, got {_kind(value)}")
        return value

    def argv(self, value: Any, key: str) -> tuple[str, ...]:
        """A non-empty list of strings: commands are never shell strings."""
        if isinstance(value, str):
            self.fail(key, "must be an argv list, not a string (e.g. [docker, compose, up, -d])")
        items = self.items(value, key, "an argv list")
        if not items:
            self.fail(key, "must not be empty")
        words = []
        for i, arg in enumerate(items):
            # No number coercion: YAML reads 010 as 8 and 1.10 as 1.1, so ask for quotes.
            if not isinstance(arg, str):
                self.fail(f"{key}[{i}]", f"expected a string (quote it), got {_kind(arg)}")
            words.append(arg)
        if not words[0]:
            self.fail(f"{key}[0]", "must not be empty")
        return tuple(words)

    def logins(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = self.items(value, key, "a list of GitHub logins")
        return tuple(self.string(v, f"{key}[{i}]", _LOGIN_RE, "a GitHub login (quote numbers)")
                     for i, v in enumerate(items))

    def local_path(self, value: Any, key: str) -> Path:
        text = self.string(value, key)
        return (self.base / Path(text).expanduser()).resolve()

    def http_url(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if not re.match(r"^https?://[^/\s]+", text) or any(c.isspace() for c in text):
            self.fail(key, f"expected an http(s) URL, got {text!r}")
        return text

    # -- sections -----------------------------------------------------------------------

    def github(self, raw: Any) -> GitHubSettings:
        d = self.mapping(raw, "github", ("api_url", "token_env", "token_file", "bot",
                                         "status_context"))
        g = GitHubSettings()
        token_file = d.get("token_file")
        return GitHubSettings(
            # PyGithub appends paths to base_url: a trailing slash would double it.
            api_url=self.http_url(d.get("api_url", g.api_url), "github.api_url").rstrip("/"),
            token_env=self.string(d.get("token_env", g.token_env), "github.token_env", _ENV_RE,
                                  "an environment variable name"),
            token_file=None if token_file is None
            else self.local_path(token_file, "github.token_file"),
            bot=self.string(d.get("bot", g.bot), "github.bot", _LOGIN_RE,
                            "a GitHub login without @"),
            status_context=self.string(d.get("status_context", g.status_context),
                                       "github.status_context"),
        )

    def schedule(self, raw: Any) -> Schedule:
        d = self.mapping(raw, "schedule", ("full_interval", "throttle", "settle", "max_restarts",
                                           "watch_interval", "full_when_unchanged"))
        s = Schedule()

        def dur(name: str, default: timedelta, allow_zero: bool) -> timedelta:
            if name not in d:
                return default
            return self.duration(d[name], f"schedule.{name}", allow_zero)

        return Schedule(
            full_interval=dur("full_interval", s.full_interval, False),
            throttle=dur("throttle", s.throttle, True),
            settle=dur("settle", s.settle, True),
            max_restarts=self.integer(d.get("max_restarts", s.max_restarts),
                                      "schedule.max_restarts", 0),
            watch_interval=dur("watch_interval", s.watch_interval, False),
            full_when_unchanged=self.boolean(d.get("full_when_unchanged", s.full_when_unchanged),
                                             "schedule.full_when_unchanged"),
        )

    def trust(self, raw: Any) -> Trust:
        d = self.mapping(raw, "trust", ("users", "maintainers", "admins", "min_permission",
                                        "skip_label"))
        perm = d.get("min_permission")
        return Trust(
            users=self.logins(d.get("users"), "trust.users"),
            maintainers=self.logins(d.get("maintainers"), "trust.maintainers"),
            admins=self.logins(d.get("admins"), "trust.admins"),
            min_permission=None if perm is None
            else self.choice(perm, "trust.min_permission", PERMISSIONS),
            skip_label=self.string(d.get("skip_label", Trust().skip_label), "trust.skip_label"),
        )

    def repos(self, raw: Any) -> tuple[Repo, ...]:
        if raw is None:
            self.fail("repos", "missing (required): list the repositories to stage")
        items = self.items(raw, "repos", "a list of repositories")
        if not items:
            self.fail("repos", "must list at least one repository")
        repos: list[Repo] = []
        env_names: dict[str, str] = {}
        for i, item in enumerate(items):
            key = f"repos[{i}]"
            d = self.mapping(item, key, ("name", "github", "base", "url", "staging_branch",
                                         "push"), required=("name", "github"))
            name = self.string(d["name"], f"{key}.name", _NAME_RE,
                               "a short name (letters, digits, . _ -)")
            env = re.sub(r"[^A-Z0-9]", "_", name.upper())
            if env in env_names:
                other = env_names[env]
                self.fail(f"{key}.name", f"duplicate repo name {name!r}" if other == name else
                          f"{name!r} and {other!r} both give KCISTAGE_REPO_{env}_DIR")
            env_names[env] = name
            github = self.string(d["github"], f"{key}.github", _GITHUB_REPO_RE, "owner/name")
            base = self.branch(d.get("base", "main"), f"{key}.base")
            staging = self.branch(d.get("staging_branch", Repo.staging_branch),
                                  f"{key}.staging_branch")
            if staging == base:
                self.fail(f"{key}.staging_branch",
                          f"must differ from base {base!r} (it is rebuilt and force-pushed)")
            url = d.get("url")
            repos.append(Repo(
                name=name, github=github, base=base, staging_branch=staging,
                url=f"https://github.com/{github}.git" if url is None
                else self.fetch_url(url, f"{key}.url"),
                push=self.boolean(d.get("push", False), f"{key}.push"),
            ))
        return tuple(repos)

    def branch(self, value: Any, key: str) -> str:
        text = self.string(value, key, _BRANCH_RE, "a branch name")
        if ".." in text or text.endswith((".lock", "/", ".")) or "//" in text:
            self.fail(key, f"expected a branch name, got {text!r}")
        return text

    def fetch_url(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if _SCHEME_RE.match(text) or _SCP_RE.match(text):
            return text
        return str(self.local_path(text, key))

    def notify(self, raw: Any) -> Notify:
        d = self.mapping(raw, "notify", ("on_failure",))
        argv = d.get("on_failure")
        return Notify(on_failure=None if argv is None else self.argv(argv, "notify.on_failure"))

    def steps(self, raw: Any, repos: tuple[Repo, ...]) -> tuple[Step, ...]:
        if raw is None:
            return ()
        items = self.items(raw, "steps", "a list of steps")
        names = {r.name for r in repos}
        seen: set[str] = set()
        steps = []
        for i, item in enumerate(items):
            step = self.step(item, f"steps[{i}]", names)
            if step.name in seen:
                self.fail(f"steps[{i}].name", f"duplicate step name {step.name!r}")
            seen.add(step.name)
            steps.append(step)
        return tuple(steps)

    def step(self, raw: Any, key: str, repo_names: set[str]) -> Step:
        d = self.mapping(raw, key, ("name", "run", "drain", "cwd", "paths", "cycles", "timeout",
                                    "retries"), required=("name",))
        name = self.string(d["name"], f"{key}.name", _NAME_RE,
                           "a short name (letters, digits, . _ -)")
        has_run, has_drain = d.get("run") is not None, d.get("drain") is not None
        if has_run == has_drain:
            self.fail(key, f"step {name!r} needs exactly one of run and drain, got "
                      + ("both" if has_run else "neither"))
        cwd = d.get("cwd")
        if cwd is not None and has_drain:
            self.fail(f"{key}.cwd", "a drain step runs no command")
        return Step(
            name=name,
            run=self.argv(d["run"], f"{key}.run") if has_run else None,
            drain=self.drain(d["drain"], f"{key}.drain") if has_drain else None,
            cwd=None if cwd is None else self.cwd(cwd, f"{key}.cwd", repo_names),
            paths=self.paths(d.get("paths"), f"{key}.paths", repo_names),
            cycles=self.cycles(d.get("cycles", list(CYCLES)), f"{key}.cycles"),
            timeout=self.duration(d["timeout"], f"{key}.timeout") if "timeout" in d
            else Step.timeout,
            retries=self.integer(d.get("retries", 0), f"{key}.retries", 0),
        )

    def cwd(self, value: Any, key: str, repo_names: set[str]) -> str:
        """A repo name as is, or a path (anything with a `/`) resolved to an absolute one."""
        text = self.string(value, key)
        if text in repo_names:
            return text
        if "/" not in text:
            self.fail(key, f"unknown repo {text!r} (repos: {', '.join(sorted(repo_names))};"
                      " write ./name for a folder)")
        return str(self.local_path(text, key))

    def paths(self, value: Any, key: str, repo_names: set[str]
              ) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping of repo name to patterns, got {_kind(value)}")
        if not value:
            self.fail(key, "must name at least one repo (leave paths out to always run)")
        result = []
        for repo, patterns in value.items():
            rkey = f"{key}.{repo}"
            if repo not in repo_names:
                self.fail(rkey, f"unknown repo {repo!r} (repos: {', '.join(sorted(repo_names))})")
            if isinstance(patterns, str):
                self.fail(rkey, f"expected a list of patterns, e.g. [{patterns!r}]")
            items = self.items(patterns, rkey, "a list of patterns")
            if not items:
                self.fail(rkey, "must list at least one pattern")
            for i, pattern in enumerate(items):
                self.string(pattern, f"{rkey}[{i}]")
                try:
                    pathspec.GitIgnoreSpec.from_lines([pattern])  # as paths.py compiles them
                except Exception as exc:  # pathspec raises several types for bad patterns
                    self.fail(f"{rkey}[{i}]", f"invalid pattern {pattern!r}: {exc}")
            result.append((repo, tuple(items)))
        return tuple(result)

    def cycles(self, value: Any, key: str) -> tuple[str, ...]:
        items = self.items(value, key, "a list like [partial, full]")
        if not items:
            self.fail(key, "must list at least one of partial, full")
        chosen = {self.choice(v, f"{key}[{i}]", CYCLES) for i, v in enumerate(items)}
        return tuple(c for c in CYCLES if c in chosen)

    def drain(self, raw: Any, key: str) -> Drain:
        d = self.mapping(raw, key, ("url", "params", "interval", "timeout", "on_timeout"),
                         required=("url",))
        params = d.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.fail(f"{key}.params", f"expected a mapping, got {_kind(params)}")
        pairs = []
        for k, v in params.items():
            if not isinstance(k, str) or isinstance(v, (dict, list)) or v is None:
                self.fail(f"{key}.params.{k}", f"expected a text or number value, got {_kind(v)}")
            # YAML turns `true` into a bool; a query string wants the lowercase word back.
            pairs.append((k, str(v).lower() if isinstance(v, bool) else str(v)))
        default = Drain(url="")
        return Drain(
            url=self.http_url(d["url"], f"{key}.url"),
            params=tuple(pairs),
            interval=self.duration(d["interval"], f"{key}.interval") if "interval" in d
            else default.interval,
            timeout=self.duration(d["timeout"], f"{key}.timeout") if "timeout" in d
            else default.timeout,
            on_timeout=self.choice(d.get("on_timeout", default.on_timeout), f"{key}.on_timeout",
                                   ("fail", "proceed")),
        )


def _join(key: str, sub: str) -> str:
    return f"{key}.{sub}" if key else sub


def _kind(value: Any) -> str:
    """How a wrong value is shown in a message: short, one line."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def load_config(path: Path) -> Config:
    """Read and validate a config file; every problem is a one-line ConfigError naming the key."""
    path = Path(path)
    data = read_yaml(path)
    v = _Loader(path)
    if not isinstance(data, dict):
        v.fail("", f"expected a mapping of settings at the top level, got {_kind(data)}")
    top = v.mapping(data, "", ("github", "state_file", "workdir", "schedule", "trust", "repos",
                               "history", "notify", "steps"))
    defaults = Config(path=path)
    repos = v.repos(top.get("repos"))
    return Config(
        path=path.resolve(),
        github=v.github(top.get("github")),
        state_file=v.local_path(top["state_file"], "state_file") if "state_file" in top
        else defaults.state_file,
        workdir=v.local_path(top["workdir"], "workdir") if "workdir" in top
        else defaults.workdir,
        schedule=v.schedule(top.get("schedule")),
        trust=v.trust(top.get("trust")),
        repos=repos,
        history=v.integer(top.get("history", defaults.history), "history", 1),
        notify=v.notify(top.get("notify")),
        steps=v.steps(top.get("steps"), repos),
    )


def token(cfg: Config, environ: Mapping[str, str] | None = None) -> str:
    """The GitHub token: `github.token_file` wins over `$<github.token_env>`; AuthError if none.

    A token file that does not exist (a credential only the systemd unit gets) gives way to the
    variable when that is set, so an operator can run kcistage by hand with the same config."""
    gh = cfg.github
    env = os.environ if environ is None else environ
    from_env = (env.get(gh.token_env) or "").strip()
    if gh.token_file is not None and not (from_env and not gh.token_file.exists()):
        try:
            value = gh.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise AuthError(f"cannot read github.token_file {gh.token_file}: {reason} "
                            f"(or set ${gh.token_env})") from None
        if not value:
            raise AuthError(f"github.token_file {gh.token_file} is empty")
        return value
    if not from_env:
        raise AuthError(f"no GitHub token: set ${gh.token_env} or github.token_file in {cfg.path}")
    return from_env

