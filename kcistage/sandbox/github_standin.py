"""A GitHub REST stand-in on 127.0.0.1 for tests and the demo: routes, ETags, pages, limits, faults.

The data it serves (repositories, PRs, comments, permissions and their JSON shapes) lives in
github_data.py; this module is the HTTP side (stdlib server, one thread per connection).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from kcistage.sandbox import loopback
from kcistage.sandbox.github_checks import ChecksData
from kcistage.sandbox.github_data import _Reply, _stamp, _user
from kcistage.sandbox.github_protection import ProtectionData
from kcistage.sandbox.standin_app import AppEndpoints

_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    # {branch} may hold slashes (GitHub takes "feature/x" as is); every other part is one segment
    (verb, name, re.compile("^" + re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>"
                                         + (".+" if m[1] == "branch" else "[^/]+") + ")", name)
                            + "$"))
    for verb, name in [
        ("GET", "/user"), ("GET", "/rate_limit"), ("GET", "/repos/{o}/{r}"),
        # (a route with {branch} inside comes before the one ending with it)
        ("GET", "/repos/{o}/{r}/branches/{branch}/protection"),
        ("GET", "/repos/{o}/{r}/rules/branches/{branch}"),
        ("GET", "/repos/{o}/{r}/branches/{branch}"),
        ("GET", "/repos/{o}/{r}/pulls"), ("GET", "/repos/{o}/{r}/pulls/{n}"),
        ("GET", "/repos/{o}/{r}/issues/comments"), ("GET", "/repos/{o}/{r}/issues/{n}/comments"),
        ("POST", "/repos/{o}/{r}/issues/{n}/comments"), ("PATCH", "/repos/{o}/{r}/issues/comments/{id}"),
        ("POST", "/repos/{o}/{r}/issues/comments/{id}/reactions"),
        ("POST", "/repos/{o}/{r}/statuses/{sha}"),
        ("GET", "/repos/{o}/{r}/commits/{ref}/check-runs"), ("GET", "/repos/{o}/{r}/commits/{ref}/status"),
        ("GET", "/repos/{o}/{r}/commits/{ref}/statuses"),
        ("GET", "/repos/{o}/{r}/collaborators/{login}/permission"),
        ("GET", "/app"), ("GET", "/repos/{o}/{r}/installation"),
        ("POST", "/app/installations/{id}/access_tokens"),
    ]
]


class FakeGitHub(ChecksData, ProtectionData, AppEndpoints):
    """The REST subset kcistage uses, with ETags, Link pagination, rate-limit headers and faults."""

    def __init__(self, token: str = "test-token", clock: Callable[[], datetime] | None = None,
                 rate_limit: int = 5000, login: str = "kcibot"):
        super().__init__(clock, login)
        self.token, self.rate_limit = token, rate_limit
        self.requests: list[dict[str, Any]] = []
        self._used = 0
        self._faults: list[tuple[str, Any, str | None]] = []  # (kind, detail, only this verb)
        self.on_served: Callable[[dict[str, Any]], None] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._init_app()
        self._init_checks()
        self._init_protection()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> str:
        """Listen on a free 127.0.0.1 port in a daemon thread; returns the base URL."""
        self._server, self.url = loopback.serve(type("Handler", (_Handler,), {"hub": self}))
        return self.url

    def stop(self) -> None:
        """Stop listening."""
        loopback.close(self._server)
        self._server = None

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection -------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        """Requests seen, rate-limit points spent, and requests per route."""
        with self._lock:
            by_route: dict[str, int] = {}
            for entry in self.requests:
                by_route[entry["route"]] = by_route.get(entry["route"], 0) + 1
            return {"requests": len(self.requests),
                    "counted": sum(1 for e in self.requests if e["counted"]), "by_route": by_route}

    def reset_log(self) -> None:
        """Forget the request log (data and rate-limit usage stay)."""
        with self._lock:
            self.requests.clear()

    # -- faults -----------------------------------------------------------------------------
    def fail_next(self, n: int, status: int = 502, verb: str | None = None) -> None:
        """The next n requests (of `verb` or route if given) fail with `status`, not carried out.

        status 0: the connection is dropped unanswered."""
        with self._lock:
            self._faults += [("fail", status, verb)] * n

    def drop_answer_next(self, n: int = 1, status: int = 0, verb: str = "POST") -> None:
        """The next n `verb` requests are carried out, then their answer is lost.

        `verb` may also name a route: "POST /repos/{o}/{r}/issues/{n}/comments".

        status 0 drops the connection unanswered (a reset); else that status (502) is answered
        in place of the real one, as a proxy in front of GitHub does after a timeout."""
        with self._lock:
            self._faults += [("lost", status, verb)] * n

    def rate_limit_next(self, n: int = 1, status: int = 403, reset_in: int = 60,
                        retry_after: int | None = None) -> None:
        """The next n requests are rate-limited (403 remaining 0 + reset, or with retry-after)."""
        with self._lock:
            self._faults += [("limit", (status, reset_in, retry_after), None)] * n

    def slow_next(self, n: int, seconds: float) -> None:
        """The next n requests wait `seconds` before answering."""
        with self._lock:
            self._faults += [("slow", seconds, None)] * n

    def clear_faults(self) -> None:
        """Forget the faults not yet used: answers come as usual from now on."""
        with self._lock:
            self._faults = []

    # -- serving ----------------------------------------------------------------------------
    def _rate_headers(self) -> dict[str, str]:
        reset = int(self.clock().timestamp()) + 3600
        return {"x-ratelimit-limit": str(self.rate_limit), "x-ratelimit-used": str(self._used),
                "x-ratelimit-remaining": str(max(self.rate_limit - self._used, 0)),
                "x-ratelimit-reset": str(reset), "x-ratelimit-resource": "core"}

    def handle(self, verb: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes | None]:
        """Answer one request: (status, headers, body or None to drop the connection)."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route = next((f"{v} {name}" for v, name, rx in _ROUTES
                      if v == verb and rx.match(parts.path)), f"{verb} ?")
        entry = {"method": verb, "path": parts.path, "query": query, "route": route,
                 "status": 0, "counted": False}
        with self._lock:
            self.requests.append(entry)
            fault = None
            if self._faults and self._faults[0][2] in (None, verb, route):
                fault = self._faults.pop(0)  # a fault for one verb/route waits for a request of it
        if fault and fault[0] == "slow":
            time.sleep(fault[1])
            fault = None
        status, out_headers, payload = self._answer(verb, parts.path, query, headers, body,
                                                    fault, entry)
        entry["status"] = status
        if self.on_served is not None:
            self.on_served(entry)  # carried out, not answered yet (tests kill the client here)
        if fault and fault[0] == "lost":
            entry["lost"] = status  # what really happened; the client sees the fault instead
            lost = fault[1]
            entry["status"] = lost
            if lost == 0:
                return 0, {}, None
            return lost, {}, json.dumps({"message": "Server Error"}).encode()
        return status, out_headers, payload

    def _answer(self, verb: str, path: str, query: dict[str, str], headers: dict[str, str],
                body: bytes, fault: tuple[str, Any, str | None] | None,
                entry: dict[str, Any]) -> tuple[int, dict[str, str], bytes | None]:
        if fault and fault[0] == "fail":
            if fault[1] == 0:
                return 0, {}, None
            return fault[1], {}, json.dumps({"message": "Server Error"}).encode()
        with self._lock:
            problem = self._authenticate(headers, entry["route"], path)
            if problem:
                return 401, {}, json.dumps({"message": problem}).encode()
            rate = self._rate_headers()
            if fault and fault[0] == "limit":
                status, reset_in, retry_after = fault[1]
                rate["x-ratelimit-reset"] = str(int(self.clock().timestamp()) + reset_in)
                if retry_after is not None:
                    rate["retry-after"] = str(retry_after)
                    msg = "You have exceeded a secondary rate limit."
                else:
                    rate["x-ratelimit-remaining"] = "0"
                    msg = "API rate limit exceeded for user."
                return status, rate, json.dumps({"message": msg}).encode()
            if self._used >= self.rate_limit:
                return 403, rate, json.dumps({"message": "API rate limit exceeded for user."}).encode()
            try:
                status, data, extra = self._route(verb, path, query, body)
            except _Reply as reply:
                status, data, extra = reply.status, reply.body, reply.headers
            payload = json.dumps(data, sort_keys=True).encode()
            out = {**rate, **extra}
            if verb == "GET" and status == 200:
                etag = 'W/"' + hashlib.sha256(payload).hexdigest()[:40] + '"'
                out["etag"] = etag
                wanted = [t.strip().removeprefix("W/") for t in
                          headers.get("if-none-match", "").split(",")]
                if etag.removeprefix("W/") in wanted:
                    return 304, out, b""
            self._used += 1
            entry["counted"] = True
            out.update(self._rate_headers())
            return status, out, payload

    def _route(self, verb: str, path: str, query: dict[str, str],
               body: bytes) -> tuple[int, Any, dict[str, str]]:
        for v, name, rx in _ROUTES:
            m = rx.match(path)
            if v == verb and m:
                args = m.groupdict()
                full = f"{args.pop('o', '')}/{args.pop('r', '')}"
                data = json.loads(body) if body else {}
                method = f"_{verb.lower()}_" + re.sub(r"\W+", "_", name).strip("_").replace("repos_o_r", "repo")
                answer: tuple[int, Any, dict[str, str]] = getattr(self, method)(full, query, data, **args)
                return answer
        raise _Reply(404, {"message": "Not Found"})

    def _page(self, items: list[Any], path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        per_page = min(max(int(query.get("per_page", 30)), 1), 100)
        page = max(int(query.get("page", 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = []
        for rel, num in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if 1 <= num <= last and not (rel in ("last", "first") and num == page):
                url = f"{self.url}{path}?{urlencode({**query, 'page': num})}"
                links.append(f'<{url}>; rel="{rel}"')
        extra = {"link": ", ".join(links)} if links else {}
        return 200, items[(page - 1) * per_page: page * per_page], extra

    # -- routes (named after the route pattern) ---------------------------------------------
    def _get_user(self, full: str, query: dict[str, str], data: Any) -> tuple[int, Any, dict[str, str]]:
        if self._actor != self.login:  # an App installation token is no user
            raise _Reply(403, {"message": "Resource not accessible by integration"})
        profile = {"name": None, "company": None, "blog": "", "location": None, "email": None,
                   "hireable": None, "bio": None, "public_repos": 0, "public_gists": 0,
                   "followers": 0, "following": 0, "created_at": "2020-01-01T00:00:00Z",
                   "updated_at": "2020-01-01T00:00:00Z"}
        return 200, {**(_user(self.login) or {}), **profile}, {}

    def _get_rate_limit(self, full: str, query: dict[str, str], data: Any) -> tuple[int, Any, dict[str, str]]:
        core = {"limit": self.rate_limit, "used": self._used,
                "remaining": self.rate_limit - self._used,
                "reset": int(self.clock().timestamp()) + 3600}
        search = {"limit": 30, "used": 0, "remaining": 30,
                  "reset": int(self.clock().timestamp()) + 60}
        return 200, {"resources": {"core": core, "search": search}, "rate": core}, {}

    def _get_repo(self, full: str, query: dict[str, str], data: Any) -> tuple[int, Any, dict[str, str]]:
        found = self._repo_json(full)
        if self._actor == self.login:  # what the token's user may do there
            found["permissions"] = dict(self.token_permissions)
        return 200, found, {}

    def _get_repo_branches_branch(self, full: str, query: dict[str, str], data: Any,
                                  branch: str) -> tuple[int, Any, dict[str, str]]:
        sha = self.branch_head(full, unquote(branch))
        if sha is None:
            raise _Reply(404, {"message": "Branch not found",
                               "documentation_url": "https://docs.github.com/rest/branches/branches"
                                                    "#get-a-branch"})
        return 200, self._branch_json(full, unquote(branch), sha), {}

    def _get_repo_pulls(self, full: str, query: dict[str, str], data: Any) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        prs = [pr for pr in self._repo(full)["prs"].values() if state in ("all", pr["state"])]
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        prs.sort(key=lambda p: (p[key], p["number"]), reverse=query.get("direction", "desc") == "desc")
        return self._page([self._pr_json(full, pr) for pr in prs], f"/repos/{full}/pulls", query)

    def _get_repo_pulls_n(self, full: str, query: dict[str, str], data: Any,
                        n: str) -> tuple[int, Any, dict[str, str]]:
        pr = self._repo(full)["prs"].get(int(n))
        if pr is None:
            raise _Reply(404, {"message": "Not Found"})
        counts = {"comments": sum(1 for c in self._comments.values()
                                  if c["repo"] == full and c["number"] == pr["number"]),
                  "commits": 1, "additions": 0, "deletions": 0, "changed_files": 0,
                  "review_comments": 0}
        # GitHub computes mergeability in the background: null until it has, as here
        return 200, {**self._pr_json(full, pr), **counts, "mergeable": None,
                     "mergeable_state": "unknown", "merged": bool(pr.get("merged")), "merged_by": None,
                     "maintainer_can_modify": False, "rebaseable": None}, {}

    def _get_repo_issues_comments(self, full: str, query: dict[str, str],
                                data: Any) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        since = query.get("since", "")
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        found = sorted((c[key], cid) for cid, c in self._comments.items()
                       if c["repo"] == full and c["updated_at"] >= since)
        if query.get("direction", "asc") == "desc":
            found.reverse()
        return self._page([self._comment_json(cid) for _, cid in found],
                          f"/repos/{full}/issues/comments", query)

    def _get_repo_issues_n_comments(self, full: str, query: dict[str, str], data: Any,
                                    n: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        return self._page(self.comments(full, int(n)), f"/repos/{full}/issues/{n}/comments", query)

    def _post_repo_issues_n_comments(self, full: str, query: dict[str, str], data: Any,
                                     n: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        return 201, self._comment_json(self.add_comment(full, int(n), self._actor, data["body"])), {}

    def _patch_repo_issues_comments_id(self, full: str, query: dict[str, str], data: Any,
                                   id: str) -> tuple[int, Any, dict[str, str]]:
        c = self._comments.get(int(id))
        if c is None or c["repo"] != full:
            raise _Reply(404, {"message": "Not Found"})
        self.edit_comment(full, int(id), data["body"])
        return 200, self._comment_json(int(id)), {}

    def _post_repo_issues_comments_id_reactions(self, full: str, query: dict[str, str], data: Any,
                                             id: str) -> tuple[int, Any, dict[str, str]]:
        if int(id) not in self._comments:
            raise _Reply(404, {"message": "Not Found"})
        mine = (self._actor, data.get("content", ""))
        existing = self._reactions.setdefault(int(id), [])
        status = 200 if mine in existing else 201
        if status == 201:
            existing.append(mine)
        return status, {"id": len(existing), "node_id": f"REA_{id}_{len(existing)}",
                        "content": mine[1], "user": _user(self._actor),
                        "created_at": _stamp(self.clock())}, {}

    def _post_repo_statuses_sha(self, full: str, query: dict[str, str], data: Any,
                             sha: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        if data.get("state") not in ("error", "failure", "pending", "success") or \
                len(data.get("description") or "") > 140:
            raise _Reply(422, {"message": "Validation Failed"})
        self._next_id += 1
        status = {"id": self._next_id, "repo": full, "state": data["state"],
                  "description": data.get("description"),
                  "context": data.get("context", "default"), "target_url": data.get("target_url"),
                  "creator": _user(self._actor), "created_at": _stamp(self.clock()),
                  "updated_at": _stamp(self.clock())}
        self.statuses.setdefault(sha, []).append(status)
        return 201, self._status_json(full, sha, status), {}

    def _get_repo_collaborators_login_permission(self, full: str, query: dict[str, str], data: Any,
                                               login: str) -> tuple[int, Any, dict[str, str]]:
        perm = self._repo(full)["perms"].get(login.lower())
        if perm is None:
            raise _Reply(404, {"message": f"{login} is not a user"})
        user = {**(_user(perm[0]) or {}), "role_name": perm[2],
                "permissions": {"admin": perm[1] == "admin", "maintain": perm[2] == "maintain",
                                "push": perm[1] in ("admin", "write"),
                                "triage": perm[2] != "read", "pull": True}}
        return 200, {"permission": perm[1], "role_name": perm[2], "user": user}, {}


class _Handler(BaseHTTPRequestHandler):
    """Glue from http.server to FakeGitHub.handle."""

    hub: FakeGitHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out, payload = self.hub.handle(self.command, self.path, headers, body)
        if payload is None:
            self.close_connection = True
            return
        self.send_response(status)
        for key, value in out.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header from the stand-in's own clock, as GitHub's comes from GitHub's."""
        when = self.hub.clock().timestamp() if timestamp is None else timestamp
        return formatdate(when, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass
