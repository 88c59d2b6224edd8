"""shell/github_lookups.py over the real PyGithub and the stand-in: a dependency's state and a
head's own checks, and what they cost (conditional requests: 0 rate-limit points when unchanged)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kcistage.core.dependencies import Outside
from kcistage.core.gate import Check, Kind, Outcome, judge
from kcistage.core.settings import Repo
from kcistage.errors import AuthError
from kcistage.sandbox.github_standin import FakeGitHub
from tests.shell.test_github import Clock, client, sha

API = Repo(name="api", github="kernelci/api")
CHECKS = "GET /repos/{o}/{r}/commits/{ref}/check-runs"
STATUS = "GET /repos/{o}/{r}/commits/{ref}/status"


World = tuple[FakeGitHub, Clock]


@pytest.fixture
def world() -> Iterator[World]:
    """The GitHub stand-in on its own clock, holding the repository API."""
    clock = Clock()
    with FakeGitHub(clock=clock) as hub:
        hub.add_repo(API.github)
        yield hub, clock


def cost(hub: FakeGitHub, call):
    hub.reset_log()
    value = call()
    return value, hub.counts()


def test_a_dependency_merged_is_read_once_and_a_closed_one_conditionally(world: World) -> None:
    hub, clock = world
    hub.add_pr(API.github, 1, "alice", sha(1))
    hub.add_pr(API.github, 2, "alice", sha(2))
    hub.update_pr(API.github, 1, merged=True)
    hub.update_pr(API.github, 2, state="closed")
    gh = client(hub, clock)
    assert gh.pull_state(API, 1) is Outside.MERGED
    state, counts = cost(hub, lambda: gh.pull_state(API, 1))
    assert state is Outside.MERGED and counts["requests"] == 0
    assert gh.pull_state(API, 2) is Outside.CLOSED
    state, counts = cost(hub, lambda: gh.pull_state(API, 2))
    assert state is Outside.CLOSED and counts["requests"] == 1 and counts["counted"] == 0
    assert gh.pull_state(API, 99) is Outside.MISSING
    state, counts = cost(hub, lambda: gh.pull_state(API, 99))
    assert state is Outside.MISSING and counts["requests"] == 0  # a 404 is kept an hour
    clock.tick(3601)
    assert cost(hub, lambda: gh.pull_state(API, 99))[1]["requests"] == 1
    # merged into another branch is not merged into the configured base
    other = Repo(name="api", github="kernelci/api", base="stable")
    assert client(hub, clock).pull_state(other, 1) is Outside.CLOSED


def test_head_checks_running_then_passed_then_never_read_again(world: World) -> None:
    hub, clock = world
    head = sha(7)
    run = hub.add_check_run(API.github, head, "build", status="in_progress")
    hub.add_status(API.github, head, "ci/e2e", "success")
    hub.add_status(API.github, head, "kcistage/staging", "failure")  # its own: left out
    gh = client(hub, clock)
    checks, counts = cost(hub, lambda: gh.head_checks(API, head))
    assert counts["by_route"] == {CHECKS: 1, STATUS: 1}
    assert sorted((c.kind, c.name, c.status) for c in checks or []) == [
        (Kind.RUN, "build", "in_progress"), (Kind.STATUS, "ci/e2e", "success")]
    assert judge(checks or [], "all").outcome is Outcome.RUNNING
    # unchanged: conditional requests, no rate-limit point
    again, counts = cost(hub, lambda: gh.head_checks(API, head))
    assert again == checks and counts["requests"] == 2 and counts["counted"] == 0
    hub.finish_check_run(run, "success")
    done, counts = cost(hub, lambda: gh.head_checks(API, head))
    assert judge(done or [], "all").outcome is Outcome.PASSED and counts["counted"] == 1
    gh.mark_passed(API, head)
    assert cost(hub, lambda: gh.head_checks(API, head)) == (None, {"requests": 0, "counted": 0,
                                                                "by_route": {}})


def test_head_checks_read_every_page(world: World) -> None:
    hub, clock = world
    head = sha(8)
    for n in range(230):
        hub.add_check_run(API.github, head, f"job-{n}")
    hub.add_check_run(API.github, head, "job-5", conclusion="failure")  # a re-run: the latest counts
    checks, counts = cost(hub, lambda: client(hub, clock).head_checks(API, head))
    assert counts["by_route"] == {CHECKS: 3, STATUS: 1}
    assert len({c.name for c in checks or []}) == 230
    assert judge(checks or [], "all").names == ("job-5",)


def test_the_latest_of_a_name_is_judged() -> None:
    old, new = Check(Kind.RUN, "b", "completed", "failure", 1), Check(Kind.RUN, "b", "completed", "success", 2)
    assert judge([old, new], "all").outcome is Outcome.PASSED
    assert judge([new, old], "all").outcome is Outcome.PASSED


def test_checks_refused_say_what_the_gate_needs(world: World) -> None:
    hub, clock = world
    hub.fail_next(1, 403)
    with pytest.raises(AuthError) as caught:
        client(hub, clock).head_checks(API, sha(9))
    assert str(caught.value) == (f"GitHub refused the checks of kernelci/api@{sha(9)[:12]} (403): "
                                 "repos[].gate needs read access to a repo's checks and commit "
                                 "statuses (a GitHub App: Checks: read)")
