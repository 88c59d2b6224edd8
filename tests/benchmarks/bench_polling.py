"""Polling cost for 3 repos x 100 open PRs against the stand-in: requests, rate-limit points, seconds.

Run: python tests/benchmarks/bench_polling.py
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from kcistage.core.settings import GitHubSettings, Repo
from kcistage.sandbox.github_standin import FakeGitHub
from kcistage.shell.github import GitHub

REPOS = tuple(Repo(name=f"repo{i}", github=f"kernelci/repo{i}") for i in range(3))


class Clock:
    """A hand-moved clock shared by the stand-in and the client."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def measure(hub: FakeGitHub, label: str, action) -> None:
    """Run one action and print what it cost."""
    hub.reset_log()
    began = time.perf_counter()
    extra = action()
    seconds = time.perf_counter() - began
    counts = hub.counts()
    print(f"{label:<34} {counts['requests']:>8} {counts['counted']:>13} {seconds:>9.3f}  {extra or ''}")


def main() -> None:
    """Populate the stand-in, then poll in the four situations of the brief."""
    clock = Clock()
    with FakeGitHub(clock=clock) as hub:
        for repo in REPOS:
            hub.add_repo(repo.github)
            for n in range(1, 101):
                hub.add_pr(repo.github, n, "alice", f"{n:040x}")
        gh = GitHub(GitHubSettings(api_url=hub.url), "test-token", {}, clock, pace=0)
        print(f"{len(REPOS)} repos x 100 open PRs")
        print(f"{'situation':<34} {'requests':>8} {'rate points':>13} {'seconds':>9}")

        def poll() -> str:
            result = gh.poll(REPOS)
            return f"prs={sum(map(len, result.prs.values()))} new comments={len(result.comments)}"

        measure(hub, "first poll", poll)
        clock.now += timedelta(minutes=1)
        measure(hub, "idle poll", poll)
        clock.now += timedelta(minutes=1)
        hub.push_pr("kernelci/repo1", 50, "f" * 40)
        measure(hub, "poll after one push", poll)
        clock.now += timedelta(minutes=1)
        cid = hub.add_comment("kernelci/repo0", 7, "a-wai", "@kcibot deploy")
        measure(hub, "poll after one comment", poll)

        def respond() -> str:
            role = gh.permission(REPOS[0], "a-wai")
            gh.react(REPOS[0], cid)
            gh.reply(REPOS[0], 7, "not a maintainer", cid)
            return f"permission={role}"

        measure(hub, "  then permission+reaction+reply", respond)
        clock.now += timedelta(minutes=1)
        measure(hub, "poll after our reply", poll)
        clock.now += timedelta(minutes=1)
        measure(hub, "idle poll", poll)


if __name__ == "__main__":
    main()
