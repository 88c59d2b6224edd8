"""Polling cost per tick against the stand-in: requests and rate-limit points, 10/100/300 PRs per repo.

3 repos; every repo has N open PRs (100 and 300 fill their last page, so the empty next page is
asked too). Each situation is what one tick's look costs: the poll plus the 3 base branches.
A second table: the same with `gate: {checks: all}` on every repo: each PR head has two check
runs and one commit status; 5 PRs per repo have a check still running and 5 a failed one. A look
then also reads the checks of each head that has not passed yet (check runs + combined status).
Run: python tests/benchmarks/bench_polling.py
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from kcistage.core.gate import Outcome, judge
from kcistage.core.settings import GitHubSettings, Repo
from kcistage.sandbox.github_standin import FakeGitHub
from kcistage.shell.github import GitHub

REPOS = tuple(Repo(name=f"repo{i}", github=f"kernelci/repo{i}") for i in range(3))
SIZES = (10, 100, 300)


class Clock:
    """A hand-moved clock shared by the stand-in and the client."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _measure(hub: FakeGitHub, label: str, action) -> tuple[str, int, int, float]:
    """(label, requests, points, seconds) of one action against the stand-in."""
    hub.reset_log()
    began = time.perf_counter()
    action()
    seconds = time.perf_counter() - began
    counts = hub.counts()
    return label, counts["requests"], counts["counted"], seconds


def bench(size: int) -> list[tuple[str, int, int, float]]:
    """(situation, requests, points, seconds) for one size."""
    clock = Clock()
    rows = []
    with FakeGitHub(clock=clock) as hub:
        for repo in REPOS:
            hub.add_repo(repo.github)
            for n in range(1, size + 1):
                hub.add_pr(repo.github, n, "alice", f"{n:040x}")
        gh = GitHub(GitHubSettings(api_url=hub.url), "test-token", {}, clock, pace=0)

        def look() -> None:
            gh.poll(REPOS)
            for repo in REPOS:
                gh.branch_head(repo)

        def measure(label: str, action=look) -> None:
            rows.append(_measure(hub, label, action))

        measure("first tick")
        clock.now += timedelta(minutes=1)
        measure("idle tick")
        clock.now += timedelta(minutes=1)
        hub.push_pr("kernelci/repo1", size // 2, "f" * 40)
        measure("tick after one push")
        clock.now += timedelta(minutes=1)
        hub.add_pr("kernelci/repo2", size + 1, "bob", "e" * 40)
        measure(f"tick after PR #{size + 1} opens")
        clock.now += timedelta(minutes=1)
        cid = hub.add_comment("kernelci/repo0", 7, "a-wai", "@kcibot deploy")
        measure("tick after one comment")

        def answer() -> None:
            gh.permission(REPOS[0], "a-wai")
            gh.react(REPOS[0], cid)
            gh.reply(REPOS[0], 7, "not a maintainer", cid)

        measure("  its permission+reaction+reply", answer)
        clock.now += timedelta(minutes=1)
        measure("tick after our reply")
        clock.now += timedelta(minutes=1)
        measure("idle tick")
    return rows


def bench_gate(size: int) -> list[tuple[str, int, int, float]]:
    """(situation, requests, points, seconds) with the gate on, as observe reads the checks."""
    clock = Clock()
    rows = []
    with FakeGitHub(clock=clock) as hub:
        running: list[int] = []
        for repo in REPOS:
            hub.add_repo(repo.github)
            for n in range(1, size + 1):
                head = f"{n:040x}"
                hub.add_pr(repo.github, n, "alice", head)
                hub.add_check_run(repo.github, head, "lint")
                hub.add_status(repo.github, head, "ci/e2e", "success")
                if n <= 5:
                    running.append(hub.add_check_run(repo.github, head, "build", status="in_progress"))
                else:
                    hub.add_check_run(repo.github, head, "build", conclusion="failure" if n <= 10 else "success")
        gh = GitHub(GitHubSettings(api_url=hub.url), "test-token", {}, clock, pace=0)

        def look() -> None:
            poll = gh.poll(REPOS)
            for repo in REPOS:
                gh.branch_head(repo)
                for pr in poll.prs[repo.name]:
                    checks = gh.head_checks(repo, pr.sha)
                    if checks is not None and judge(checks, "all").outcome is Outcome.PASSED:
                        gh.mark_passed(repo, pr.sha)

        def measure(label: str) -> None:
            rows.append(_measure(hub, label, look))

        measure("first tick (every head read)")
        clock.now += timedelta(minutes=1)
        measure("idle tick")
        hub.finish_check_run(running[0], "success")
        clock.now += timedelta(minutes=1)
        measure("tick after a check finishes")
        clock.now += timedelta(minutes=1)
        measure("idle tick")
    return rows


def main() -> None:
    """Print one table per size, then the gate's."""
    for title, run in (("", bench), (", gate: {checks: all}", bench_gate)):
        for size in SIZES:
            print(f"\n{len(REPOS)} repos x {size} open PRs{title}")
            print(f"{'situation':<34} {'requests':>8} {'points':>7} {'seconds':>8}")
            for label, requests, points, seconds in run(size):
                print(f"{label:<34} {requests:>8} {points:>7} {seconds:>8.3f}")


if __name__ == "__main__":
    main()
