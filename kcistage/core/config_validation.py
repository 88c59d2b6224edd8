"""Validate the parsed configuration (docs/configuration.md) into the frozen dataclasses of settings.py.

Pure: the caller reads the file and says how a relative path becomes an absolute one, so every
problem found here is a one-line ConfigError naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from kcistage.core.config_kernelci import kernelci_settings
from kcistage.core.config_values import ENV_RE, GITHUB_REPO_RE, LOGIN_RE, NAME_RE, ValueChecker, kind
from kcistage.core.settings import (
    CYCLES,
    PERMISSIONS,
    STEP_KINDS,
    Config,
    Drain,
    Gate,
    GitHubApp,
    GitHubSettings,
    Notify,
    Probe,
    Repo,
    Schedule,
    Serve,
    Step,
    Trust,
    env_name,
    split_listen,
)

# Patterns of these characters only (names, folders, * and **) always compile: checking them
# needs no pathspec, which a tick then loads only when it deploys (tests/core prove the claim).
PLAIN_PATTERN = re.compile(r"[A-Za-z0-9._/*-]*")


def pattern_problem(pattern: str) -> str | None:
    """Why a step path pattern does not compile as step_filter compiles it (None: it does)."""
    if PLAIN_PATTERN.fullmatch(pattern):
        return None
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except Exception as exc:  # pathspec raises several types for bad patterns
        return str(exc)
    return None


class _Loader(ValueChecker):
    """The sections of the configuration, each checked key by key."""

    def github(self, raw: Any) -> GitHubSettings:
        d = self.mapping(raw, "github", ("api_url", "token_env", "token_file", "app", "bot",
                                         "public_url", "status_context"))
        g = GitHubSettings()
        token_file = d.get("token_file")
        public_url = d.get("public_url")
        return GitHubSettings(
            # PyGithub appends paths to base_url: a trailing slash would double it.
            api_url=self.http_url(d.get("api_url", g.api_url), "github.api_url").rstrip("/"),
            token_env=self.string(d.get("token_env", g.token_env), "github.token_env", ENV_RE,
                                  "an environment variable name"),
            token_file=None if token_file is None
            else self.local_path(token_file, "github.token_file"),
            app=None if d.get("app") is None else self.app(d["app"]),
            bot=self.string(d.get("bot", g.bot), "github.bot", LOGIN_RE,
                            "a GitHub login without @"),
            # Anchors are appended to it: a trailing slash would double.
            public_url=None if public_url is None
            else self.http_url(public_url, "github.public_url").rstrip("/"),
            status_context=self.string(d.get("status_context", g.status_context),
                                       "github.status_context"),
        )

    def app(self, raw: Any) -> GitHubApp:
        d = self.mapping(raw, "github.app", ("id", "private_key_file"),
                         required=("id", "private_key_file"))
        return GitHubApp(id=self.integer(d["id"], "github.app.id", 1),
                         private_key_file=self.local_path(d["private_key_file"],
                                                          "github.app.private_key_file"))

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
                                         "push", "gate"), required=("name", "github"))
            name = self.string(d["name"], f"{key}.name", NAME_RE,
                               "a short name (letters, digits, . _ -)")
            env = env_name(name)
            if env in env_names:
                other = env_names[env]
                self.fail(f"{key}.name", f"duplicate repo name {name!r}" if other == name else
                          f"{name!r} and {other!r} both give KCISTAGE_REPO_{env}_DIR")
            env_names[env] = name
            github = self.string(d["github"], f"{key}.github", GITHUB_REPO_RE, "owner/name")
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
                gate=self.gate(d.get("gate"), f"{key}.gate"),
            ))
        return tuple(repos)

    def gate(self, raw: Any, key: str) -> Gate:
        if raw is None:
            return Gate()
        d = self.mapping(raw, key, ("checks",))
        checks = d.get("checks", "none")
        if isinstance(checks, str):
            return Gate(checks=self.choice(checks, f"{key}.checks", ("all", "none")))
        names = self.items(checks, f"{key}.checks", "all, none or a list of check names")
        if not names:
            self.fail(f"{key}.checks", "an empty list: say none to gate on no check")
        return Gate(checks=tuple(self.string(n, f"{key}.checks[{i}]") for i, n in enumerate(names)))

    def serve(self, raw: Any) -> Serve:
        d = self.mapping(raw, "serve", ("listen", "webhook_secret_file", "poke_dir"))
        default = Serve()
        listen = self.string(d.get("listen", default.listen), "serve.listen")
        try:
            split_listen(listen)
        except ValueError as exc:
            self.fail("serve.listen", str(exc))
        secret = d.get("webhook_secret_file")
        return Serve(
            listen=listen,
            webhook_secret_file=None if secret is None
            else self.local_path(secret, "serve.webhook_secret_file"),
            poke_dir=self.local_path(d["poke_dir"], "serve.poke_dir") if "poke_dir" in d
            else default.poke_dir,
        )

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
        d = self.mapping(raw, key, ("name", *STEP_KINDS, "cwd", "paths", "cycles", "timeout",
                                    "retries"), required=("name",))
        name = self.string(d["name"], f"{key}.name", NAME_RE,
                           "a short name (letters, digits, . _ -)")
        present = [k for k in STEP_KINDS if d.get(k) is not None]
        if len(present) != 1:
            self.fail(key, f"step {name!r} needs exactly one of {', '.join(STEP_KINDS)}, got "
                      + (" and ".join(present) if present else "none"))
        step_kind = present[0]
        cwd = d.get("cwd")
        if cwd is not None and step_kind != "run":
            self.fail(f"{key}.cwd", f"a {step_kind} step runs no command")
        return Step(
            name=name,
            run=self.argv(d["run"], f"{key}.run") if step_kind == "run" else None,
            drain=self.drain(d["drain"], f"{key}.drain") if step_kind == "drain" else None,
            probe=self.probe(d["probe"], f"{key}.probe") if step_kind == "probe" else None,
            kernelci=kernelci_settings(self, d["kernelci"], f"{key}.kernelci")
            if step_kind == "kernelci" else None,
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
            self.fail(key, f"expected a mapping of repo name to patterns, got {kind(value)}")
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
                problem = pattern_problem(self.string(pattern, f"{rkey}[{i}]"))
                if problem is not None:
                    self.fail(f"{rkey}[{i}]", f"invalid pattern {pattern!r}: {problem}")
            result.append((repo, tuple(items)))
        return tuple(result)

    def cycles(self, value: Any, key: str) -> tuple[str, ...]:
        items = self.items(value, key, "a list like [partial, full]")
        if not items:
            self.fail(key, "must list at least one of partial, full")
        chosen = {self.choice(v, f"{key}[{i}]", CYCLES) for i, v in enumerate(items)}
        return tuple(c for c in CYCLES if c in chosen)

    def probe(self, raw: Any, key: str) -> Probe:
        d = self.mapping(raw, key, ("url", "expect", "stable", "interval", "within"),
                         required=("url",))
        default = Probe(url="")

        def dur(name: str, value: timedelta, allow_zero: bool = False) -> timedelta:
            return self.duration(d[name], f"{key}.{name}", allow_zero) if name in d else value

        expect = self.integer(d.get("expect", default.expect), f"{key}.expect", 100)
        if expect > 599:
            self.fail(f"{key}.expect", f"expected an HTTP status (100-599), got {expect}")
        probe = Probe(url=self.http_url(d["url"], f"{key}.url"), expect=expect,
                      stable=dur("stable", default.stable, allow_zero=True),
                      interval=dur("interval", default.interval),
                      within=dur("within", default.within))
        if probe.stable >= probe.within:
            self.fail(f"{key}.within", "must be longer than stable (the answer must hold for "
                      "stable within it)")
        return probe

    def drain(self, raw: Any, key: str) -> Drain:
        d = self.mapping(raw, key, ("url", "params", "interval", "timeout", "on_timeout"),
                         required=("url",))
        params = d.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.fail(f"{key}.params", f"expected a mapping, got {kind(params)}")
        pairs = []
        for k, v in params.items():
            if not isinstance(k, str) or isinstance(v, (dict, list)) or v is None:
                self.fail(f"{key}.params.{k}", f"expected a text or number value, got {kind(v)}")
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


def validate(data: Any, path: Path, local_path: Callable[[str], Path]) -> Config:
    """The Config of parsed YAML `data` read from `path`; a one-line ConfigError names the key.

    `local_path(text)` turns a path as written into an absolute one (the caller's file system)."""
    v = _Loader(path, local_path)
    if not isinstance(data, dict):
        v.fail("", f"expected a mapping of settings at the top level, got {kind(data)}")
    top = v.mapping(data, "", ("github", "state_file", "workdir", "schedule", "trust", "repos",
                               "history", "git_timeout", "notify", "steps", "serve"))
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
        git_timeout=v.duration(top["git_timeout"], "git_timeout") if "git_timeout" in top
        else defaults.git_timeout,
        notify=v.notify(top.get("notify")),
        steps=v.steps(top.get("steps"), repos),
        serve=v.serve(top.get("serve")),
    )


