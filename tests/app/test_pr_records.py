"""PR records across polls: GitHub-clock head times, closed records kept (bounded) and restored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.app.observe import CLOSED_MAX, _update_prs
from kcistage.core.model import PullRequest, format_time
from kcistage.shell.statefile import empty

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sha(n: int) -> str:
    return f"{n:040x}"


def pr(number: int, head: int | None = None) -> PullRequest:
    return PullRequest(repo="api", number=number, author="dev", sha=sha(head or number), base="main")


def poll(state: dict, numbers: list[int], at: datetime, github: datetime | None,
         heads: dict[int, int] | None = None) -> None:
    heads = heads or {}
    _update_prs(state, {"api": [pr(n, heads.get(n)) for n in numbers]}, {"api": github}, at)


def test_head_seen_at_is_githubs_date_of_the_first_answer_listing_it() -> None:
    state: dict = empty()
    github = T0 + timedelta(hours=3)  # the local clock is three hours behind
    poll(state, [1], T0, github)
    assert state["prs"]["api#1"]["head_seen_at"] == format_time(github)
    poll(state, [1], T0 + timedelta(minutes=1), github + timedelta(minutes=1))
    assert state["prs"]["api#1"]["head_seen_at"] == format_time(github)  # same head: unchanged
    poll(state, [1], T0 + timedelta(minutes=2), github + timedelta(minutes=2), heads={1: 99})
    assert state["prs"]["api#1"]["head_seen_at"] == format_time(github + timedelta(minutes=2))


def test_no_date_means_no_known_time_until_github_says_one() -> None:
    state: dict = empty()
    poll(state, [1], T0, None)
    assert state["prs"]["api#1"]["head_seen_at"] is None
    poll(state, [1], T0, T0 + timedelta(minutes=5))
    assert state["prs"]["api#1"]["head_seen_at"] == format_time(T0 + timedelta(minutes=5))


def test_an_older_local_clock_time_is_dropped_not_compared() -> None:
    state = {**empty(), "prs": {"api#1": {**pr(1).to_json(), "approval": None, "excluded": None,
                               "comments": {}, "sha_seen_at": format_time(T0 - timedelta(days=1))}}}
    poll(state, [1], T0, T0)
    record = state["prs"]["api#1"]
    assert "sha_seen_at" not in record and record["head_seen_at"] == format_time(T0)


def test_a_closed_record_is_kept_and_restored_on_reopen() -> None:
    state: dict = empty()
    poll(state, [1, 2], T0, T0)
    state["prs"]["api#1"].update(approval={"sha": sha(1), "by": "m", "comment": 5},
                                 excluded={"sha": sha(1), "reason": "culprit", "deployment": 3},
                                 comments={sha(1): 77})
    poll(state, [2], T0 + timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert "api#1" not in state["prs"]
    assert state["closed"]["api#1"]["closed_at"] == format_time(T0 + timedelta(minutes=1))
    poll(state, [1, 2], T0 + timedelta(minutes=2), T0 + timedelta(minutes=2))
    record = state["prs"]["api#1"]
    assert state["closed"] == {} and "closed_at" not in record
    assert record["approval"]["sha"] == sha(1) and record["excluded"]["reason"] == "culprit"
    assert record["comments"] == {sha(1): 77}
    # nobody watched it while it was closed: its head counts as seen from the reopening on
    assert record["head_seen_at"] == format_time(T0 + timedelta(minutes=2))


def test_closed_records_are_bounded_to_the_most_recently_closed() -> None:
    state: dict = empty()
    total = CLOSED_MAX + 20
    poll(state, list(range(1, total + 1)), T0, T0)
    for n in range(1, total + 1):  # closed one by one, oldest first
        poll(state, list(range(n + 1, total + 1)), T0 + timedelta(minutes=n), T0)
    assert len(state["closed"]) == CLOSED_MAX
    assert set(state["closed"]) == {f"api#{n}" for n in range(21, total + 1)}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.integers(min_value=1, max_value=8)), min_size=1, max_size=10))
def test_every_record_is_open_or_closed_never_lost(polls: list[set[int]]) -> None:
    state: dict = empty()
    ever: set[str] = set()
    for i, numbers in enumerate(polls):
        poll(state, sorted(numbers), T0 + timedelta(minutes=i), T0 + timedelta(minutes=i))
        ever |= {f"api#{n}" for n in numbers}
        assert set(state["prs"]) == {f"api#{n}" for n in numbers}
        assert set(state["prs"]) | set(state["closed"]) == ever
        assert not set(state["prs"]) & set(state["closed"])
