"""The run context shared by the engine's shell modules: config, clock, state, clients, output."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kcistage.core import paths
from kcistage.core.settings import Config, Repo
from kcistage.core.state import State
from kcistage.shell import statefile

if TYPE_CHECKING:  # imported on first use at run time: a status or idle tick never needs git
    from kcistage.shell.git import Git
    from kcistage.shell.github import GitHub


@dataclass
class Output:
    """Where progress goes: one summary line per tick always, details with -v."""

    write: Callable[[str], None] = print
    verbose: bool = False

    def line(self, text: str) -> None:
        """Always printed."""
        self.write(text)

    def detail(self, text: str) -> None:
        """Printed with -v only."""
        if self.verbose:
            self.write(text)


@dataclass
class Context:
    """Everything one run works with; GitHub and git clients are made on first use."""

    cfg: Config
    clock: Callable[[], datetime]
    state: State
    out: Output = field(default_factory=Output)
    dry_run: bool = False
    token: str | None = None  # a token given by the caller; else the configured credential
    local: bool = False  # GitHub is a stand-in on loopback: no write pacing, short retry backoff
    stop_reason: str | None = None  # set by the SIGTERM handler
    deferred: Exception | None = None  # an error to end the run with once its work is saved
    controls: dict[str, Any] | None = None  # the operator controls as the last look read them
    _gh: GitHub | None = None
    _git: Git | None = None
    _credentials: Any = None

    @property
    def credentials(self) -> Any:
        """The GitHub credential (token or App), read on first use; PyGithub is imported here."""
        if self._credentials is None:
            from kcistage.shell.credentials import TokenCredentials, open_credentials

            self._credentials = TokenCredentials(self.token) if self.token is not None \
                else open_credentials(self.cfg, self.clock, known=self.state.get("github", {}).get("app"),
                                      token_file=paths.app_token_file(os.environ,
                                                                      self.cfg.serve.poke_dir))
        return self._credentials

    @property
    def gh(self) -> GitHub:
        """The GitHub client, made on first use."""
        if self._gh is None:
            from kcistage.shell.github import GitHub

            self._gh = GitHub(self.cfg.github, self.credentials,
                              self.state.setdefault("github", {}),
                              self.clock, pace=0.0 if self.local else 1.0,
                              backoff=0.05 if self.local else 0.5)
        return self._gh

    @property
    def git(self) -> Git:
        """The git layer working under workdir; http(s) remotes get the GitHub credential."""
        if self._git is None:
            from kcistage.shell.git import Git

            self._git = Git(self.cfg.workdir, hide_env=(self.cfg.github.token_env,),
                            credential=lambda repo: self.credentials.token(repo.github),
                            timeout=self.cfg.git_timeout.total_seconds(),
                            stop=lambda: self.stop_reason)
        return self._git

    def remote_head(self, repo: Repo) -> str:
        """The base branch head of a repo, from GitHub's branch endpoint (conditional, like polls)."""
        return str(self.gh.branch_head(repo))

    def save(self) -> None:
        """Write the state file (never in a dry run); finished deployments that decisions no
        longer read move to the history file beside it."""
        if not self.dry_run:
            remembered = getattr(self._credentials, "remembered", None)
            if remembered is not None:  # a GitHub App's slug and installation ids (no secret)
                self.state.setdefault("github", {})["app"] = remembered()
            saved = statefile.save(self.cfg.state_file, self.state, self.cfg.history, self.clock())
            for note in saved.notes:
                self.out.line(note)
            if saved.gone:  # step logs are kept exactly as long as their deployments
                from kcistage.shell.steps import remove_logs  # (imports requests: only here)
                from kcistage.shell.tree_files import remove_trees

                remove_logs(self.cfg.workdir, saved.gone, saved.kept)
                remove_trees(self.cfg.workdir, saved.gone, saved.kept)

    def step_env(self) -> dict[str, str]:
        """The tool's environment minus anything holding the GitHub token."""
        secret = {self.cfg.github.token_env, "GITHUB_TOKEN", "GH_TOKEN"}
        secret |= {s.kernelci.token_env for s in self.cfg.steps
                   if s.kernelci is not None and s.kernelci.token_env}
        env = {k: v for k, v in os.environ.items() if k not in secret}
        known = self._credentials.value if self._credentials is not None and \
            self._credentials.kind == "token" else self.token
        if known:
            env = {k: v for k, v in env.items() if v != known}
        return env
