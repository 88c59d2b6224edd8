"""GitHub look-ups beside the poll: a dependency that is not an open PR, and a head's own checks.

Both are frugal: a merged dependency and a head whose checks all passed are final and never read
again; everything else is re-read with its ETag, so that an unchanged answer (304) costs no
rate-limit point.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from kcistage.core.dependencies import Outside
from kcistage.core.gate import Check, Kind
from kcistage.core.model import format_time, is_sha, parse_time
from kcistage.core.settings import Repo
from kcistage.errors import AuthError
from kcistage.shell.github_http import PER_PAGE, GitHubTransport

MISSING_TTL = timedelta(hours=1)  # a 404 has no ETag: asked again after this
MAX_PAGES = 10  # pages of check runs or statuses read per head (1000 checks)
HEADS_KEPT = 1000  # heads whose checks are remembered
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubLookups(GitHubTransport):
    """Look-ups by PR number and by head SHA, cached in the state file's "github" section."""

    def pull_state(self, repo: Repo, number: int) -> Outside:
        """What GitHub says of a PR that is not open: merged into `repo.base`, closed, missing."""
        refs = self.cache.setdefault("refs", {})
        key = f"{repo.github}#{int(number)}"
        hit = refs.get(key)
        if hit and hit["state"] == Outside.MERGED:
            return Outside.MERGED  # final: never asked again
        now = self.clock()
        if hit and hit["state"] == Outside.MISSING and now - parse_time(hit["at"]) < MISSING_TTL:
            return Outside.MISSING
        what = f"pull request {repo.github}#{int(number)}"
        status, headers, data = self._call("GET", f"/repos/{repo.github}/pulls/{int(number)}", what,
                                           etag=hit.get("etag") if hit else None)
        if status == 304 and hit:
            return Outside(hit["state"])
        if status == 404:
            refs[key] = {"state": Outside.MISSING, "at": format_time(now)}
            return Outside.MISSING
        if status != 200 or not isinstance(data, dict):
            raise self._unexpected(status, what, data, repo)
        merged = bool(data.get("merged") or data.get("merged_at"))
        base = (data.get("base") or {}).get("ref")
        if merged and base == repo.base:
            state = Outside.MERGED
        elif data.get("state") == "open":
            state = Outside.UNKNOWN  # open yet not listed: the next poll lists it
        else:
            state = Outside.CLOSED
        refs[key] = {"state": state, "etag": headers.get("etag"), "at": format_time(now)}
        return state

    def head_checks(self, repo: Repo, sha: str) -> list[Check] | None:
        """The check runs and commit statuses of a head (kcistage's own context left out);
        None when the head's checks all concluded well before (not read again)."""
        if not is_sha(sha):
            raise ValueError(f"not a commit id: {sha!r}")
        heads = self.cache.setdefault("checks", {})
        key = f"{repo.github}@{sha}"
        hit = heads.get(key) or {}
        if hit.get("passed"):
            return None
        base = f"/repos/{repo.github}/commits/{sha}"
        runs, runs_tag = self._listing(repo, f"{base}/check-runs", "check_runs", hit.get("runs"))
        # the combined status: the latest state of each context
        stats, stats_tag = self._listing(repo, f"{base}/status", "statuses", hit.get("statuses"))
        checks = [Check(Kind.RUN, str(r.get("name") or ""), str(r.get("status") or ""),
                        r.get("conclusion"), int(r.get("id") or 0)) for r in runs]
        own = self.settings.status_context
        checks += [Check(Kind.STATUS, str(s.get("context") or ""), str(s.get("state") or ""), None,
                         int(s.get("id") or 0)) for s in stats if s.get("context") != own]
        heads[key] = {"runs": {"etag": runs_tag, "items": _slim(runs, "check_runs")},
                      "statuses": {"etag": stats_tag, "items": _slim(stats, "statuses")}}
        if len(heads) > HEADS_KEPT:
            for old in list(heads)[:len(heads) - HEADS_KEPT]:
                del heads[old]
        return checks

    def mark_passed(self, repo: Repo, sha: str) -> None:
        """Remember that a head's checks all concluded well: it is not read again."""
        self.cache.setdefault("checks", {})[f"{repo.github}@{sha}"] = {"passed": True}

    def _listing(self, repo: Repo, url: str, field: str,
                 cached: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str | None]:
        """Every item of a listing; the first page conditional on its ETag (an unchanged first
        page of a listing that fits on it costs nothing)."""
        what = f"the checks of {repo.github}@{url.rsplit('/', 2)[-2][:12]}"
        status, headers, data = self._call("GET", url, what, {"per_page": PER_PAGE},
                                           etag=cached.get("etag") if cached else None)
        if status in (403, 404):  # an App without "Checks: read", a token without access
            raise AuthError(f"GitHub refused {what} ({status}): repos[].gate needs read access to "
                            "a repo's checks and commit statuses (a GitHub App: Checks: read)")
        if status == 304 and cached is not None:  # (only a one-page listing keeps its ETag)
            return list(cached.get("items") or []), cached.get("etag")
        items = _items(data, field)
        if status != 200 or items is None:
            raise self._unexpected(status, what, data, repo)
        etag = headers.get("etag")
        more = _next(headers)
        pages = 1
        while more and pages < MAX_PAGES:
            status, headers, data = self._call("GET", more, what)
            page = _items(data, field)
            if status != 200 or page is None:
                raise self._unexpected(status, what, data, repo)
            items += page
            more, pages = _next(headers), pages + 1
        return items, etag if pages == 1 else None


def _items(data: Any, field: str) -> list[dict[str, Any]] | None:
    if isinstance(data, dict) and isinstance(data.get(field), list):
        return list(data[field])
    return None


def _slim(items: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """What is kept of a listing between polls: the fields judged."""
    keys = ("id", "name", "status", "conclusion") if field == "check_runs" else ("id", "context", "state")
    return [{k: item.get(k) for k in keys} for item in items]


def _next(headers: dict[str, Any]) -> str | None:
    match = _NEXT.search(headers.get("link", "") or "")
    return match.group(1) if match else None
