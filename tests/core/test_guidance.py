"""What would change a PR's state: a table over causes and next decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kcistage.core.guidance import Next, Standing, what_changes

AT = datetime(2026, 3, 2, 14, 35, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"
THROTTLED = Next(action="wait", at=AT, waits="throttle", paused=False, running=None)
SETTLING = Next(action="wait", at=AT, waits="settle", paused=False, running=None)
PAUSED = Next(action="wait", at=None, waits="pause", paused=True, running=None)
DUE = Next(action="partial", at=AT, waits=None, paused=False, running=None)
RUNNING = Next(action="wait", at=None, waits=None, paused=False, running=7)
IDLE = Next(action="none", at=None, waits=None, paused=False, running=None)


def standing(state: str = "pending", cause: str | None = None, **extra) -> Standing:
    return Standing(repo="kernelci-api", number=12, sha=SHA, state=state, cause=cause,
                    base="main", **extra)


@pytest.mark.parametrize("pr, nxt, expected", [
    (standing("deployed"), THROTTLED, None),
    (standing(), THROTTLED, "next deployment after 14:35 (throttle)"),
    (standing(), SETTLING, "next deployment after 14:35 (settle)"),
    (standing(), PAUSED, "the pause ends when an operator resumes (`kcistage resume`)"),
    (standing(), DUE, "the next tick deploys it"),
    (standing(), RUNNING, "the next deployment after #7 ends"),
    (standing(deploying=7), RUNNING, "deployment #7 ends (then it is deployed or told why not)"),
    (standing(), IDLE, "a new change, a command or the next full cycle deploys it"),
    (standing("skipped", "untrusted"), THROTTLED, "a maintainer writes `@kcibot deploy 0123456789ab`"),
    (standing("excluded", "approval_dropped"), PAUSED,
     "a maintainer writes `@kcibot deploy 0123456789ab`"),
    (standing("excluded", "conflict", conflict_with=("kernelci-api#7",)), DUE,
     "rebase on kernelci-api#7 (or a change to it)"),
    (standing("excluded", "conflict"), DUE, "rebase on main (or a change to it)"),
    (standing("excluded", "conflict", conflict_with=("kernelci-api#7", "kernelci-api#9")), DUE,
     "rebase on kernelci-api#7, kernelci-api#9 (or a change to them)"),
    (standing("excluded", "culprit"), DUE,
     "a new push (the new head is tried again) or an operator's `kcistage include`"),
    (standing("excluded", "by_hand"), DUE, "an operator runs `kcistage include kernelci-api#12`"),
    (standing("excluded", "head_moved"), DUE, "the next tick tries the new head"),
    (standing("skipped", "draft"), DUE, "the author marks it ready for review"),
    (standing("skipped", "skip_label", label="no-staging"), DUE, "the label no-staging is removed"),
    (standing("skipped", "other_base"), DUE, "it targets main"),
    (standing("pending", "waits", needs=("kernelci-core#7",)), DUE, "waits for kernelci-core#7"),
    (standing("skipped", "depends_on"), DUE,
     "its Depends-On lines name open PRs of configured repos"),
    (standing("pending", "checks_running"), DUE, "its own checks finish"),
    (standing("skipped", "checks_failed"), DUE, "its own checks pass (a new head or a re-run)"),
    (standing("excluded", "no-such-cause"), DUE, None),
])
def test_what_changes(pr: Standing, nxt: Next, expected: str | None) -> None:
    assert what_changes(pr, nxt, "kcibot") == expected


def test_the_pause_comes_before_a_throttle_wait() -> None:
    both = Next(action="wait", at=AT, waits="throttle", paused=True, running=None)
    assert what_changes(standing(), both, "kcibot") == \
        "the pause ends when an operator resumes (`kcistage resume`)"
