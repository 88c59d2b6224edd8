"""A GitHub App's credentials: JWTs signed on GitHub's clock, installations, installation tokens.

JWTs carry `iat`/`exp` on GitHub's clock (the tool's clock plus the offset measured from the
`Date` of GitHub's answers), so a server whose clock is minutes off still authenticates: a JWT
GitHub refuses is signed again once, on the clock its refusal showed. The App's slug and the
installation id of each repository are kept with the state (`remembered()`: none is a secret);
each installation token (valid an hour, renewed ten minutes before it expires) in `token_file`
(mode 0600, under the service's runtime directory, never in the state file). So an idle tick
makes no App request at all.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests

from kcistage.core.model import format_time, parse_time
from kcistage.errors import AuthError, ServiceError
from kcistage.shell import neterrors

# Renew an installation token this long before it expires: a git push or a step's fetch that
# starts with the token must not find it expired.
RENEW_BEFORE = timedelta(minutes=10)
# GitHub refuses a JWT valid longer than 10 minutes; it advises an `iat` 60 s in the past.
JWT_BEFORE, JWT_AFTER = 60, 540
_RESIGN_AFTER = timedelta(seconds=30)  # a refused JWT is signed again if the clocks differ more


def _date(answer: requests.Response) -> datetime | None:
    """The `Date` of an answer (GitHub's clock), if it has a valid one."""
    try:
        return parsedate_to_datetime(answer.headers.get("Date") or "").astimezone(UTC)
    except (TypeError, ValueError):
        return None


class AppCredentials:
    """A GitHub App: JWTs from its private key, installation tokens per repository owner."""

    kind = "app"

    def __init__(self, api_url: str, app_id: int, private_key: str,
                 clock: Callable[[], datetime], timeout: float = 15.0,
                 renew_before: timedelta = RENEW_BEFORE, known: Mapping[str, Any] | None = None,
                 token_file: Path | None = None) -> None:
        """`known`: what an earlier run remembered (its `remembered()`, kept with the state);
        `token_file`: where installation tokens are kept between runs (None: nowhere)."""
        self.app_id, self.clock, self.renew_before = app_id, clock, renew_before
        self._api = api_url.rstrip("/")
        self._key, self._timeout = private_key, timeout
        self._session = requests.Session()
        self.offset: timedelta | None = None  # GitHub's clock minus ours, once an answer said
        self._slug: str | None = None
        self._token_file = token_file
        kept = self._load()
        known = dict(known or {})
        if known.get("id") != app_id or known.get("api") != self._api:
            known = {}  # another App, or another GitHub
        self._installations: dict[str, int] = {  # "owner/name" -> installation id
            str(k): int(v) for k, v in (known.get("installations") or {}).items()}
        self._permissions: dict[str, dict[str, str]] = {}  # "owner/name" -> installation's
        self._tokens: dict[int, tuple[str, datetime]] = {  # installation id -> (token, expiry)
            int(k): (str(v["token"]), parse_time(v["expires_at"]))
            for k, v in (kept.get("tokens") or {}).items()}
        self._kept_slug = known.get("slug")
        self._kept = set(self._tokens)  # installations whose token an earlier run made
        self.renewals = 0  # installation tokens created (for tests and `check`)
        self.jwts = 0  # JWT-signed requests sent

    # -- GitHub's clock and the JWT -----------------------------------------------------------
    def github_now(self) -> datetime:
        """The time on GitHub's clock, as well as its last answer tells."""
        return self.clock() + (self.offset or timedelta(0))

    def _jwt(self) -> str:
        import jwt  # (with cryptography's RSA: only when a JWT is signed, not on idle ticks)

        now = int(self.github_now().timestamp())
        return jwt.encode({"iat": now - JWT_BEFORE, "exp": now + JWT_AFTER,
                           "iss": str(self.app_id)}, self._key, algorithm="RS256")

    def _request(self, verb: str, path: str, what: str) -> Any:
        """One JWT-signed request; GitHub's refusals and network faults become kcistage errors.

        A 401 whose `Date` shows the clocks apart by more than 30 s is signed again, once."""
        for attempt in (1, 2):
            used = self.offset or timedelta(0)
            self.jwts += 1
            try:
                answer = self._session.request(
                    verb, self._api + path, timeout=self._timeout,
                    headers={"Authorization": f"Bearer {self._jwt()}",
                             "Accept": "application/vnd.github+json",
                             "X-GitHub-Api-Version": "2022-11-28"})
            except (requests.RequestException, OSError) as exc:
                raise ServiceError(f"GitHub unreachable: {what} at {self._api} failed "
                                   f"({neterrors.describe(exc)})") from None
            said = _date(answer)
            if said is not None:
                self.offset = said - self.clock()
            if answer.status_code == 401 and attempt == 1 and self.offset is not None \
                    and abs(self.offset - used) > _RESIGN_AFTER:
                continue  # signed on a clock GitHub disagrees with: again, on GitHub's
            break
        try:
            data = answer.json() if answer.content else None
        except ValueError:
            data = None
        status = answer.status_code
        if status < 300:
            return data
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        detail = f" ({message})" if message else ""
        if status == 401:
            raise AuthError(f"GitHub rejected the App's JWT for {what} (401){detail}: check "
                            "github.app.id and github.app.private_key_file")
        if status == 404:
            raise AuthError(f"GitHub found no {what} (404){detail}")
        if status >= 500:
            raise ServiceError(f"GitHub answered {status} for {what}")
        raise AuthError(f"GitHub refused {what} ({status}){detail}")

    # -- the App and its installations ---------------------------------------------------------
    def slug(self) -> str:
        """The App's slug (GET /app, once)."""
        if self._slug is None:
            if self._kept_slug:
                self._slug = str(self._kept_slug)
            else:
                data = self._request("GET", "/app", f"GitHub App {self.app_id}")
                self._slug = str(data.get("slug")) if isinstance(data, dict) else ""
        return self._slug

    def bot_login(self) -> str | None:
        """`<slug>[bot]`: the author of every comment the App writes."""
        return f"{self.slug()}[bot]"

    def installation(self, full_name: str) -> int:
        """The installation id of the App on a repository (GET /repos/{o}/{r}/installation,
        once: then remembered with the state)."""
        if full_name not in self._installations:
            data = self._request("GET", f"/repos/{full_name}/installation",
                                 f"installation of the App on {full_name}")
            self._installations[full_name] = int(data["id"])
            self._permissions[full_name] = dict(data.get("permissions") or {})
        return self._installations[full_name]

    def remembered(self) -> dict[str, Any]:
        """What the next run may know without asking: the App, its slug, installation ids."""
        return {"id": self.app_id, "api": self._api, "slug": self._slug or self._kept_slug,
                "installations": dict(sorted(self._installations.items()))}

    def permissions(self, full_name: str) -> dict[str, str]:
        """What the App's installation on a repository may do (e.g. {"contents": "write"})."""
        if full_name not in self._permissions:
            self._installations.pop(full_name, None)  # asked again: the answer holds them
            self.installation(full_name)
        return self._permissions[full_name]

    def token(self, full_name: str | None) -> str:
        """A current installation token for the repository, renewed `renew_before` its expiry."""
        if full_name is None:
            if not self._installations:
                raise AuthError("a GitHub App token needs a repository (its installation)")
            full_name = next(iter(self._installations))
        iid = self.installation(full_name)
        held = self._tokens.get(iid)
        if held is None or self.github_now() >= held[1] - self.renew_before:
            try:
                held = self._mint(iid)
            except AuthError:
                if full_name not in self._permissions:  # an id kept from an earlier run: the
                    self._installations.pop(full_name)  # App may have been installed again
                    held = self._mint(self.installation(full_name))
                else:
                    raise
        return held[0]

    def _mint(self, iid: int) -> tuple[str, datetime]:
        """A new installation token (POST /app/installations/{id}/access_tokens), kept."""
        data = self._request("POST", f"/app/installations/{iid}/access_tokens",
                             f"an installation token (installation {iid})")
        try:
            expires = parse_time(str(data["expires_at"]))
        except (KeyError, TypeError, ValueError):
            expires = self.github_now() + timedelta(hours=1)
        held = (str(data["token"]), expires)
        self._tokens[iid] = held
        self._kept.discard(iid)
        self.renewals += 1
        self._save()
        return held

    def forget(self, full_name: str | None) -> bool:
        """GitHub refused the token held for this repository (revoked, the App suspended):
        drop it so the next `token()` makes a new one. True only for a token an earlier run
        made (so a refusal of a new one is not retried for ever)."""
        iid = self._installations.get(full_name or "", -1)
        if iid not in self._kept:
            return False  # made by this run: GitHub's refusal is the answer
        self._kept.discard(iid)
        self._tokens.pop(iid, None)
        self._save()
        return True

    def expires(self, full_name: str) -> datetime | None:
        """When the token held for a repository's installation expires (None: none held yet)."""
        held = self._tokens.get(self._installations.get(full_name, -1))
        return held[1] if held else None

    # -- the token file ------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        """What an earlier run of this App kept, if the file is ours and private."""
        path = self._token_file
        if path is None:
            return {}
        try:
            info = path.stat()
            if info.st_uid != os.geteuid() or info.st_mode & 0o077:
                return {}  # not written by kcistage as this user: not trusted
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("app") != self.app_id or data.get("api") != self._api:
                return {}
            for entry in data["tokens"].values():  # every token readable, or none is used
                parse_time(entry["expires_at"])
                if not isinstance(entry["token"], str):
                    return {}
            return dict(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}  # none yet, or unusable: new ones replace it

    def _save(self) -> None:
        """Write the tokens atomically, readable by this user only; best effort (a runtime
        directory that cannot be written only costs a new token per run)."""
        path = self._token_file
        if path is None:
            return
        body = json.dumps({"app": self.app_id, "api": self._api, "tokens": {
            str(k): {"token": t, "expires_at": format_time(e)} for k, (t, e) in
            sorted(self._tokens.items())}}).encode()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, body)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        with contextlib.suppress(OSError):
            tmp.unlink()
