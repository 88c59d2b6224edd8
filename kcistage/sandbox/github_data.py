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


_EPOCH_STAMP = "2020-01-01T00:00:00Z"  # when every stand-in repository was "created"


def _user(login: str | None) -> dict[str, Any] | None:
    """A user object; None (JSON null) for a deleted account, as GitHub's schema allows."""
    if login is None:
        return None
    uid = abs(hash(login)) % 10**7
    url = f"/users/{login}"
    return {"login": login, "id": uid, "node_id": f"U_{uid}", "type": "User", "site_admin": False,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
            "url": url, "html_url": f"https://github.com/{login}",
            **{f"{name}_url": f"{url}/{name}" for name in _USER_LINKS}}


# The link fields GitHub's schemas require on users and repositories (values: API addresses).
_USER_LINKS = ("events", "followers", "following", "gists", "organizations", "received_events",
               "repos", "starred", "subscriptions")
_REPO_LINKS = ("archive", "assignees", "blobs", "branches", "collaborators", "comments", "commits",
               "compare", "contents", "contributors", "deployments", "downloads", "events", "forks",
               "git_commits", "git_refs", "git_tags", "hooks", "issue_comment", "issue_events",
               "issues", "keys", "labels", "languages", "merges", "milestones", "notifications",
               "pulls", "releases", "stargazers", "statuses", "subscribers", "subscription", "tags",
               "teams", "trees")


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
               draft: bool = False, labels: tuple[str, ...] | list[str] = (), title: str = "",
               body: str = "") -> None:
        """Open a pull request (`body`: its description)."""
        now = _stamp(self.clock())
        with self._lock:
            self._repo(full_name)["prs"][number] = {
                "number": number, "author": author, "sha": sha, "base": base, "draft": draft,
                "labels": list(labels), "title": title or f"PR {number}", "state": "open",
                "body": body, "merged": False, "closed_at": None, "merged_at": None,
                "created_at": now, "updated_at": now, "ref": f"{author or 'ghost'}/branch-{number}"}

    def push_pr(self, full_name: str, number: int, sha: str) -> None:
        """A new head commit on a pull request."""
        self.update_pr(full_name, number, sha=sha)

    def update_pr(self, full_name: str, number: int, **fields: Any) -> None:
        """Change draft, labels, state, base, title, body or sha of a pull request; `merged=True`
        closes it as merged."""
        with self._lock:
            pr = self._repo(full_name)["prs"][number]
            now = _stamp(self.clock())
            for key, value in fields.items():
                if key not in ("draft", "labels", "state", "base", "title", "sha", "body", "merged"):
                    raise KeyError(key)
                pr[key] = list(value) if key == "labels" else value
            if pr.get("merged"):
                pr["state"] = "closed"
                pr["merged_at"] = pr.get("merged_at") or now
            if "state" in fields:
                pr["closed_at"] = None if pr["state"] == "open" else (pr.get("closed_at") or now)
            pr["updated_at"] = now

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
            "state": pr["state"], "locked": False, "title": pr["title"],
            "body": pr.get("body") or None,  # GitHub sends null for an empty description
            "user": _user(pr["author"]), "draft": pr["draft"], "author_association": "CONTRIBUTOR",
            "labels": [{"id": i + 1, "node_id": f"LA_{i + 1}", "name": name, "color": "ededed",
                        "default": False, "description": "",
                        "url": f"{base_url}/labels/{quote(name)}"}
                       for i, name in enumerate(pr["labels"])],
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "milestone": None, "auto_merge": None, "active_lock_reason": None,
            "commits_url": f"{base_url}/pulls/{pr['number']}/commits",
            "review_comments_url": f"{base_url}/pulls/{pr['number']}/comments",
            "review_comment_url": f"{base_url}/pulls/comments{{/number}}",
            "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
            "_links": {rel: {"href": href} for rel, href in (
                ("self", f"{base_url}/pulls/{pr['number']}"), ("html", html),
                ("issue", f"{base_url}/issues/{pr['number']}"),
                ("comments", f"{base_url}/issues/{pr['number']}/comments"),
                ("review_comments", f"{base_url}/pulls/{pr['number']}/comments"),
                ("review_comment", f"{base_url}/pulls/comments{{/number}}"),
                ("commits", f"{base_url}/pulls/{pr['number']}/commits"),
                ("statuses", f"{base_url}/statuses/{pr['sha']}"))},
            "head": {"ref": pr["ref"], "sha": pr["sha"], "label": f"{pr['author'] or 'ghost'}:{pr['ref']}",
                     "user": _user(pr["author"]), "repo": repo},
            "base": {"ref": pr["base"], "sha": self.branch_head(full, pr["base"]) or "0" * 40,
                     "label": f"{full.split('/')[0]}:{pr['base']}", "repo": repo,
                     "user": _user(full.split("/")[0])},
            "created_at": pr["created_at"], "updated_at": pr["updated_at"],
            "closed_at": pr.get("closed_at"), "merged_at": pr.get("merged_at"),
            "merge_commit_sha": None,
            "url": f"{base_url}/pulls/{pr['number']}", "html_url": html,
            "issue_url": f"{base_url}/issues/{pr['number']}",
            "comments_url": f"{base_url}/issues/{pr['number']}/comments",
            "statuses_url": f"{base_url}/statuses/{pr['sha']}",
        }

    def _repo_json(self, full: str) -> dict[str, Any]:
        owner, name = full.split("/", 1)
        url, rid = f"{self.url}/repos/{full}", abs(hash(full)) % 10**7
        return {"id": rid, "node_id": f"R_{rid}", "name": name, "full_name": full,
                "private": False, "visibility": "public", "owner": _user(owner),
                "default_branch": self._repo(full)["default_branch"], "url": url,
                "html_url": f"https://github.com/{full}", "description": None, "fork": False,
                "clone_url": f"https://github.com/{full}.git", "git_url": f"git://github.com/{full}.git",
                "ssh_url": f"git@github.com:{full}.git", "svn_url": f"https://github.com/{full}",
                "mirror_url": None, "homepage": None, "language": None, "license": None,
                "has_issues": True, "has_projects": False, "has_wiki": False, "has_pages": False,
                "has_discussions": False, "has_downloads": False, "archived": False, "disabled": False,
                "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0,
                "stargazers_count": 0, "watchers": 0, "watchers_count": 0, "size": 0,
                "network_count": 0, "subscribers_count": 0, "pushed_at": _EPOCH_STAMP,
                "created_at": _EPOCH_STAMP, "updated_at": _EPOCH_STAMP,
                **{f"{name}_url": f"{url}/{name}" for name in _REPO_LINKS}}

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
