"""Plain data shared by the core and the shell: pull requests, comments, targets.

A *target* is plain JSON-able data: ``{repo_name: {"base": sha, "prs": [[number, sha], ...]}}``
with PRs in ascending number. Targets compare with ``==``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SHA_RE = re.compile(r"^[0-9a-f]{40}$")

Target = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class PullRequest:
    """An open pull request as listed by GitHub (only the fields kcistage uses)."""

    repo: str  # short repo name from the config
    number: int
    author: str
    sha: str  # head commit, 40 hex
    base: str  # base branch name
    draft: bool = False
    labels: tuple[str, ...] = ()
    updated_at: str = ""
    title: str = ""
    depends: tuple[str, ...] = ()  # its Depends-On references as written (core/dependencies.py)
    depends_problem: str = ""  # why its Depends-On lines cannot be read (one short line)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of this PR (the Depends-On fields only when there are some)."""
        out: dict[str, Any] = {
            "repo": self.repo, "number": self.number, "author": self.author, "sha": self.sha,
            "base": self.base, "draft": self.draft, "labels": list(self.labels),
            "updated_at": self.updated_at, "title": self.title,
        }
        if self.depends:
            out["depends"] = list(self.depends)
        if self.depends_problem:
            out["depends_problem"] = self.depends_problem
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PullRequest:
        """The inverse of to_json."""
        return cls(
            repo=data["repo"], number=int(data["number"]), author=data["author"], sha=data["sha"],
            base=data["base"], draft=bool(data.get("draft", False)),
            labels=tuple(data.get("labels", ())), updated_at=data.get("updated_at", ""),
            title=data.get("title", ""), depends=tuple(data.get("depends", ())),
            depends_problem=data.get("depends_problem", ""),
        )


@dataclass(frozen=True)
class Comment:
    """A PR (issue) comment as listed by GitHub."""

    repo: str  # short repo name
    number: int  # PR number
    id: int
    author: str
    body: str
    created_at: str  # ISO-8601 with offset
    updated_at: str = ""


def is_sha(text: str) -> bool:
    """True for a full lowercase 40-hex commit id."""
    return bool(SHA_RE.match(text))


def pr_ref(repo: str, number: int, sha: str) -> str:
    """The `<repo>#<number>@<sha>` form used in status, env and messages."""
    return f"{repo}#{number}@{sha}"


def target_prs(target: Target) -> list[str]:
    """Every merged PR of a target as `<repo>#<number>@<sha>`, in merge order."""
    return [pr_ref(repo, n, sha) for repo, t in target.items() for n, sha in t["prs"]]


def parse_time(text: str) -> datetime:
    """Parse ISO-8601 (GitHub's trailing Z included) into an aware datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """ISO-8601 with a UTC offset, second precision."""
    return value.astimezone(UTC).isoformat(timespec="seconds")
