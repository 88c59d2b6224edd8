"""GitHub through PyGithub: cheap conditional polling, comments, reactions, statuses, permissions.

Every request goes through ``Requester.requestJson`` so this module alone decides about ETags,
retries, pacing and rate limits (PyGithub's own retry and sleeping are switched off).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from kcistage.core import dependencies
from kcistage.core.model import Comment, PullRequest, format_time, is_sha, parse_time
from kcistage.core.settings import Repo
from kcistage.core.trust import GITHUB_PERMISSIONS
from kcistage.errors import ServiceError
from kcistage.shell import stopping
from kcistage.shell.github_http import PER_PAGE, _Lost
from kcistage.shell.github_lookups import GitHubLookups

MARKER = "<!-- kcistage"  # hidden in every comment the tool writes; such comments are never commands
SEEN_MAX = 2000  # comment ids remembered (only recent ones can come back through `since`)
EDIT_LAG = timedelta(minutes=10)  # how late GitHub may list a new comment; older ones are edits
MAX_PAGES = 50
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


@dataclass(frozen=True)
class Poll:
    """What one poll saw: open PRs per repo, new comments, and its HTTP cost."""

    prs: dict[str, list[PullRequest]]
    comments: list[Comment]
    requests: int
    # GitHub's clock (the `Date` header) when it answered each repo's PR list, None if it did
    # not say: "seen before a comment" is judged on this, never on the local clock.
    dates: dict[str, datetime | None] = field(default_factory=dict)


def _gh_time(value: datetime) -> str:
    """GitHub's `2026-01-01T12:00:00Z` form (for `since`)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer_date(headers: dict[str, Any]) -> datetime | None:
    """GitHub's clock at an answer: its `Date` header (None when absent or unreadable)."""
    try:
        value = parsedate_to_datetime(str(headers.get("date") or ""))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _next_link(headers: dict[str, Any]) -> str | None:
    match = _NEXT.search(headers.get("link", "") or "")
    return match.group(1) if match else None


class GitHub(GitHubLookups):
    """The GitHub client kcistage uses; `cache` is the state file's "github" section, kept in place."""

    # -- polling ----------------------------------------------------------------------------
    def poll(self, repos: Sequence[Repo]) -> Poll:
        """Open PRs of every repo and the comments not returned before; the cache changes only on success."""
        self._check_limited()
        start, now = self._count, self.clock()
        work = copy.deepcopy(self.cache)
        prs: dict[str, list[PullRequest]] = {}
        dates: dict[str, datetime | None] = {}
        comments: list[Comment] = []
        for repo in repos:
            # Comments before pulls: a PR commented on is then surely in the list fetched after.
            raw = self._comment_items(repo, work, now)
            prs[repo.name], dates[repo.name] = self._pulls(repo, work)
            comments += self._new_comments(repo, work, raw, {pr.number for pr in prs[repo.name]})
        until = work.get("rate_limited_until")
        if until and parse_time(until) <= now:
            work.pop("rate_limited_until")
        self.cache.clear()
        self.cache.update(work)
        comments.sort(key=lambda c: (c.created_at, c.id))
        return Poll(prs=prs, comments=comments, requests=self._count - start, dates=dates)

    def _pulls(self, repo: Repo, work: dict[str, Any]) -> tuple[list[PullRequest], datetime | None]:
        """All pages of the open pull list, each conditional on its cached ETag, and GitHub's
        clock at the last answer (a head listed is surely GitHub's head by then)."""
        old = work.setdefault("pulls", {}).get(repo.github, {}).get("pages", [])
        what = f"the pull requests of {repo.github}"
        first = f"/repos/{repo.github}/pulls"
        query = {"state": "open", "sort": "created", "direction": "asc", "per_page": PER_PAGE}
        url: str | None = first
        params: dict[str, Any] | None = query
        pages: list[dict[str, Any]] = []
        dates: list[datetime | None] = []
        while url and len(pages) < MAX_PAGES:
            cached = old[len(pages)] if len(pages) < len(old) else None
            status, headers, data = self._call("GET", url, what, params,
                                               etag=cached["etag"] if cached else None)
            dates.append(_answer_date(headers))
            if status == 304 and cached:
                page = cached
            elif status == 200 and isinstance(data, list):
                page = {"etag": headers.get("etag"), "next": _next_link(headers),
                        "prs": [self._pr(repo, item).to_json() for item in data]}
            else:
                raise self._unexpected(status, what, data, repo)
            pages.append(page)
            url, params = page["next"], None
            if url is None and len(page["prs"]) == PER_PAGE:
                # A 304 on page 1 says nothing about a PR beyond a full last page (its Link header
                # is not in the ETag): ask for the next page too, conditionally, free when empty.
                url, params = first, {**query, "page": len(pages) + 1}
        work["pulls"][repo.github] = {"pages": pages}
        found: dict[int, PullRequest] = {}
        for page in pages:
            for item in page["prs"]:
                found.setdefault(item["number"], PullRequest.from_json({**item, "repo": repo.name}))
        # One answer without a date and the heads have no GitHub time (approvals then need a sha).
        date = None if None in dates else max(d for d in dates if d is not None)
        return [found[n] for n in sorted(found)], date

    def _pr(self, repo: Repo, item: dict[str, Any]) -> PullRequest:
        updated = item.get("updated_at") or ""
        # Only the Depends-On references are kept (a description may be long and is untrusted).
        body = item.get("body")
        parsed = dependencies.parse(body if isinstance(body, str) else "")
        return PullRequest(
            # `user` is null for a deleted account: an unknown author, never trusted.
            repo=repo.name, number=int(item["number"]), author=(item.get("user") or {}).get("login") or "",
            sha=item["head"]["sha"], base=item["base"]["ref"], draft=bool(item.get("draft")),
            labels=tuple(label["name"] for label in item.get("labels") or ()),
            updated_at=format_time(parse_time(updated)) if updated else "",
            title=item.get("title") or "", depends=parsed.refs, depends_problem=parsed.problem)

    def _comment_items(self, repo: Repo, work: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
        """Repo comments updated since the watermark (conditional); the first poll only primes it."""
        marks = work.setdefault("comments", {})
        mark = marks.get(repo.github)
        first = mark is None
        if first:
            mark = {"start": _gh_time(now), "since": _gh_time(now), "etag": None, "next": None}
        what = f"the comments of {repo.github}"
        status, headers, data = self._call(
            "GET", f"/repos/{repo.github}/issues/comments", what,
            {"since": mark["since"], "sort": "updated", "direction": "asc", "per_page": PER_PAGE},
            etag=mark.get("etag"))
        if first:
            # Prime the watermark on GitHub's clock, not ours: a local clock ahead of GitHub's
            # would otherwise hide (and a clock behind would replay) the comments written next.
            primed = _gh_time(_answer_date(headers) or now)
            mark = {**mark, "start": primed, "since": primed}
        if status == 304:
            items, url = [], mark.get("next")  # page 1 unchanged; later pages may hold news
        elif status == 200 and isinstance(data, list):
            items, url = data, _next_link(headers)
            mark = {**mark, "etag": headers.get("etag"), "next": url}
        else:
            raise self._unexpected(status, what, data, repo)
        for _ in range(MAX_PAGES):
            if not url:
                break
            status, headers, data = self._call("GET", url, what)
            if status != 200 or not isinstance(data, list):
                raise self._unexpected(status, what, data)
            items += data
            url = _next_link(headers)
        if items:
            latest = max(parse_time(item["updated_at"]) for item in items)
            if latest > parse_time(mark["since"]):
                # `since` is inclusive: the newest comment comes back, as a known id.
                mark = {**mark, "since": _gh_time(latest)}
        # An edit brings an old comment back; one created well before what we asked for is old.
        mark = {**mark, "asked": marks.get(repo.github, mark)["since"]}
        marks[repo.github] = mark
        if first:
            self._remember(work, [item["id"] for item in items])
            return []
        return items

    def _new_comments(self, repo: Repo, work: dict[str, Any], items: list[dict[str, Any]],
                      open_prs: set[int]) -> list[Comment]:
        seen = set(work.get("seen", []))
        mark = work["comments"][repo.github]
        start = parse_time(mark["start"])
        if mark.get("asked"):
            start = max(start, parse_time(mark["asked"]) - EDIT_LAG)
        fresh: list[Comment] = []
        for item in items:
            cid = int(item["id"])
            if cid in seen:
                continue  # returned before, or an edit of it
            seen.add(cid)
            self._remember(work, [cid])
            author = (item.get("user") or {}).get("login") or ""
            body = item.get("body") or ""
            number = str(item.get("issue_url", "")).rsplit("/", 1)[-1]
            if (parse_time(item["created_at"]) < start or not number.isdigit()
                    or int(number) not in open_prs
                    or self.is_own(author) or MARKER in body):
                continue
            fresh.append(Comment(repo=repo.name, number=int(number), id=cid, author=author, body=body,
                                 created_at=format_time(parse_time(item["created_at"])),
                                 updated_at=format_time(parse_time(item["updated_at"]))))
        return fresh

    def is_own(self, login: str) -> bool:
        """Whether a login is the tool itself: the bot account, the App's `<slug>[bot]` (GET /app),
        or the author GitHub gave a comment the tool wrote."""
        bot = self.settings.bot.lower()
        own = {bot, f"{bot}[bot]"}
        for known in (self.credentials.bot_login(), self.cache.get("login")):
            if known:
                own.add(str(known).lower())
        return login.lower() in own

    @staticmethod
    def _remember(work: dict[str, Any], ids: list[int]) -> None:
        seen = work.setdefault("seen", [])
        seen.extend(i for i in ids if i not in seen)
        del seen[:-SEEN_MAX]

    # -- single calls -----------------------------------------------------------------------
    def branch_head(self, repo: Repo) -> str:
        """The commit of the repo's base branch, asked conditionally (0 points when unchanged)."""
        self._check_limited()
        key = f"{repo.github}:{repo.base}"
        cached = self.cache.get("branches", {}).get(key)
        what = f"branch {repo.base!r} of {repo.github}"
        status, headers, data = self._call(
            "GET", f"/repos/{repo.github}/branches/{quote(repo.base, safe='/')}", what,
            etag=cached["etag"] if cached else None)
        if status == 304 and cached:
            return str(cached["sha"])
        if status == 404:
            raise ServiceError(f"{repo.name}: branch {repo.base!r} not found on GitHub "
                               f"({repo.github})")
        sha = (data.get("commit") or {}).get("sha") if isinstance(data, dict) else None
        if status != 200 or not isinstance(sha, str) or not is_sha(sha):
            raise self._unexpected(status, what, data)
        self.cache.setdefault("branches", {})[key] = {"etag": headers.get("etag"), "sha": sha}
        return sha

    def whoami(self) -> str | None:
        """The login the token acts as (GET /user); None for an App installation token."""
        status, _, data = self._call("GET", "/user", "the token's user")
        if status == 403 and self.credentials.kind == "app":
            return None  # "Resource not accessible by integration": an App is no user
        if status != 200 or not isinstance(data, dict):
            raise self._unexpected(status, "the token's user", data)
        return str(data.get("login") or "")

    def repository(self, repo: Repo) -> dict[str, Any]:
        """GET /repos/{o}/{r}: the repository as the credential sees it (with `permissions`)."""
        what = f"repository {repo.github}"
        status, _, data = self._call("GET", f"/repos/{repo.github}", what)
        if status != 200 or not isinstance(data, dict):
            raise self._unexpected(status, what, data, repo)
        return data

    def permission(self, repo: Repo, login: str, ttl: timedelta = timedelta(hours=1)) -> str | None:
        """The login's role on the repo (admin/maintain/write/triage/read) or None; cached for ttl."""
        now = self.clock()
        perms = self.cache.setdefault("permissions", {}).setdefault(repo.github, {})
        hit = perms.get(login.lower())
        if hit and now - parse_time(hit["at"]) < ttl:
            cached: str | None = hit["permission"]
            return cached
        what = f"the permission of {login!r} on {repo.github}"
        status, _, data = self._call(
            "GET", f"/repos/{repo.github}/collaborators/{quote(login, safe='')}/permission", what)
        if status == 404:
            found = None
        elif status == 200 and isinstance(data, dict):
            role, legacy = data.get("role_name"), data.get("permission")
            found = next((p for p in (role, legacy) if p in GITHUB_PERMISSIONS), None)
        else:
            raise self._unexpected(status, what, data)
        for key in [k for k, v in perms.items() if now - parse_time(v["at"]) >= ttl]:
            del perms[key]
        perms[login.lower()] = {"permission": found, "at": format_time(now)}
        return found

    def react(self, repo: Repo, comment_id: int, content: str = "eyes") -> None:
        """Put a reaction on a comment."""
        what = f"a reaction on comment {int(comment_id)} of {repo.github}"
        status, _, data = self._call(
            "POST", f"/repos/{repo.github}/issues/comments/{int(comment_id)}/reactions", what,
            body={"content": content})
        if status not in (200, 201):
            raise self._unexpected(status, what, data)

    def reply(self, repo: Repo, number: int, body: str, answers: int) -> int:
        """Answer comment `answers` on a PR, once: a reply already there (lost answer, crash) is kept.

        The reply's hidden marker names the comment it answers, so it is found by one listing."""
        marker = f"{MARKER}:reply-to={int(answers)} -->"
        found = self._find_own(repo, number, marker)
        if found is not None:
            return found[0]
        return self._create(repo, number, f"{body.rstrip()}\n\n{marker}", marker)

    def set_status(self, repo: Repo, sha: str, state: str, description: str,
                   target_url: str | None = None) -> None:
        """Set the commit status `settings.status_context` on a commit."""
        if not is_sha(sha):
            raise ValueError(f"not a commit id: {sha!r}")
        text = description if len(description) <= 140 else description[:139] + "…"
        payload: dict[str, Any] = {"state": state, "description": text,
                                   "context": self.settings.status_context}
        if target_url:
            payload["target_url"] = target_url
        what = f"a commit status on {repo.github}@{sha}"
        status, _, data = self._call("POST", f"/repos/{repo.github}/statuses/{sha}", what, body=payload)
        if status != 201:
            raise self._unexpected(status, what, data)

    def upsert_pr_comment(self, repo: Repo, number: int, sha: str, body: str,
                          comment_id: int | None) -> int:
        """The one comment per PR head SHA: edited in place when known, else created; returns its id."""
        if not is_sha(sha):
            raise ValueError(f"not a commit id: {sha!r}")
        marker = f"{MARKER}:sha={sha} -->"
        text = f"{body.rstrip()}\n\n{marker}"
        if comment_id is None:  # the state does not know it: crashed, answer lost, state lost?
            found = self._find_own(repo, number, marker)
            if found is not None:
                if found[1] == text:
                    return found[0]
                comment_id = found[0]
        if comment_id is not None:
            what = f"comment {int(comment_id)} on {repo.github}#{int(number)}"
            status, _, data = self._call(
                "PATCH", f"/repos/{repo.github}/issues/comments/{int(comment_id)}", what,
                body={"body": text})
            if status == 200:
                return int(comment_id)
            if status != 404:  # deleted by someone: write a new one
                raise self._unexpected(status, what, data)
        return self._create(repo, number, text, marker)

    def _create(self, repo: Repo, number: int, text: str, marker: str) -> int:
        """POST a comment; after a lost answer, look for it by its marker before posting again."""
        what = f"a comment on {repo.github}#{int(number)}"
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                stopping.sleep(self.backoff * 2 ** (attempt - 1))
                found = self._find_own(repo, number, marker)
                if found is not None:
                    return found[0]  # GitHub created it; only the answer was lost
            try:
                status, _, data = self._call(
                    "POST", f"/repos/{repo.github}/issues/{int(number)}/comments", what,
                    body={"body": text}, once=True)
            except _Lost as lost:
                problem = str(lost)
                continue
            if status != 201 or not isinstance(data, dict):
                raise self._unexpected(status, what, data)
            login = (data.get("user") or {}).get("login")
            if login:
                self.cache["login"] = login  # how our own comments are signed
            return int(data["id"])
        raise ServiceError(f"GitHub unreachable: {what} at {self._api} failed "
                           f"{self.retries + 1} times ({problem})")

    def _find_own(self, repo: Repo, number: int, marker: str) -> tuple[int, str] | None:
        """(id, body) of the tool's own comment on a PR carrying `marker` (one listing), or None."""
        what = f"the comments of {repo.github}#{int(number)}"
        url: str | None = f"/repos/{repo.github}/issues/{int(number)}/comments"
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if not url:
                break
            status, headers, data = self._call("GET", url, what, params)
            if status != 200 or not isinstance(data, list):
                raise self._unexpected(status, what, data)
            for item in data:
                author = str((item.get("user") or {}).get("login") or "")
                body = item.get("body") or ""
                # the author check: anyone can paste a marker, only our own comment is ours
                if self.is_own(author) and marker in body:
                    return int(item["id"]), body
            url, params = _next_link(headers), None
        return None
