"""YAML syntax errors in plain words, with the file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kcistage.errors import ConfigError
from kcistage.shell import yamlfile
from kcistage.shell.yamlfile import read_yaml


@pytest.mark.parametrize("text, where, words", [
    ("history: 3\nhistory: 4\n", "line 2, column 1", "duplicate key 'history': each key may appear once"),
    ("github: bot: kcibot\n", "line 1, column 12", "quote a value that contains ': '"),
    ("trust:\n  users: [a]\n admins: [b]\n", "line 3, column 2", "indentation does not line up"),
    ("trust:\n\tusers: [a]\n", "line 2, column 1", "a tab character: indent with spaces"),
    ("steps: [a, b\nhistory: 3\n", "line 2, column 8", "a [list] not closed with ']'"),
    ("a: *nowhere\n", "line 1, column 4", "an alias (*name) with no anchor (&name) before it"),
    ('a: "open\n', "line 2, column 1", "ends inside an unclosed quote or bracket"),
    ("key\nother: 1\n", "line 2, column 6", "a ':' where no key can start"),
])
def test_plain_words_with_line_and_column(tmp_path: Path, text: str, where: str, words: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: YAML: "), message
    assert words in message and "\n" not in message


def test_an_unusual_problem_keeps_pyyaml_words(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("a: !!python/object:os.system x\n")
    with pytest.raises(ConfigError, match=r"line 1, column 4: YAML: .*could not determine a constructor"):
        read_yaml(path)


@pytest.mark.skipif(yamlfile._FastLoader is None, reason="PyYAML built without libyaml")
def test_libyamls_loader_reads_the_shipped_config_alike_and_refuses_duplicates() -> None:
    text = (Path(__file__).resolve().parents[2] / "config.yaml").read_text()
    assert yaml.load(text, Loader=yamlfile._FastLoader) == yaml.load(text, Loader=yamlfile._StrictLoader)  # noqa: S506
    with pytest.raises(yaml.YAMLError, match="duplicate key 'history'"):
        yaml.load("history: 3\nhistory: 4\n", Loader=yamlfile._FastLoader)  # noqa: S506
