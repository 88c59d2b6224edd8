"""Where the GitHub credential comes from: a personal/bot token, or a GitHub App's installations.

Both give `token(repo)`, used for the API and (through git's credential helper) for git pushes.
An App's installation tokens last an hour; each is renewed some minutes before it expires, on the
tool's clock, so a deployment that runs for hours keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, GithubException, GithubIntegration

from kcistage.core.settings import Config
from kcistage.errors import AuthError, ConfigError, ServiceError
from kcistage.shell.config import token

# Renew an installation token this long before it expires: a git push or a step's fetch that
# starts with the token must not find it expired, and clocks differ a little.
RENEW_BEFORE = timedelta(minutes=10)
# What GitHub signs App JWTs with (RS256): the key its App settings page generates.
_EXPECTED = ("GitHub expects the App's RSA private key in PEM (generate one on the App's "
             "settings page)")


class Credentials(Protocol):
    """A source of GitHub tokens."""

    kind: str  # "token" or "app"

    def token(self, full_name: str | None) -> str:
        """The token for a repository ("owner/name"), or for no repository in particular."""
        ...

    def bot_login(self) -> str | None:
        """The login GitHub shows for what this credential writes, when known without asking."""
        ...


@dataclass
class TokenCredentials:
    """One fixed token (github.token_file or $github.token_env)."""

    value: str
    kind: str = "token"

    def token(self, full_name: str | None = None) -> str:
        """The same token for every repository."""
        return self.value

    def bot_login(self) -> str | None:
        """Unknown without a request (GET /user); the config's `bot` covers it."""
        return None


class AppCredentials:
    """A GitHub App: JWTs from its private key, installation tokens per repository owner."""

    kind = "app"

    def __init__(self, api_url: str, app_id: int, private_key: str,
                 clock: Callable[[], datetime], timeout: float = 15.0,
                 renew_before: timedelta = RENEW_BEFORE) -> None:
        self.app_id, self.clock, self.renew_before = app_id, clock, renew_before
        self._api = api_url.rstrip("/")
        try:
            auth = Auth.AppAuth(app_id, private_key)
        except AssertionError:
            raise ConfigError("github.app.private_key_file: not a usable private key") from None
        self._integration = GithubIntegration(
            auth=auth, base_url=self._api, timeout=max(1, int(timeout)), retry=None,
            seconds_between_requests=None, seconds_between_writes=None)
        self._slug: str | None = None
        self._installations: dict[str, int] = {}  # "owner/name" -> installation id
        self._permissions: dict[str, dict[str, str]] = {}  # "owner/name" -> installation's
        self._tokens: dict[int, tuple[str, datetime]] = {}  # installation id -> (token, expiry)
        self.renewals = 0  # installation tokens created (for tests and `check`)

    def _ask(self, what: str, call: Callable[[], object]) -> object:
        """One PyGithub call; GitHub's refusals and network faults become kcistage errors."""
        try:
            return call()
        except GithubException as exc:
            message = exc.data.get("message", "") if isinstance(exc.data, dict) else ""
            detail = f" ({message})" if message else ""
            if exc.status == 401:
                raise AuthError(f"GitHub rejected the App's JWT for {what} (401){detail}: check "
                                "github.app.id and github.app.private_key_file") from None
            if exc.status == 404:
                raise AuthError(f"GitHub found no {what} (404){detail}") from None
            if exc.status >= 500:
                raise ServiceError(f"GitHub answered {exc.status} for {what}") from None
            raise AuthError(f"GitHub refused {what} ({exc.status}){detail}") from None
        except (requests.RequestException, OSError) as exc:
            raise ServiceError(f"GitHub unreachable: {what} at {self._api} failed "
                               f"({type(exc).__name__})") from None

    def slug(self) -> str:
        """The App's slug (GET /app, once)."""
        if self._slug is None:
            app = self._ask(f"GitHub App {self.app_id}", self._integration.get_app)
            self._slug = str(app.slug)  # type: ignore[attr-defined]
        return self._slug

    def bot_login(self) -> str | None:
        """`<slug>[bot]`: the author of every comment the App writes."""
        return f"{self.slug()}[bot]"

    def installation(self, full_name: str) -> int:
        """The installation id of the App on a repository (GET /repos/{o}/{r}/installation)."""
        if full_name not in self._installations:
            owner, _, name = full_name.partition("/")
            found = self._ask(f"installation of the App on {full_name}",
                              lambda: self._integration.get_repo_installation(owner, name))
            self._installations[full_name] = int(found.id)  # type: ignore[attr-defined]
            self._permissions[full_name] = dict(found.permissions or {})  # type: ignore[attr-defined]
        return self._installations[full_name]

    def permissions(self, full_name: str) -> dict[str, str]:
        """What the App's installation on a repository may do (e.g. {"contents": "write"})."""
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
        now = self.clock()
        if held is None or now >= held[1] - self.renew_before:
            auth = self._ask(f"an installation token (installation {iid})",
                             lambda: self._integration.get_access_token(iid))
            expires = getattr(auth, "expires_at", None)
            if not isinstance(expires, datetime):
                expires = now + timedelta(hours=1)
            held = (str(auth.token), expires.astimezone(UTC))  # type: ignore[attr-defined]
            self._tokens[iid] = held
            self.renewals += 1
        return held[0]

    def expires(self, full_name: str) -> datetime | None:
        """When the token held for a repository's installation expires (None: none held yet)."""
        held = self._tokens.get(self._installations.get(full_name, -1))
        return held[1] if held else None


def read_private_key(path: Path) -> str:
    """The App's PEM private key; a one-line AuthError/ConfigError naming the key otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise AuthError(f"cannot read github.app.private_key_file {path}: {reason}") from None
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"github.app.private_key_file {path}: not an unencrypted PEM private "
                          f"key; {_EXPECTED}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removeprefix("_").removesuffix("PrivateKey") or "other"
        raise ConfigError(f"github.app.private_key_file {path}: key type {kind}; {_EXPECTED}")
    return text


def open_credentials(cfg: Config, clock: Callable[[], datetime],
                     environ: Mapping[str, str] | None = None, timeout: float = 15.0
                     ) -> TokenCredentials | AppCredentials:
    """The configured credential: the GitHub App when `github.app` is set, else the token."""
    app = cfg.github.app
    if app is not None:
        return AppCredentials(cfg.github.api_url, app.id, read_private_key(app.private_key_file),
                              clock, timeout=timeout)
    return TokenCredentials(token(cfg, environ))
