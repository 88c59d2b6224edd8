"""What git is given and what it says: names checked, a remote's host, failure reasons.

Names are checked before they reach git; git's failure reasons are cut to a line with any
credential in a URL masked."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from kcistage.core.model import is_sha
from kcistage.core.settings import Repo
from kcistage.errors import KcistageError

_REF_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_USERINFO = re.compile(r"://[^/@\s]+@")
_SCP = re.compile(r"^[^/@:]+@([^/:]+):")  # git@github.com:owner/name.git
_UNABLE = re.compile(r"unable to access '[^']*': ")  # curl's failures repeat the url
# The lines of git's stderr that say why (the rest is progress and advice).
_REASONS = ("fatal:", "error:", "remote: error:", "! [")
_GENERIC = "failed to push some refs"  # said after every refused push: the reason came before
# How git says an http remote wanted a credential it did not get or did not take.
AUTH_REFUSED = ("Authentication failed", "could not read Username", "could not read Password",
                 "error: 401")


class GitError(KcistageError):
    """A local git operation failed (not a merge conflict, not the network)."""


def tail(text: str, lines: int = 5) -> str:
    """The last few non-empty lines of git's stderr, credentials in URLs masked."""
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return _USERINFO.sub("://***@", " | ".join(kept))


def check_sha(sha: str, what: str) -> str:
    """`sha` if it is a full lowercase commit id, else GitError naming `what`."""
    if not isinstance(sha, str) or not is_sha(sha):
        raise GitError(f"{what}: {sha!r} is not a 40-hex commit sha")
    return sha


def check_number(number: object, what: str) -> int:
    """`number` as a positive int, else GitError."""
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise GitError(f"{what}: PR number {number!r} is not a positive integer")
    return number


def check_repo(repo: Repo) -> None:
    """Refuse names that could escape the workdir or be read as options/refspecs."""
    if not _REPO_NAME.match(repo.name) or repo.name in (".", ".."):
        raise GitError(f"repo name {repo.name!r} is not a safe folder name")
    for what, ref in (("base", repo.base), ("staging_branch", repo.staging_branch)):
        if not _REF_NAME.match(ref) or ".." in ref or ref.endswith((".lock", "/", ".")):
            raise GitError(f"{repo.name}: {what} {ref!r} is not a valid branch name")
    if not repo.url:
        raise GitError(f"{repo.name}: no fetch url")


def _host(parts: SplitResult) -> str:
    """host[:port] of a parsed url that has a host."""
    return f"{parts.hostname}" if parts.port is None else f"{parts.hostname}:{parts.port}"


def remote_host(url: str) -> str:
    """The host (and port) a remote url names, for messages; a local path as written."""
    parts = urlsplit(url)
    if parts.scheme and parts.hostname:
        return _host(parts)
    scp = _SCP.match(url)
    return scp.group(1) if scp else url


def failure_reason(stderr: str, url: str) -> str:
    """Git's reason for a failure: its fatal, error and rejected lines (else its last lines),
    without the url it repeats and with any credential in a URL masked."""
    text = _UNABLE.sub("", stderr.replace(url, "<url>"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(_REASONS) and _GENERIC not in line]
    return tail("\n".join(said or lines), 4) or "no reason given"


def http_remote(url: str) -> tuple[str, str] | None:
    """(protocol, host[:port]) of an http(s) remote, the only kind given a credential; else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, _host(parts)
