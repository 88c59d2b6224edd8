"""The only module that runs git for deployments: checkouts, staging builds, diffs, push."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kcistage.core import paths
from kcistage.core.durations import human
from kcistage.core.enums import Cause
from kcistage.core.model import is_sha
from kcistage.core.settings import Repo
from kcistage.errors import KcistageError, ServiceError
from kcistage.shell.git_credential import helper_command, token_fd
from kcistage.shell.git_text import (
    AUTH_REFUSED,
    GitError,
    check_number,
    check_repo,
    check_sha,
    failure_reason,
    http_remote,
    remote_host,
    tail,
)
from kcistage.shell.procgroup import stop_group

# Network operations (fetch, ls-remote, push) end after the configured `git_timeout` whatever
# happens; local ones (merges of big trees) get this long.
NETWORK_TIMEOUT = 300.0
LOCAL_TIMEOUT = 600.0
# A transfer slower than LOW_SPEED_LIMIT bytes/s for LOW_SPEED_TIME seconds is abandoned by git's
# http transport (curl): a remote that stops answering fails in a minute, not at the timeout.
LOW_SPEED_LIMIT = 1000
LOW_SPEED_TIME = 60
POLL = 0.1  # seconds between looks at a running git (timeout, stop request)
GRACE = 1.0  # seconds between SIGTERM and SIGKILL of a git process group

BOT_NAME = "kcistage"
BOT_EMAIL = "kcistage@localhost"

# Never inherited by git: tokens must not reach remotes, helpers or logs.
HIDDEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "GH_ENTERPRISE_TOKEN")

# Hardening for every git call: no hooks, no signing prompts, no ext:: transport.
_HARDEN = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgSign=false",
           "-c", "protocol.ext.allow=never", "-c", "core.fsmonitor=false",
           "-c", "merge.autoStash=false", "-c", "rerere.enabled=false")


@dataclass(frozen=True)
class Conflict:
    """What one PR conflicted with while building a staging branch."""

    files: tuple[str, ...]  # the files git could not merge
    with_prs: tuple[int, ...]  # the PRs merged before it that changed one of those files


@dataclass(frozen=True)
class Build:
    """The result of building a staging branch."""

    head: str  # HEAD sha of the staging branch built
    merged: list[tuple[int, str]]  # (number, sha) merged, ascending
    left_out: list[tuple[int, str, Cause]]  # (number, sha, cause): conflict | head_moved
    # For each PR left out by a conflict, what it conflicted with: the (number, sha) merged on
    # the base before it (empty: the base alone), so it is retried when that changes.
    before: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    # For each PR left out by a conflict: the files that conflicted, and which of the PRs merged
    # before it changed them (empty: only the base did), so the reason names those, not all.
    conflicts: dict[int, Conflict] = field(default_factory=dict)


class GitStopped(KcistageError):
    """A git command was stopped because the run was asked to stop (SIGTERM)."""


class _Failed(Exception):
    """A git command exited non-zero (internal; mapped to the public errors by callers)."""

    def __init__(self, returncode: int, stderr: str):
        super().__init__(stderr)
        self.returncode = returncode
        self.stderr = stderr


class Git:
    """Runs git for deployments in persistent checkouts under `workdir / "repos"`."""

    def __init__(self, workdir: Path, hide_env: Sequence[str] = (),
                 credential: Callable[[Repo], str] | None = None,
                 timeout: float = NETWORK_TIMEOUT, stop: Callable[[], str | None] | None = None,
                 low_speed_time: int = LOW_SPEED_TIME):
        """`hide_env` names extra variables (e.g. the configured token_env) kept from git.

        `credential(repo)` gives the token for an http(s) remote; git receives it through the
        credential helper of kcistage.shell.git_credential, never in its arguments or environment.
        SSH and local remotes get none (SSH uses the operator's deploy key). `timeout` bounds each
        network command (seconds); `stop()` returning a reason (SIGTERM) ends the running git at
        once, its whole process group, with GitStopped."""
        self.workdir = Path(workdir)
        self.hidden = set(HIDDEN_ENV) | set(hide_env)
        self.credential = credential
        self.timeout = timeout
        self.stop = stop
        self.low_speed = ("-c", f"http.lowSpeedLimit={LOW_SPEED_LIMIT}",
                          "-c", f"http.lowSpeedTime={max(1, low_speed_time)}")

    # -- plumbing ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        """The environment for git: no tokens, no prompts, a fixed bot identity, C locale."""
        env = {k: v for k, v in os.environ.items() if k not in self.hidden}
        env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="", LC_ALL="C",
                   GIT_EDITOR=":", GIT_MERGE_AUTOEDIT="no",
                   GIT_AUTHOR_NAME=BOT_NAME, GIT_AUTHOR_EMAIL=BOT_EMAIL,
                   GIT_COMMITTER_NAME=BOT_NAME, GIT_COMMITTER_EMAIL=BOT_EMAIL)
        for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
            env.pop(name, None)
        return env

    def _run(self, args: Sequence[str], cwd: Path | None, *, input: str | None = None,
             timeout: float = LOCAL_TIMEOUT, remote: Repo | None = None) -> str:
        """Run `git <args>` and return stdout; raise _Failed on a non-zero exit or timeout.

        With `remote`, a network command: bounded by the configured timeout and the low-speed
        limits, and git may authenticate to that repo's http(s) url through the helper. git runs
        in a process group of its own, stopped as a whole on timeout, on stop() and on any error
        here, so no git (nor its remote helper) outlives the command."""
        if remote is not None:
            timeout = self.timeout
        network = self.low_speed if remote is not None else ()
        with self._credential_args(remote) as (extra, fds):
            try:
                proc = subprocess.Popen(["git", *_HARDEN, *network, *extra, *args], cwd=cwd,
                                        stdin=subprocess.DEVNULL if input is None
                                        else subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, errors="replace",
                                        env=self._env(), pass_fds=fds, start_new_session=True)
            except OSError as exc:
                raise GitError(f"cannot run git: {exc}") from None
            try:
                out, err = self._wait(proc, args[0], input, timeout)
            finally:
                if proc.poll() is None:  # stopped, timed out, or kcistage itself failing
                    stop_group(proc, GRACE)
        if proc.returncode != 0:
            raise _Failed(proc.returncode, err)
        return out

    def _wait(self, proc: subprocess.Popen[str], command: str, input: str | None,
              timeout: float) -> tuple[str, str]:
        """Feed and read `proc` until it exits; _Failed at the timeout, GitStopped on stop()."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return proc.communicate(input, timeout=min(POLL, max(0.0, deadline
                                                                     - time.monotonic())))
            except subprocess.TimeoutExpired:
                input = None  # sent with the first call; communicate() goes on with the rest
            reason = self.stop() if self.stop is not None else None
            if reason is not None:
                raise GitStopped(f"git {command} stopped: {reason}")
            if time.monotonic() >= deadline:
                raise _Failed(-1, f"git {command} timed out after {human(timeout)}")

    @contextmanager
    def _credential_args(self, remote: Repo | None
                         ) -> Iterator[tuple[tuple[str, ...], tuple[int, ...]]]:
        """Config options and descriptors handing git the repo's token, for the command only.

        The empty `credential.helper` first drops every helper from git's config files (one
        like `store` would write the token to disk); git never prompts (GIT_TERMINAL_PROMPT=0)."""
        reset = ("-c", "credential.helper=")
        where = http_remote(remote.url) if remote is not None else None
        if remote is None or where is None or self.credential is None:
            yield reset, ()
            return
        with token_fd(self.credential(remote)) as fd:
            yield (*reset, "-c", f"credential.helper={helper_command(fd, *where)}"), (fd,)

    def _local(self, repo: Repo, *args: str, input: str | None = None) -> str:
        """Run a local git command in the repo's checkout; GitError on failure."""
        try:
            return self._run(args, self.checkout_dir(repo), input=input)
        except _Failed as exc:
            raise GitError(f"{repo.name}: git {args[0]} failed: {tail(exc.stderr)}") from None

    def _ensure_checkout(self, repo: Repo) -> Path:
        """The repo's checkout, created empty (`git init`) on first use; no remote is stored."""
        path = self.checkout_dir(repo)
        if not (path / ".git").is_dir():
            path.mkdir(parents=True, exist_ok=True)
            self._local(repo, "init", "-q")
        return path

    def _missing(self, repo: Repo, shas: Sequence[str]) -> set[str]:
        """Which of `shas` are not commits in the checkout (one cat-file call)."""
        if not shas:
            return set()
        out = self._local(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                          input="".join(f"{sha}^{{commit}}\n" for sha in shas))
        found = {line.split()[0] for line in out.splitlines() if line.endswith(" commit")}
        return {sha for sha in shas if sha not in found}

    def _fetch(self, repo: Repo, refspecs: Sequence[str]) -> None:
        """One `git fetch` of `refspecs` from the repo's url; _Failed on failure."""
        self._run(["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--", repo.url,
                   *refspecs], self.checkout_dir(repo), remote=repo)

    def _service_error(self, repo: Repo, action: str, exc: _Failed) -> ServiceError:
        """A ServiceError naming the repo and the remote's host (never the url's secrets) with
        git's reason: its fatal/error/rejected lines, credentials in URLs masked."""
        where = http_remote(repo.url)
        host = remote_host(repo.url)
        if exc.returncode == -1:  # our timeout: git said nothing useful
            detail = f"{host} did not finish in time ({exc.stderr})"
        elif where is not None and any(sign in exc.stderr for sign in AUTH_REFUSED):
            detail = (f"{host} refused the credential (HTTP authentication): check the token "
                      f"or the GitHub App installation and its access to {repo.github}")
        elif where is not None and "error: 403" in exc.stderr:
            detail = f"{host} answered 403: the credential may not write to {repo.github}"
        else:
            detail = f"{host}: {failure_reason(exc.stderr, repo.url)}"
        return ServiceError(f"{repo.name}: git {action} failed: {detail}")

    # -- public -----------------------------------------------------------------------------

    def checkout_dir(self, repo: Repo) -> Path:
        """Where the repo's staging checkout lives: workdir / "repos" / repo.name."""
        return paths.checkouts(self.workdir) / repo.name

    def remote_head(self, repo: Repo) -> str:
        """The sha of the base branch on the remote; ServiceError if unreachable or missing."""
        check_repo(repo)
        ref = f"refs/heads/{repo.base}"
        try:
            out = self._run(["ls-remote", "--", repo.url, ref], None, remote=repo)
        except _Failed as exc:
            raise self._service_error(repo, "ls-remote", exc) from None
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref and is_sha(sha):
                return sha
        raise ServiceError(f"{repo.name}: branch {repo.base!r} not found on the remote")

    def build(self, repo: Repo, base_sha: str, prs: Sequence[tuple[int, str]]) -> Build:
        """Reset the staging branch to base_sha and merge each PR at its decided sha."""
        check_repo(repo)
        check_sha(base_sha, f"{repo.name} base")
        wanted = sorted((check_number(n, repo.name), check_sha(s, f"{repo.name}#{n}"))
                        for n, s in prs)
        self._ensure_checkout(repo)
        absent = self._fetch_needed(repo, base_sha, wanted)
        if base_sha in absent:
            # Most likely the base was force-pushed since the decision: the next tick re-decides.
            raise ServiceError(f"{repo.name}: base commit {base_sha} not found on the remote")

        branch = repo.staging_branch
        self._local(repo, "checkout", "-q", "-f", "-B", branch, base_sha, "--")
        self._local(repo, "reset", "-q", "--hard", base_sha, "--")  # also drops merge state
        self._local(repo, "clean", "-q", "-f", "-d", "-x")

        merged: list[tuple[int, str]] = []
        left_out: list[tuple[int, str, Cause]] = []
        before: dict[int, list[tuple[int, str]]] = {}
        conflicts: dict[int, Conflict] = {}
        for number, sha in wanted:
            if sha in absent:
                left_out.append((number, sha, Cause.HEAD_MOVED))
                continue
            files = self._merge(repo, number, sha)
            if files is None:
                merged.append((number, sha))
            else:
                left_out.append((number, sha, Cause.CONFLICT))
                before[number] = list(merged)
                conflicts[number] = Conflict(tuple(files), tuple(
                    n for n, other in merged if self._touches(repo, base_sha, other, files)))
        head = self._local(repo, "rev-parse", "--verify", "HEAD").strip()
        return Build(head=head, merged=merged, left_out=left_out, before=before,
                     conflicts=conflicts)

    def _touches(self, repo: Repo, base_sha: str, sha: str, files: list[str]) -> bool:
        """Whether the PR at `sha` changed one of `files` (since it left the base)."""
        if not files:
            return False
        out = self._local(repo, "diff", "--name-only", "-z", "--no-renames",
                          f"{base_sha}...{sha}", "--", *files)
        return bool(out.strip("\0"))

    def _fetch_needed(self, repo: Repo, base_sha: str,
                      wanted: Sequence[tuple[int, str]]) -> set[str]:
        """Fetch whatever commits are not in the checkout yet; return those still missing."""
        missing = self._missing(repo, [base_sha, *(sha for _, sha in wanted)])
        if not missing:
            return missing  # a rebuild with known commits needs no network at all
        refspecs = []
        if base_sha in missing:
            refspecs.append(f"+refs/heads/{repo.base}:refs/kcistage/base")
        refspecs += [f"+refs/pull/{n}/head:refs/kcistage/pull/{n}"
                     for n, sha in wanted if sha in missing]
        try:
            self._fetch(repo, refspecs)
        except _Failed:
            # One vanished PR ref fails the whole fetch: retry with the refs that exist
            # (ls-remote also tells an unreachable remote from a missing ref).
            try:
                listing = self._run(["ls-remote", "--", repo.url], None, remote=repo)
            except _Failed as exc:
                raise self._service_error(repo, "ls-remote", exc) from None
            names = {line.partition("\t")[2] for line in listing.splitlines()}
            present = [spec for spec in refspecs if spec[1:].split(":")[0] in names]
            if present:
                try:
                    self._fetch(repo, present)
                except _Failed as exc:
                    raise self._service_error(repo, "fetch", exc) from None
        missing = self._missing(repo, sorted(missing))
        # A ref that moved on may no longer contain the decided commit: ask for it by sha.
        for sha in sorted(missing):
            try:
                self._fetch(repo, [sha])
            except _Failed:
                continue
        return self._missing(repo, sorted(missing))

    def _merge(self, repo: Repo, number: int, sha: str) -> list[str] | None:
        """Merge one PR commit into HEAD: None when merged, else (tree restored) the files that
        conflicted (empty when git names none, e.g. unrelated histories)."""
        message = f"Merge PR #{number} ({sha[:12]})"
        try:
            self._run(["merge", "-q", "--no-ff", "--no-edit", "-m", message, "--", sha],
                      self.checkout_dir(repo))
            return None
        except _Failed as exc:
            in_merge = self._run_ok(repo, "rev-parse", "-q", "--verify", "MERGE_HEAD")
            if in_merge:
                unmerged = self._local(repo, "diff", "--name-only", "-z", "--diff-filter=U")
                self._local(repo, "merge", "--abort")
                return sorted({name for name in unmerged.split("\0") if name})
            if "unrelated histories" in exc.stderr:
                self._local(repo, "reset", "-q", "--hard", "HEAD", "--")
                return []
            raise GitError(f"{repo.name}: merging #{number} failed: {tail(exc.stderr)}") \
                from None

    def _run_ok(self, repo: Repo, *args: str) -> bool:
        """True if a local git command succeeds."""
        try:
            self._run(args, self.checkout_dir(repo))
            return True
        except _Failed:
            return False

    def changed_files(self, repo: Repo, old: str | None, new: str) -> list[str] | None:
        """Files changed between two staging heads; None when old is None or not in the checkout."""
        if old is None:
            return None
        check_repo(repo)
        check_sha(old, f"{repo.name} old head")
        check_sha(new, f"{repo.name} new head")
        if not (self.checkout_dir(repo) / ".git").is_dir() or self._missing(repo, [old, new]):
            return None
        out = self._local(repo, "diff", "--name-only", "-z", "--no-renames", old, new, "--")
        return sorted(name for name in out.split("\0") if name)

    def can_push(self, repo: Repo) -> None:
        """Prove the remote would take a push of the staging branch (`git push --dry-run`).

        Works in a throw-away repository with one empty commit, so it never touches the
        checkouts a running deployment uses; ServiceError (git's reason) if refused."""
        check_repo(repo)
        with tempfile.TemporaryDirectory(prefix="kcistage-check-") as tmp:
            scratch = Path(tmp)
            self._run(["init", "-q"], scratch)
            tree = self._run(["mktree"], scratch, input="").strip()
            sha = self._run(["commit-tree", "-m", "kcistage check", tree], scratch).strip()
            ref = f"refs/heads/{repo.staging_branch}"
            try:
                self._run(["push", "-q", "--dry-run", "--force", "--no-verify", "--", repo.url,
                           f"+{sha}:{ref}"], scratch, remote=repo)
            except _Failed as exc:
                raise self._service_error(repo, "push --dry-run", exc) from None

    def push(self, repo: Repo) -> None:
        """Force-push the staging branch to the repo's url, only when `repo.push` is set."""
        if not repo.push:
            return
        check_repo(repo)
        ref = f"refs/heads/{repo.staging_branch}"
        try:
            self._run(["push", "-q", "--force", "--no-verify", "--", repo.url, f"+{ref}:{ref}"],
                      self.checkout_dir(repo), remote=repo)
        except _Failed as exc:
            raise self._service_error(repo, "push", exc) from None
