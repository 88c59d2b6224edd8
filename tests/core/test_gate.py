"""Tests of a PR's own checks judged as a gate (SPEC 4, The PR's own checks)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core.enums import Cause, PrState
from kcistage.core.gate import Check, Judgement, Kind, Outcome, judge, verdict


def run(name: str, status: str = "completed", conclusion: str | None = "success", id: int = 1) -> Check:
    return Check(Kind.RUN, name, status, conclusion, id)


def status(name: str, state: str, id: int = 1) -> Check:
    return Check(Kind.STATUS, name, state, None, id)


@pytest.mark.parametrize("checks, wanted, expected", [
    ([], "all", Judgement(Outcome.PASSED)),  # no checks at all pass "all"
    ([], ("build",), Judgement(Outcome.RUNNING, ("build",))),  # a named check not reported yet
    ([run("build", conclusion="failure")], "none", Judgement(Outcome.PASSED)),
    ([run("a"), run("b", conclusion="neutral"), run("c", conclusion="skipped"), status("d", "success")],
     "all", Judgement(Outcome.PASSED)),
    ([run("a", status="queued"), run("b", status="in_progress"), status("c", "pending")], "all",
     Judgement(Outcome.RUNNING, ("a", "b", "c"))),
    ([run("a", conclusion="cancelled"), run("b", conclusion="timed_out"), status("c", "error"),
      status("d", "failure"), run("e", conclusion="action_required"), run("f", status="in_progress")],
     "all", Judgement(Outcome.FAILED, ("a", "b", "c", "d", "e"))),
    ([run("lint", conclusion="failure"), run("build")], ("build",), Judgement(Outcome.PASSED)),
    ([run("lint", conclusion="failure"), status("build", "pending")], ("build",),
     Judgement(Outcome.RUNNING, ("build",))),
    # a re-run: the newest of a name counts
    ([run("a", conclusion="failure", id=1), run("a", id=2)], "all", Judgement(Outcome.PASSED)),
    ([run("a", id=2), run("a", conclusion="failure", id=3)], "all", Judgement(Outcome.FAILED, ("a",))),
])
def test_judge(checks: list[Check], wanted: str | tuple[str, ...], expected: Judgement) -> None:
    assert judge(checks, wanted) == expected


def test_verdicts_say_the_names_in_one_short_line() -> None:
    held = verdict(Judgement(Outcome.FAILED, ("e2e",)))
    assert held is not None
    assert (held.eligible, held.state, held.reason, held.cause) == (
        False, PrState.SKIPPED, "own checks failed: e2e", Cause.CHECKS_FAILED)
    many = verdict(Judgement(Outcome.RUNNING, tuple(f"job\n{n}" for n in range(9))))
    assert many is not None and many.state == PrState.PENDING
    assert many.reason == "own checks running: job0, job1, job2 and 6 more"
    assert verdict(Judgement(Outcome.PASSED)) is None


checks_st = st.lists(st.builds(
    Check, st.sampled_from(list(Kind)), st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["queued", "in_progress", "completed", "pending", "success", "failure", "error"]),
    st.sampled_from([None, "success", "failure", "neutral", "skipped", "cancelled"]),
    st.integers(0, 5)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(checks_st, st.sampled_from(["all", ("a",), ("a", "b"), ("z",)]))
def test_a_named_gate_is_never_stricter_than_all_on_what_it_names(checks: list[Check],
                                                                 wanted: str | tuple[str, ...]) -> None:
    found = judge(checks, wanted)
    if found.outcome is not Outcome.PASSED:
        assert found.names
        if isinstance(wanted, tuple):
            assert set(found.names) <= set(wanted)
    everything = judge(checks, "all")
    if everything.outcome is Outcome.PASSED and isinstance(wanted, tuple):
        reported = {c.name for c in checks}
        assert found.outcome is Outcome.PASSED or not set(wanted) <= reported
