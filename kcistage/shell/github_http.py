"""GitHub's REST transport: one request at a time through PyGithub's Requester, with bounded
retries, paced writes, rate limits remembered in the cache, and errors in plain words.

shell/github.py builds the API calls kcistage makes on top of it.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from github import Github
from github.Requester import Requester
from urllib3.util.retry import Retry

from kcistage.core.model import format_time, parse_time
from kcistage.core.settings import GitHubSettings, Repo
from kcistage.errors import AuthError, ConfigError, RateLimited, ServiceError
from kcistage.shell import neterrors, stopping
from kcistage.shell.credentials import Credentials, TokenCredentials

PER_PAGE = 100
_REPO_PATH = re.compile(r"/repos/([^/?#]+/[^/?#]+)")  # the repository a request is about


class _Lost(Exception):
    """A request sent once got no usable answer: it may or may not have been carried out."""


class GitHubTransport:
    """Requests to GitHub's REST API; `cache` is the state file's "github" section, kept in place."""

    def __init__(self, settings: GitHubSettings, token: str | Credentials, cache: dict[str, Any],
                 clock: Callable[[], datetime], pace: float = 1.0, retries: int = 3,
                 backoff: float = 0.5, timeout: float = 15.0):
        """`token`: a token, or Credentials (an App) asked for each request's repository."""
        self.settings, self.cache, self.clock = settings, cache, clock
        self.pace, self.retries, self.backoff = pace, retries, backoff
        self.credentials = TokenCredentials(token) if isinstance(token, str) else token
        self._api = settings.api_url.rstrip("/")
        # No Auth object: _call sets the Authorization header of each request itself, so an App
        # uses the installation token of the repository the request is about.
        gh = Github(base_url=self._api, timeout=max(1, math.ceil(timeout)),
                    retry=None, seconds_between_requests=None, seconds_between_writes=None,
                    per_page=PER_PAGE)
        # Github() insists on whole seconds; its Requester takes any number (tests use 0.2 s).
        # urllib3 repeats nothing: retries are decided in _call, where a POST is never repeated
        # blindly after its answer was lost.
        self._requester = Requester(**{**gh.requester.kwargs, "timeout": timeout,
                                       "retry": Retry(total=0, read=False)})
        self._count = 0  # HTTP requests sent (attempts included)
        self.rate: dict[str, Any] | None = None  # rate-limit headers of the last answer
        self._last_write = float("-inf")

    def _check_limited(self) -> None:
        until = self.cache.get("rate_limited_until")
        if until and parse_time(until) > self.clock():
            raise RateLimited(f"GitHub rate limit: not calling {self._api} before {until}",
                              parse_time(until))

    def _call(self, verb: str, url: str, what: str, params: dict[str, Any] | None = None,
              body: Any = None, etag: str | None = None,
              once: bool = False) -> tuple[int, dict[str, Any], Any]:
        """One request with bounded retries on 5xx/network faults; 401 and rate limits raise.

        `once`: a request that is not safe to repeat (creating a comment) is sent once; a fault
        raises _Lost, for the caller to find out what happened before trying again.
        SIGTERM ends it at once (stopping.Stopped), whatever it waits for; none starts after."""
        with stopping.cut_short():
            return self._request(verb, url, what, params, body, etag, once)

    def _request(self, verb: str, url: str, what: str, params: dict[str, Any] | None,
                 body: Any, etag: str | None, once: bool) -> tuple[int, dict[str, Any], Any]:
        """_call's work: the credential, the pacing, the attempts."""
        self._check_limited()
        headers = {"If-None-Match": etag} if etag else {}
        about = _REPO_PATH.search(url)
        repo = about.group(1) if about else None
        headers["Authorization"] = "token " + self.credentials.token(repo)
        if verb != "GET":
            wait = self._last_write + self.pace - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # GitHub asks integrators to space out writes
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self._count += 1
            try:
                status, out, text = self._requester.requestJson(verb, url, params, dict(headers), body)
            except (requests.RequestException, OSError) as exc:
                problem = neterrors.describe(exc)
                if once:
                    raise _Lost(problem) from None
                continue
            finally:
                if verb != "GET":
                    self._last_write = time.monotonic()
            if status >= 500:
                problem = f"HTTP {status}"
                if once:
                    raise _Lost(problem)
                continue
            self._note_rate(out)
            try:
                data = json.loads(text) if text else None
            except ValueError:
                data = None
            if status == 401:
                if self.credentials.forget(repo):  # an App token kept from an earlier run,
                    # revoked since: again with a new one (a refused request was not carried out)
                    return self._request(verb, url, what, params, body, etag, once)
                raise AuthError(f"GitHub rejected the token (401) at {self._api}")
            if status in (403, 429):
                self._rate_limit(status, out, data)
            return status, out, data
        raise ServiceError(f"GitHub unreachable ({problem}): {what} at {self._api} failed "
                           f"{self.retries + 1} times")

    def _note_rate(self, headers: dict[str, Any]) -> None:
        """Keep GitHub's rate-limit figures (shown by `serve`'s metrics)."""
        remaining, limit = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-limit")
        if remaining is not None and limit is not None and str(remaining).isdigit() \
                and str(limit).isdigit():
            reset = headers.get("x-ratelimit-reset", "")
            self.rate = {"remaining": int(remaining), "limit": int(limit),
                         "reset": format_time(datetime.fromtimestamp(int(reset), UTC))
                         if str(reset).isdigit() else None}

    def _rate_limit(self, status: int, headers: dict[str, Any], data: Any) -> None:
        """Raise RateLimited (and remember until when) if this 403/429 is a rate limit."""
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        now = self.clock()
        reset_at: datetime | None = None
        if headers.get("retry-after", "").strip().isdigit():
            reset_at = now + timedelta(seconds=int(headers["retry-after"]))
        elif headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            reset_at = datetime.fromtimestamp(int(float(headers["x-ratelimit-reset"])), UTC)
        elif status == 429 or "rate limit" in message.lower():
            reset_at = now + timedelta(seconds=60)  # GitHub's advice when it gives no hint
        if reset_at is None:
            return
        reset_at = max(reset_at, now)
        self.cache["rate_limited_until"] = format_time(reset_at)
        raise RateLimited(f"GitHub rate limit reached at {self._api}; retry after "
                          f"{format_time(reset_at)}", reset_at)

    def _unexpected(self, status: int, what: str, data: Any, repo: Repo | None = None) -> Exception:
        message = str(data.get("message", ""))[:200] if isinstance(data, dict) else ""
        detail = f" ({message!r})" if message else ""
        if status == 403:
            return AuthError(f"GitHub refused {what} (403){detail}: does the token have access?")
        if status == 404 and repo is not None:
            return ConfigError(f"GitHub has no repository {repo.github} (404 at {self._api}): "
                               "check repos[].github and the token's access")
        return ServiceError(f"GitHub answered {status} for {what}{detail}")
