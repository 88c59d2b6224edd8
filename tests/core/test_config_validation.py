"""Step path patterns: the plain ones are accepted without compiling them, and rightly so."""

from __future__ import annotations

import pathspec
from hypothesis import given
from hypothesis import strategies as st

from kcistage.core.config_validation import PLAIN_PATTERN, pattern_problem

PLAIN = st.text(alphabet="abcXYZ019._/*-", max_size=40)


@given(PLAIN)
def test_a_plain_pattern_always_compiles(pattern: str) -> None:
    assert PLAIN_PATTERN.fullmatch(pattern)
    assert pattern_problem(pattern) is None
    pathspec.GitIgnoreSpec.from_lines([pattern])  # the claim the shortcut rests on


@given(st.text(max_size=20))
def test_any_pattern_is_judged_as_pathspec_compiles_it(pattern: str) -> None:
    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
        compiles = True
    except Exception:
        compiles = False
    assert (pattern_problem(pattern) is None) == compiles


def test_bad_patterns_are_named() -> None:
    assert "Invalid git pattern" in (pattern_problem("!") or "")
    assert pattern_problem("a\\") is not None
    assert pattern_problem("api/**") is None and pattern_problem("[ab]*.py") is None
