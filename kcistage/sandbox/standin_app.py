"""GitHub App authentication for the GitHub stand-in: JWT checks, installations, their tokens.

As on GitHub: the App authenticates with an RS256 JWT signed by its private key (checked here
against its public key) to read GET /app, find GET /repos/{o}/{r}/installation and create
installation access tokens (POST /app/installations/{id}/access_tokens); those tokens then act as
`<slug>[bot]` on the installation's repositories until they expire.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from kcistage.sandbox.github_data import _Reply, _user

# Routes only an App JWT may call.
APP_ROUTES = ("GET /app", "GET /repos/{o}/{r}/installation",
              "POST /app/installations/{id}/access_tokens")


@dataclass
class StandinApp:
    """One registered GitHub App: its id, slug, public key, installations and issued tokens."""

    app_id: int
    slug: str
    public_key_pem: bytes
    token_ttl: timedelta = timedelta(hours=1)
    installations: dict[str, int] = field(default_factory=dict)  # owner -> installation id
    tokens: dict[str, tuple[int, datetime]] = field(default_factory=dict)  # token -> (iid, expiry)
    issued: list[str] = field(default_factory=list)  # every token, in order
    jwt_checks: int = 0
    permissions: dict[str, str] = field(default_factory=lambda: {
        "contents": "write", "issues": "write", "metadata": "read", "pull_requests": "write",
        "statuses": "write"})

    @property
    def login(self) -> str:
        """The bot login the App acts as."""
        return f"{self.slug}[bot]"

    def check_jwt(self, token: str, now: datetime) -> str | None:
        """None if the JWT is the App's, signed by its key and current at `now` (GitHub's
        clock, the stand-in's); else GitHub's complaint."""
        self.jwt_checks += 1
        try:
            claims = jwt.decode(token, self.public_key_pem, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"], "verify_exp": False,
                                         "verify_iat": False})
        except jwt.PyJWTError as exc:
            return f"A JSON web token could not be decoded ({type(exc).__name__})"
        if str(claims["iss"]) != str(self.app_id):
            return "Integration not found"
        at = now.timestamp()
        if not isinstance(claims["iat"], int) or claims["iat"] > at:
            return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        if not isinstance(claims["exp"], int) or claims["exp"] <= at:
            return ("'Expiration time' claim ('exp') must be a numeric value representing the "
                    "future time at which the assertion expires")
        if claims["exp"] - at > 600:  # GitHub refuses JWTs valid over 10 minutes
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    def installation_of(self, full_name: str) -> int | None:
        """The installation covering a repository (installed on its owner), if any."""
        return self.installations.get(full_name.split("/", 1)[0].lower())

    def issue(self, installation_id: int, now: datetime) -> dict[str, Any]:
        """A new installation token, as GitHub's 201 body."""
        token = "ghs_" + secrets.token_hex(18)
        expires = now + self.token_ttl
        self.tokens[token] = (installation_id, expires)
        self.issued.append(token)
        return {"token": token, "expires_at": expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": dict(self.permissions), "repository_selection": "all"}

    def token_owner(self, token: str, full_name: str, now: datetime) -> str | None:
        """The bot login if `token` is a current installation token for this repository."""
        found = self.tokens.get(token)
        if found is None or found[1] <= now:
            return None
        if full_name and self.installation_of(full_name) != found[0]:
            return None
        return self.login

    def valid_tokens(self, now: datetime) -> set[str]:
        """Installation tokens not expired at `now`."""
        return {t for t, (_, expiry) in self.tokens.items() if expiry > now}

    def app_json(self, base_url: str) -> dict[str, Any]:
        """GET /app."""
        return {"id": self.app_id, "slug": self.slug, "node_id": f"A_{self.app_id}",
                "name": self.slug.replace("-", " ").title(),
                "owner": {**(_user("kernelci") or {}), "type": "Organization"},
                "description": "", "external_url": "https://kernelci.org",
                "html_url": f"https://github.com/apps/{self.slug}",
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                "permissions": dict(self.permissions),
                "events": ["issue_comment", "pull_request"], "installations_count":
                len(set(self.installations.values()))}

    def installation_json(self, installation_id: int, owner: str, base_url: str) -> dict[str, Any]:
        """GET /repos/{o}/{r}/installation."""
        return {"id": installation_id, "app_id": self.app_id, "app_slug": self.slug,
                "target_type": "Organization", "target_id": 1,
                "account": {**(_user(owner) or {}), "type": "Organization"},
                "access_tokens_url": f"{base_url}/app/installations/{installation_id}/access_tokens",
                "repositories_url": f"{base_url}/installation/repositories",
                "html_url": f"https://github.com/organizations/{owner}/settings/installations/"
                            f"{installation_id}",
                "permissions": dict(self.permissions),
                "events": ["issue_comment", "pull_request"], "repository_selection": "all",
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                "single_file_name": None, "suspended_at": None, "suspended_by": None}


class AppEndpoints:
    """The stand-in's authentication and its GitHub App routes (mixed into FakeGitHub)."""

    # Provided by FakeGitHub / StandInData:
    token: str
    login: str
    url: str
    clock: Callable[[], datetime]
    _lock: Any
    _repo: Callable[[str], dict[str, Any]]

    def _init_app(self) -> None:
        self.app: StandinApp | None = None
        self._actor = self.login  # who the request being answered authenticated as
        # What GET /repos/{o}/{r} says the token's user may do there.
        self.token_permissions = {"admin": False, "maintain": False, "push": True,
                                  "triage": True, "pull": True}

    def register_app(self, app_id: int, slug: str, public_key_pem: bytes,
                     token_ttl: timedelta = timedelta(hours=1)) -> StandinApp:
        """Register a GitHub App (its JWTs are checked against `public_key_pem`)."""
        with self._lock:
            self.app = StandinApp(app_id, slug, public_key_pem, token_ttl)
            return self.app

    def install_app(self, owner: str, installation_id: int) -> None:
        """Install the registered App on every repository of `owner`."""
        with self._lock:
            assert self.app is not None, "register_app first"
            self.app.installations[owner.lower()] = installation_id

    def valid_tokens(self) -> set[str]:
        """Every credential accepted now: the token and unexpired App installation tokens."""
        with self._lock:
            found = {self.token}
            if self.app is not None:
                found |= self.app.valid_tokens(self.clock())
            return found

    def _authenticate(self, headers: dict[str, str], route: str, path: str) -> str:
        """Set the request's actor from its Authorization header; "" if accepted, else why not."""
        kind, _, value = headers.get("authorization", "").partition(" ")
        kind = kind.lower()
        if route in APP_ROUTES:  # only the App itself, with a JWT
            if self.app is None or kind != "bearer":
                return "A JSON web token could not be decoded"
            problem = self.app.check_jwt(value, self.clock())
            self._actor = self.app.login
            return problem or ""
        if kind not in ("token", "bearer") or not value:
            return "Bad credentials"
        if value == self.token:
            self._actor = self.login
            return ""
        parts = path.split("/")
        full = "/".join(parts[2:4]) if len(parts) > 3 and parts[1] == "repos" else ""
        owner = self.app.token_owner(value, full, self.clock()) if self.app else None
        if owner is None:
            return "Bad credentials"
        self._actor = owner
        return ""

    def _get_app(self, full: str, query: dict[str, str], data: Any) -> tuple[int, Any, dict[str, str]]:
        assert self.app is not None
        return 200, self.app.app_json(self.url), {}

    def _get_repo_installation(self, full: str, query: dict[str, str],
                               data: Any) -> tuple[int, Any, dict[str, str]]:
        assert self.app is not None
        self._repo(full)
        found = self.app.installation_of(full)
        if found is None:
            raise _Reply(404, {"message": "Not Found"})
        return 200, self.app.installation_json(found, full.split("/")[0], self.url), {}

    def _post_app_installations_id_access_tokens(self, full: str, query: dict[str, str], data: Any,
                                                 id: str) -> tuple[int, Any, dict[str, str]]:
        assert self.app is not None
        if int(id) not in self.app.installations.values():
            raise _Reply(404, {"message": "Not Found"})
        return 201, self.app.issue(int(id), self.clock()), {}
