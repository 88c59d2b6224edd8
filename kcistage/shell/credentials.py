"""Where the GitHub credential comes from: a personal/bot token, or a GitHub App's installations.

Both give `token(repo)`, used for the API and (through git's credential helper) for git pushes.
The App's side (JWTs on GitHub's clock, installation tokens kept between runs) is github_app.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kcistage.core.settings import Config
from kcistage.errors import AuthError, ConfigError
from kcistage.shell.config import token
from kcistage.shell.github_app import RENEW_BEFORE, AppCredentials

__all__ = ["RENEW_BEFORE", "AppCredentials", "Credentials", "TokenCredentials", "open_credentials",
           "read_private_key"]

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

    def forget(self, full_name: str | None) -> bool:
        """GitHub refused the token for this repository: drop it if a new one may be had."""
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

    def forget(self, full_name: str | None) -> bool:
        """A fixed token: nothing else to try."""
        return False


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
                     environ: Mapping[str, str] | None = None, timeout: float = 15.0,
                     known: Mapping[str, Any] | None = None, token_file: Path | None = None
                     ) -> TokenCredentials | AppCredentials:
    """The configured credential: the GitHub App when `github.app` is set, else the token.

    For an App, `known` is what an earlier run remembered (kept with the state) and
    `token_file` keeps its installation tokens between runs (None: each run makes its own)."""
    app = cfg.github.app
    if app is not None:
        return AppCredentials(cfg.github.api_url, app.id, read_private_key(app.private_key_file),
                              clock, timeout=timeout, known=known,
                              token_file=token_file)
    return TokenCredentials(token(cfg, environ))
