"""The `serve:` section of config.yaml: defaults, relative paths, one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcistage.core.settings import Serve, split_listen
from kcistage.errors import ConfigError
from kcistage.shell.config import load_config

REPOS = "repos:\n  - {name: kernelci-api, github: kernelci/kernelci-api}\n"


def load(tmp_path: Path, serve: str) -> Serve:
    (tmp_path / "config.yaml").write_text(REPOS + serve)
    return load_config(tmp_path / "config.yaml").serve


def test_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "") == Serve()
    assert load(tmp_path, "serve: null\n") == Serve(listen="127.0.0.1:8080", webhook_secret_file=None,
                                                    poke_dir=Path("/run/kcistage/pokes"))


def test_values_and_relative_paths(tmp_path: Path) -> None:
    serve = load(tmp_path, "serve: {listen: '[::1]:9000', webhook_secret_file: s, poke_dir: p}\n")
    assert serve.listen == "[::1]:9000" and split_listen(serve.listen) == ("::1", 9000)
    assert serve.webhook_secret_file == tmp_path.resolve() / "s"
    assert serve.poke_dir == tmp_path.resolve() / "p"


@pytest.mark.parametrize(("serve", "message"), [
    ("serve: {listen: 8080}", "serve.listen: expected a string, got 8080"),
    ("serve: {listen: localhost}", "serve.listen: expected HOST:PORT like 127.0.0.1:8080, got 'localhost'"),
    ("serve: {listen: 'h:99999'}", "serve.listen: expected HOST:PORT like 127.0.0.1:8080, got 'h:99999'"),
    ("serve: {listen: ':80'}", "serve.listen: expected HOST:PORT like 127.0.0.1:8080, got ':80'"),
    ("serve: {webhook_secret_file: ''}", "serve.webhook_secret_file: must not be empty"),
    ("serve: {poke_dir: [a]}", "serve.poke_dir: expected a string, got a list"),
    ("serve: {secret: x}", "serve.secret: unknown key"),
    ("serve: [1]", "serve: expected a mapping, got a list"),
])
def test_errors_name_the_key_on_one_line(tmp_path: Path, serve: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, serve + "\n")
    text = str(err.value)
    assert "\n" not in text and text.startswith(str(tmp_path / "config.yaml"))
    assert message in text
