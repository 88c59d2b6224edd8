"""core/controls.py: the operator controls document (pure, table-driven)."""

from __future__ import annotations

import pytest

from kcistage.core import controls as c

AT = "2026-11-26T11:00:00+00:00"


def test_pause_and_resume() -> None:
    doc = c.pause(c.empty(), "alice", AT, "docker\nupgrade \x07 now")
    assert doc["paused"] == {"by": "alice", "at": AT, "reason": "docker upgrade now"}
    assert c.paused_reason(doc["paused"]) == f"paused by alice since {AT}: docker upgrade now"
    assert c.paused_reason(c.pause(doc, "bob", AT, None)["paused"]) == f"paused by bob since {AT}"
    assert c.resume(doc)["paused"] is None
    assert c.empty()["paused"] is None  # the input is never changed in place


def test_exclude_then_include() -> None:
    doc = c.exclude(c.empty(), "kernelci-api#12", "alice", AT, "breaks login")
    record = c.hand_exclusion(doc["excluded"], "kernelci-api#12", "a" * 40)
    assert record == {"sha": "a" * 40, "cause": "by_hand", "reason": "by hand (alice): breaks login",
                      "by": "alice", "at": AT}
    assert c.hand_exclusion(doc["excluded"], "kernelci-api#13", "a" * 40) is None
    back = c.include(doc, "kernelci-api#12", "bob", AT)
    assert back["excluded"] == {} and back["include"] == {"kernelci-api#12": {"by": "bob", "at": AT}}
    # excluding again drops the pending include request
    assert c.exclude(back, "kernelci-api#12", "carol", AT, "")["include"] == {}
    assert c.by_hand_reason({"by": "carol", "at": AT, "reason": ""}) == "by hand (carol)"


def test_forget_includes_keeps_a_newer_request() -> None:
    doc = c.include(c.empty(), "kernelci-api#1", "bob", AT)
    done = dict(doc["include"])
    newer = c.include(doc, "kernelci-api#1", "bob", "2026-11-26T11:05:00+00:00")
    assert c.forget_includes(doc, done)["include"] == {}
    assert c.forget_includes(newer, done)["include"] == newer["include"]


@pytest.mark.parametrize("text, repos, expected", [
    ("kernelci-api#12", None, ("kernelci-api", 12)),
    (" kernelci-api#7 ", ("kernelci-api",), ("kernelci-api", 7)),
    ("kernelci-api#0", None, "is not <repo>#<number>"),
    ("kernelci-api 12", None, "is not <repo>#<number>"),
    ("kernelci/kernelci-api#12", None, "is not <repo>#<number>"),
    ("#12", None, "is not <repo>#<number>"),
    ("linux#12", ("kernelci-api", "kernelci-core"), "unknown repo 'linux'"),
])
def test_parse_ref(text: str, repos, expected) -> None:
    if isinstance(expected, tuple):
        assert c.parse_ref(text, repos) == expected
    else:
        with pytest.raises(c.ControlsProblem, match=expected):
            c.parse_ref(text, repos)


@pytest.mark.parametrize("data, problem", [
    ([], "not a controls document"),
    ({"version": 2}, "newer"),
    ({"version": 1, "paused": {"by": "a"}}, "paused: expected an object"),
    ({"version": 1, "excluded": {"nope": {}}}, "is not <repo>#<number>"),
    ({"version": 1, "include": []}, "include: expected an object"),
])
def test_validate_refuses(data, problem) -> None:
    with pytest.raises(c.ControlsProblem, match=problem):
        c.validate(data)


def test_validate_round_trip() -> None:
    doc = c.include(c.pause(c.exclude(c.empty(), "a#1", "x", AT, "r"), "y", AT, None), "b#2", "z", AT)
    assert c.validate(doc) == doc
    assert c.validate({"version": 1}) == c.empty()


FULL = {"kernelci/kernelci-api": "kernelci-api"}


@pytest.mark.parametrize("text, expected", [
    ("kernelci/kernelci-api#12", ("kernelci-api", 12)),
    ("KernelCI/KernelCI-API#3", ("kernelci-api", 3)),
    ("kernelci-api#4", ("kernelci-api", 4)),
    ("someone/kernelci-api#12", "unknown repo 'someone/kernelci-api'"),
    ("https://github.com/kernelci/kernelci-api/pull/12", "did you mean kernelci-api#12"),
    ("kernelci-api 12", "did you mean kernelci-api#12"),
    ("kernelci-api/pull/7", "did you mean kernelci-api#7"),
    ("12", r"e\.g\. kernelci-api#123 or kernelci/kernelci-api#123"),
])
def test_parse_ref_with_full_names_and_hints(text: str, expected) -> None:
    if isinstance(expected, tuple):
        assert c.parse_ref(text, ("kernelci-api",), FULL) == expected
    else:
        with pytest.raises(c.ControlsProblem, match=expected):
            c.parse_ref(text, ("kernelci-api",), FULL)


@pytest.mark.parametrize("text, expected", [
    ("kernelci-api#2", ("kernelci-api", 2, None)),
    ("kernelci-api#2@1a2b3c4", ("kernelci-api", 2, "1a2b3c4")),
    ("kernelci-api#2@1A2B3C4D", ("kernelci-api", 2, "1a2b3c4d")),
    ("kernelci/kernelci-api#2@" + "f" * 40, ("kernelci-api", 2, "f" * 40)),
])
def test_a_commit_ref_names_a_pr_and_maybe_a_commit(text: str, expected: tuple) -> None:
    assert c.parse_commit_ref(text, ("kernelci-api",),
                                     {"kernelci/kernelci-api": "kernelci-api"}) == expected


@pytest.mark.parametrize("text", ["kernelci-api#2@1a2b3c", "kernelci-api#2@", "kernelci-api#2@xyz1234",
                                  "kernelci-api#2@" + "a" * 41, "kernelci-api#2@1a2b 3c4"])
def test_a_commit_is_at_least_seven_hex_digits(text: str) -> None:
    with pytest.raises(c.ControlsProblem, match="at least its first 7 hex digits"):
        c.parse_commit_ref(text, ("kernelci-api",))


def test_an_include_request_keeps_its_commit_through_the_file() -> None:
    doc = c.include(c.empty(), "kernelci-api#2", "bob", "t", "1a2b3c4")
    assert c.validate(doc)["include"]["kernelci-api#2"] == {"by": "bob", "at": "t",
                                                                   "sha": "1a2b3c4"}
    bad = {**doc, "include": {"kernelci-api#2": {"by": "bob", "at": "t", "sha": "zz"}}}
    with pytest.raises(c.ControlsProblem, match="include.kernelci-api#2.sha"):
        c.validate(bad)


def test_the_commits_an_include_can_name() -> None:
    culprit = {"sha": "c" * 40, "cause": "culprit", "deployment": 4}
    conflict = {"sha": "d" * 40, "cause": "conflict", "base": "e" * 40}
    assert c.nameable(culprit, {"a" * 40: 3}) == ["a" * 40, "c" * 40]
    assert c.nameable(conflict, None) == ["d" * 40]
    assert c.nameable({"sha": "d" * 40, "cause": "head_moved"}, {}) == []
    assert c.faulty_commits(culprit, {"a" * 40: 3}) == {"a" * 40: 3, "c" * 40: 4}
    assert c.matching("aaaaaaa", ["a" * 40, "ab" + "c" * 38]) == ["a" * 40]
    assert c.matching("a", ["a" * 40, "ab" + "c" * 38]) == ["a" * 40, "ab" + "c" * 38]
