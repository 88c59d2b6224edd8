"""config: the `github.app` and `github.public_url` keys (one-line errors naming the key)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kcistage.core.settings import GitHubApp
from kcistage.errors import ConfigError
from kcistage.shell.config import load_config

REPOS = [{"name": "kernelci-api", "github": "kernelci/kernelci-api"}]


def _load(tmp_path: Path, github: dict[str, Any]) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"github": github, "repos": REPOS}))
    return load_config(path)


def test_app_and_public_url_are_read(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {"app": {"id": 12345, "private_key_file": "keys/app.pem"},
                           "public_url": "https://staging.kernelci.org/kcistage/"})
    assert cfg.github.app == GitHubApp(id=12345, private_key_file=tmp_path / "keys" / "app.pem")
    assert cfg.github.public_url == "https://staging.kernelci.org/kcistage"


def test_defaults_are_none(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {})
    assert cfg.github.app is None and cfg.github.public_url is None
    assert _load(tmp_path, {"app": None}).github.app is None


@pytest.mark.parametrize(("github", "expected"), [
    ({"app": {"id": 1}}, "github.app.private_key_file: missing (required)"),
    ({"app": {"private_key_file": "k.pem"}}, "github.app.id: missing (required)"),
    ({"app": {"id": "abc", "private_key_file": "k.pem"}}, "github.app.id: expected an integer"),
    ({"app": {"id": 0, "private_key_file": "k.pem"}}, "github.app.id: must be at least 1"),
    ({"app": {"id": 1, "private_key_file": ""}}, "github.app.private_key_file: must not be empty"),
    ({"app": {"id": 1, "private_key_file": "k.pem", "key": 2}}, "github.app.key: unknown key"),
    ({"app": "12345"}, "github.app: expected a mapping"),
    ({"public_url": "staging.kernelci.org"}, "github.public_url: expected an http(s) URL"),
    ({"public_url": 5}, "github.public_url: expected a string"),
])
def test_bad_values_name_the_key(tmp_path: Path, github: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, github)
    message = str(err.value)
    assert expected in message and "\n" not in message
    assert str(tmp_path / "config.yaml") in message
