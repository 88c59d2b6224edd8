"""Load config.yaml: read the file strictly, validate it, and read the GitHub token."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from kcistage.core.config_validation import validate
from kcistage.core.settings import Config
from kcistage.errors import AuthError, ConfigError
from kcistage.shell.yamlfile import read_yaml


def load_config(path: Path) -> Config:
    """Read and validate a config file; every problem is a one-line ConfigError naming the key."""
    path = Path(path)
    base = path.resolve().parent

    def local_path(text: str) -> Path:
        # relative paths start from the config file's folder; ~ is the user's home
        return (base / Path(text).expanduser()).resolve()

    return validate(read_yaml(path), path, local_path)


def token(cfg: Config, environ: Mapping[str, str] | None = None) -> str:
    """The GitHub token: `github.token_file` wins over `$<github.token_env>`; AuthError if none.

    A token file that does not exist (a credential only the systemd unit gets) gives way to the
    variable when that is set, so an operator can run kcistage by hand with the same config."""
    gh = cfg.github
    env = os.environ if environ is None else environ
    from_env = (env.get(gh.token_env) or "").strip()
    if gh.token_file is not None and not (from_env and not gh.token_file.exists()):
        try:
            value = gh.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise AuthError(f"cannot read github.token_file {gh.token_file}: {reason} "
                            f"(or set ${gh.token_env})") from None
        if not value:
            raise AuthError(f"github.token_file {gh.token_file} is empty")
        return value
    if not from_env:
        raise AuthError(f"no GitHub token: set ${gh.token_env} or github.token_file in {cfg.path}")
    return from_env


def read_secret(cfg: Config) -> bytes | None:
    """The webhook secret from `serve.webhook_secret_file` (None when not configured)."""
    path = cfg.serve.webhook_secret_file
    if path is None:
        return None
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"serve.webhook_secret_file {path}: cannot read: {exc.strerror}") from None
    if not secret:
        raise ConfigError(f"serve.webhook_secret_file {path} is empty")
    return secret
