"""app/controls.apply_includes: which exclusions an `include` lifts (the notes it would write on
the PR are collected here instead of going to GitHub)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcistage.app import controls as operator_controls
from kcistage.app.context import Context
from kcistage.core import controls
from kcistage.core.settings import Config, Repo
from kcistage.shell import statefile
from kcistage.shell.clock import Clock

AT = "2026-11-26T11:00:00+00:00"
HEAD, OLD = "a" * 40, "b" * 40


NOTES: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def notes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What would be said on the PR: (sha, note)."""
    NOTES.clear()
    monkeypatch.setattr(operator_controls, "note_pr",
                        lambda _ctx, _pr, sha, note: NOTES.append((sha, note)))
    return NOTES


def context(tmp_path: Path, excluded: dict, cause: str | None = None, sha: str = HEAD) -> Context:
    cfg = Config(path=tmp_path / "config.yaml", state_file=tmp_path / "state.json",
                 repos=(Repo(name="kernelci-api", github="kernelci/kernelci-api"),))
    state = statefile.empty()
    state["prs"] = {"kernelci-api#7": {"repo": "kernelci-api", "number": 7, "sha": sha,
                                       "excluded": excluded, "cause": cause}}
    doc = controls.include(controls.empty(), "kernelci-api#7", "bob", AT)
    return Context(cfg=cfg, clock=Clock(), state=state, controls=doc)


def test_a_culprit_exclusion_at_the_head_is_lifted(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"sha": HEAD, "cause": "culprit", "deployment": 4}, "culprit")
    assert operator_controls.apply_includes(ctx) == [
        "kernelci-api#7: culprit exclusion lifted by hand by bob"]
    assert ctx.state["prs"]["kernelci-api#7"]["excluded"] is None


def test_a_conflict_at_the_head_is_lifted(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"sha": HEAD, "cause": "conflict", "base": OLD}, "conflict")
    assert operator_controls.apply_includes(ctx) == [
        "kernelci-api#7: conflict exclusion lifted by hand by bob"]


def test_an_exclusion_at_an_older_head_or_of_another_cause_stays(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"sha": OLD, "cause": "culprit", "deployment": 4})
    assert operator_controls.apply_includes(ctx) == []
    assert ctx.state["prs"]["kernelci-api#7"]["excluded"] is not None
    ctx = context(tmp_path, {"sha": HEAD, "cause": "head_moved"})
    assert operator_controls.apply_includes(ctx) == []


def test_an_exclusion_by_hand_is_said_lifted(tmp_path: Path) -> None:
    ctx = context(tmp_path, None, "by_hand")
    assert operator_controls.apply_includes(ctx) == ["kernelci-api#7: exclusion by hand lifted by bob"]


def test_a_culprit_commit_the_head_left_stays_and_the_line_says_how_to_include_it(
        tmp_path: Path) -> None:
    ctx = context(tmp_path, None, None)
    ctx.state["prs"]["kernelci-api#7"]["culprits"] = {OLD: 4}
    assert operator_controls.apply_includes(ctx) == [
        f"kernelci-api#7: the culprit exclusion at {OLD[:12]} stays (the head is now {HEAD[:12]}); "
        f"`kcistage include kernelci-api#7@{OLD[:12]}` lifts it"]
    assert ctx.state["prs"]["kernelci-api#7"]["culprits"] == {OLD: 4}


def test_an_include_at_a_commit_lifts_that_commit_only(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"sha": HEAD, "cause": "culprit", "deployment": 5}, "culprit")
    ctx.state["prs"]["kernelci-api#7"]["culprits"] = {OLD: 4, HEAD: 5}
    ctx.controls = controls.include(controls.empty(), "kernelci-api#7", "bob", AT, OLD[:7])
    assert operator_controls.apply_includes(ctx) == [
        f"kernelci-api#7: culprit exclusion at {OLD[:12]} lifted by hand by bob"]
    pr = ctx.state["prs"]["kernelci-api#7"]
    assert pr["culprits"] == {HEAD: 5} and pr["excluded"]["sha"] == HEAD  # the head's stays
    ctx.controls = controls.include(controls.empty(), "kernelci-api#7", "bob", AT, HEAD[:9])
    assert operator_controls.apply_includes(ctx) == [
        f"kernelci-api#7: culprit exclusion at {HEAD[:12]} lifted by hand by bob"]
    assert pr["culprits"] == {} and pr["excluded"] is None
    ctx.controls = controls.include(controls.empty(), "kernelci-api#7", "bob", AT, "1234567")
    assert operator_controls.apply_includes(ctx) == [
        "kernelci-api#7: include at 1234567 not done: it names no excluded commit of the PR "
        "(none excluded)"]
