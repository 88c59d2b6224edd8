"""Checks of single configuration values (shapes, strings, numbers, durations, paths, URLs).

Each check returns the value in its typed form or raises a one-line ConfigError naming the file
and the key; config_validation.py builds the sections out of them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from kcistage.core.durations import parse_duration
from kcistage.core.messages import one_line
from kcistage.errors import ConfigError

# Short names end up in file names under workdir and in environment variable names.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
GITHUB_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_RE = re.compile(r"^[^/@:]+@[^/:]+:")  # git@github.com:owner/name.git


class ValueChecker:
    """Validation context: the file name for messages and how a written path becomes absolute."""

    def __init__(self, path: Path, local_path: Callable[[str], Path]):
        self.path = path
        self._local_path = local_path

    def fail(self, key: str, problem: str) -> NoReturn:
        where = f"{key}: " if key else ""
        raise ConfigError(one_line(f"{self.path}: {where}{problem}"))

    # -- shapes -------------------------------------------------------------------------

    def mapping(self, value: Any, key: str, known: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict[str, Any]:
        """A mapping with only `known` keys (None = empty); names the first stray key."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping, got {kind(value)}")
        for k in value:
            if not isinstance(k, str) or k not in known:
                hint = difflib.get_close_matches(str(k), known, n=1)
                self.fail(join_key(key, str(k)),
                          "unknown key" + (f" (did you mean {hint[0]}?)" if hint else ""))
        for k in required:
            if value.get(k) is None:
                self.fail(join_key(key, k), "missing (required)")
        return value

    def string(self, value: Any, key: str, pattern: re.Pattern[str] | None = None,
               expected: str = "") -> str:
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {kind(value)}")
        if not value.strip():
            self.fail(key, "must not be empty")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(key, f"expected {expected}, got {value!r}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {kind(value)}")
        return value

    def integer(self, value: Any, key: str, minimum: int) -> int:
        # YAML's true/false are Python bools, which are ints: reject them explicitly.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {kind(value)}")
        if value < minimum:
            self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def duration(self, value: Any, key: str, allow_zero: bool = False) -> timedelta:
        try:
            result = parse_duration(value)
        except ValueError:
            self.fail(key, f"expected a duration like 30m, got {kind(value)}")
        if not allow_zero and result <= timedelta(0):
            self.fail(key, "must be longer than 0")
        return result

    def choice(self, value: Any, key: str, choices: tuple[str, ...]) -> str:
        if value not in choices or not isinstance(value, str):
            self.fail(key, f"expected one of {'|'.join(choices)}, got {kind(value)}")
        return value

    def items(self, value: Any, key: str, what: str = "a list") -> list[Any]:
        if not isinstance(value, list):
            self.fail(key, f"expected {what}, got {kind(value)}")
        return value

    def argv(self, value: Any, key: str) -> tuple[str, ...]:
        """A non-empty list of strings: commands are never shell strings."""
        if isinstance(value, str):
            self.fail(key, "must be an argv list, not a string (e.g. [docker, compose, up, -d])")
        items = self.items(value, key, "an argv list")
        if not items:
            self.fail(key, "must not be empty")
        words = []
        for i, arg in enumerate(items):
            # No number coercion: YAML reads 010 as 8 and 1.10 as 1.1, so ask for quotes.
            if not isinstance(arg, str):
                self.fail(f"{key}[{i}]", f"expected a string (quote it), got {kind(arg)}")
            words.append(arg)
        if not words[0]:
            self.fail(f"{key}[0]", "must not be empty")
        return tuple(words)

    def logins(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = self.items(value, key, "a list of GitHub logins")
        return tuple(self.string(v, f"{key}[{i}]", LOGIN_RE, "a GitHub login (quote numbers)")
                     for i, v in enumerate(items))

    def local_path(self, value: Any, key: str) -> Path:
        return self._local_path(self.string(value, key))

    def http_url(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if not re.match(r"^https?://[^/\s]+", text) or any(c.isspace() for c in text):
            self.fail(key, f"expected an http(s) URL, got {text!r}")
        return text

    def branch(self, value: Any, key: str) -> str:
        text = self.string(value, key, _BRANCH_RE, "a branch name")
        if ".." in text or text.endswith((".lock", "/", ".")) or "//" in text:
            self.fail(key, f"expected a branch name, got {text!r}")
        return text

    def fetch_url(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if _SCHEME_RE.match(text) or _SCP_RE.match(text):
            return text
        return str(self.local_path(text, key))


def join_key(key: str, sub: str) -> str:
    return f"{key}.{sub}" if key else sub


def kind(value: Any) -> str:
    """How a wrong value is shown in a message: short, one line."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
