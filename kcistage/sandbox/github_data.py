"""The GitHub stand-in's data: repositories, PRs, comments, permissions, and their JSON shapes."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

# Legacy "permission" values GitHub reports for each role (role_name keeps the real one).
_LEGACY = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}


class _Reply(Exception):
    """An HTTP answer other than 200, raised from deep inside a route."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(login: str | None) -> dict[str, Any] | None:
    """A user object; None (JSON null) for a deleted account, as GitHub's schema allows."""
    if login is None:
        return None
    return {"login": login, "id": abs(hash(login)) % 10**7, "type": "User",
            "url": f"/users/{login}", "html_url": f"https://github.com/{login}"}


class StandInData:
    """Repositories, pull requests, comments and permissions, and their GitHub JSON shapes."""

    def __init__(self, clock: Callable[[], datetime] | None = None, login: str = "kcibot"):
        self.login = login  # the bot: what /user answers and who writes comments and statuses
        self.clock = clock or (lambda: datetime.now(UTC))
        self.url = ""  # the base URL once served (JSON shapes carry absolute URLs)
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self._repos: dict[str, dict[str, Any]] = {}
        self._comments: dict[int, dict[str, Any]] = {}  # id -> {"repo", "number", "author", ...}
        self._reactions: dict[int, list[tuple[str, str]]] = {}
        self._next_id = 1000
        self._lock = threading.RLock()

    # -- data -------------------------------------------------------------------------------
    def add_repo(self, full_name: str, default_branch: str = "main",
                 heads: Callable[[str], str | None] | None = None) -> None:
        """Create a repository; `heads(branch)` links it to a real git repo's branch heads.

        Without `heads` the default branch starts at a made-up commit and moves by set_branch."""
        with self._lock:
            made_up = hashlib.sha1(full_name.encode()).hexdigest()
            self._repos[full_name] = {"default_branch": default_branch, "prs": {}, "perms": {},
                                      "branches": {default_branch: made_up}, "heads": heads}

    def set_branch(self, full_name: str, branch: str, sha: str) -> None:
        """Point a branch of an unlinked repository at `sha`."""
        with self._lock:
            self._repo(full_name)["branches"][branch] = sha

    def branch_head(self, full_name: str, branch: str) -> str | None:
        """The commit a branch points to (None: no such branch)."""
        repo = self._repo(full_name)
        heads: Callable[[str], str | None] | None = repo["heads"]
        branches: dict[str, str] = repo["branches"]
        return heads(branch) if heads else branches.get(branch)

    def add_pr(self, full_name: str, number: int, author: str | None, sha: str, base: str = "main",
               draft: bool = False, labels: tuple[str, ...] | list[str] = (), title: str = "") -> None:
        """Open a pull request."""
        now = _stamp(self.clock())
        with self._lock:
            self._repo(full_name)["prs"][number] = {
                "number": number, "author": author, "sha": sha, "base": base, "draft": draft,
                "labels": list(labels), "title": title or f"PR {number}", "state": "open",
                "created_at": now, "updated_at": now, "ref": f"{author or 'ghost'}/branch-{number}"}

    def push_pr(self, full_name: str, number: int, sha: str) -> None:
        """A new head commit on a pull request."""
        self.update_pr(full_name, number, sha=sha)

    def update_pr(self, full_name: str, number: int, **fields: Any) -> None:
        """Change draft, labels, state, base, title or sha of a pull request."""
        with self._lock:
            pr = self._repo(full_name)["prs"][number]
            for key, value in fields.items():
                if key not in ("draft", "labels", "state", "base", "title", "sha"):
                    raise KeyError(key)
                pr[key] = list(value) if key == "labels" else value
            pr["updated_at"] = _stamp(self.clock())

    def add_comment(self, full_name: str, number: int, author: str | None, body: str,
                    created_at: datetime | None = None) -> int:
        """Comment on an issue or PR; returns the comment id."""
        when = _stamp(created_at or self.clock())
        with self._lock:
            self._repo(full_name)
            self._next_id += 1
            self._comments[self._next_id] = {"repo": full_name, "number": number, "author": author,
                                             "body": body, "created_at": when, "updated_at": when}
            return self._next_id

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> None:
        """Edit a comment (its updated_at moves)."""
        with self._lock:
            self._comments[comment_id].update(body=body, updated_at=_stamp(self.clock()))

    def set_permission(self, full_name: str, login: str, permission: str,
                       role_name: str | None = None) -> None:
        """Make `login` a collaborator with this role (maintain/triage map as on GitHub)."""
        with self._lock:
            self._repo(full_name)["perms"][login.lower()] = (
                login, _LEGACY.get(permission, permission), role_name or permission)

    # -- inspection -------------------------------------------------------------------------
    def comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        """The comments of an issue/PR as GitHub would list them."""
        with self._lock:
            return [self._comment_json(cid) for cid, c in sorted(self._comments.items())
                    if c["repo"] == full_name and c["number"] == number]

    def reactions(self, comment_id: int) -> list[str]:
        """The reaction contents on a comment."""
        with self._lock:
            return [content for _, content in self._reactions.get(comment_id, [])]

    # -- lookups and JSON shapes ------------------------------------------------------------
    def _repo(self, full_name: str) -> dict[str, Any]:
        if full_name not in self._repos:
            raise _Reply(404, {"message": "Not Found"})
        return self._repos[full_name]

    def _pr_json(self, full: str, pr: dict[str, Any]) -> dict[str, Any]:
        base_url = f"{self.url}/repos/{full}"
        html = f"https://github.com/{full}/pull/{pr['number']}"
        repo = self._repo_json(full)
        return {
            "id": pr["number"] + 10**6, "node_id": f"PR_{pr['number']}", "number": pr["number"],
            "state": pr["state"], "locked": False, "title": pr["title"], "body": "",
            "user": _user(pr["author"]), "draft": pr["draft"], "author_association": "CONTRIBUTOR",
            "labels": [{"id": i + 1, "name": name, "color": "ededed", "default": False}
                       for i, name in enumerate(pr["labels"])],
            "head": {"ref": pr["ref"], "sha": pr["sha"], "label": f"{pr['author'] or 'ghost'}:{pr['ref']}",
                     "user": _user(pr["author"]), "repo": repo},
            "base": {"ref": pr["base"], "sha": self.branch_head(full, pr["base"]) or "0" * 40,
                     "label": f"{full.split('/')[0]}:{pr['base']}", "repo": repo},
            "created_at": pr["created_at"], "updated_at": pr["updated_at"],
            "closed_at": None, "merged_at": None, "merge_commit_sha": None,
            "url": f"{base_url}/pulls/{pr['number']}", "html_url": html,
            "issue_url": f"{base_url}/issues/{pr['number']}",
            "comments_url": f"{base_url}/issues/{pr['number']}/comments",
            "statuses_url": f"{base_url}/statuses/{pr['sha']}",
        }

    def _repo_json(self, full: str) -> dict[str, Any]:
        owner, name = full.split("/", 1)
        return {"id": abs(hash(full)) % 10**7, "name": name, "full_name": full, "private": False,
                "owner": _user(owner), "default_branch": self._repo(full)["default_branch"],
                "url": f"{self.url}/repos/{full}", "html_url": f"https://github.com/{full}"}

    def _comment_json(self, cid: int) -> dict[str, Any]:
        c = self._comments[cid]
        base = f"{self.url}/repos/{c['repo']}"
        return {"id": cid, "node_id": f"IC_{cid}", "body": c["body"], "user": _user(c["author"]),
                "created_at": c["created_at"], "updated_at": c["updated_at"],
                "author_association": "NONE", "url": f"{base}/issues/comments/{cid}",
                "issue_url": f"{base}/issues/{c['number']}",
                "html_url": f"https://github.com/{c['repo']}/pull/{c['number']}#issuecomment-{cid}"}

    def _branch_json(self, full: str, name: str, sha: str) -> dict[str, Any]:
        """GitHub's branch-with-protection shape (the commit's git details are not tracked)."""
        base = f"{self.url}/repos/{full}"
        commit: dict[str, Any] = {
            "sha": sha, "node_id": f"C_{sha[:12]}", "url": f"{base}/commits/{sha}",
            "html_url": f"https://github.com/{full}/commit/{sha}",
            "comments_url": f"{base}/commits/{sha}/comments",
            "commit": {"url": f"{base}/git/commits/{sha}", "author": None, "committer": None,
                       "message": "", "comment_count": 0,
                       "tree": {"sha": "0" * 40, "url": f"{base}/git/trees/{'0' * 40}"}},
            "author": None, "committer": None, "parents": [],
        }
        link = f"{base}/branches/{quote(name)}"
        return {"name": name, "commit": commit, "protected": False,
                "protection": {"enabled": False, "required_status_checks": {
                    "enforcement_level": "off", "contexts": [], "checks": []}},
                "protection_url": f"{link}/protection",
                "_links": {"self": link, "html": f"https://github.com/{full}/tree/{quote(name)}"}}
