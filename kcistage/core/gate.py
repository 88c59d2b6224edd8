"""A PR's own checks as a gate (`repos[].gate`): its head's check runs and commit statuses judged.

Check runs pass when completed with success, neutral or skipped; statuses when success. A check
run queued or in progress, a pending status, or a named check that has not reported is running;
anything else failed. Each name is judged by its latest run or state (the newest id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from kcistage.core.enums import Cause, PrState
from kcistage.core.trust import Verdict

ALL = "all"
NONE = "none"
PASSING_RUNS = ("success", "neutral", "skipped")
MAX_NAMES = 3  # names said in a reason; more are counted
MAX_NAME = 60


class Kind(StrEnum):
    """A check run (Checks API) or a commit status (Statuses API)."""

    RUN = "run"
    STATUS = "status"


@dataclass(frozen=True)
class Check:
    """One check of a head as GitHub reports it."""

    kind: Kind
    name: str  # a check run's name or a status's context
    status: str  # check run: queued|in_progress|completed|...; status: pending|success|failure|error
    conclusion: str | None = None  # check run, once completed
    id: int = 0  # newer runs have larger ids


class Outcome(StrEnum):
    """What a head's checks say."""

    PASSED = "passed"
    RUNNING = "running"
    FAILED = "failed"


@dataclass(frozen=True)
class Judgement:
    """The outcome and the names that make it (running or failed ones)."""

    outcome: Outcome
    names: tuple[str, ...] = ()


def _state(check: Check) -> Outcome:
    if check.kind is Kind.RUN:
        if check.status != "completed":
            return Outcome.RUNNING
        return Outcome.PASSED if check.conclusion in PASSING_RUNS else Outcome.FAILED
    if check.status == "pending":
        return Outcome.RUNNING
    return Outcome.PASSED if check.status == "success" else Outcome.FAILED


def judge(checks: Sequence[Check], wanted: str | tuple[str, ...]) -> Judgement:
    """Judge a head's checks under `gate.checks` (all, none, or a tuple of names)."""
    if wanted == NONE:
        return Judgement(Outcome.PASSED)
    latest: dict[str, Check] = {}
    for check in checks:
        known = latest.get(check.name)
        if known is None or check.id >= known.id:
            latest[check.name] = check
    if isinstance(wanted, tuple):
        names = list(dict.fromkeys(wanted))
        states = {name: _state(latest[name]) if name in latest else Outcome.RUNNING for name in names}
    else:
        names = sorted(latest)
        states = {name: _state(latest[name]) for name in names}
    failed = tuple(n for n in names if states[n] is Outcome.FAILED)
    if failed:
        return Judgement(Outcome.FAILED, failed)
    running = tuple(n for n in names if states[n] is Outcome.RUNNING)
    if running:
        return Judgement(Outcome.RUNNING, running)
    return Judgement(Outcome.PASSED)


def _names(names: tuple[str, ...]) -> str:
    shown = ["".join(ch for ch in n if ch.isprintable())[:MAX_NAME] for n in names[:MAX_NAMES]]
    more = len(names) - MAX_NAMES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def verdict(judgement: Judgement) -> Verdict | None:
    """The verdict that holds a PR back (None: its checks passed)."""
    if judgement.outcome is Outcome.FAILED:
        return Verdict(False, PrState.SKIPPED, f"own checks failed: {_names(judgement.names)}",
                       Cause.CHECKS_FAILED)
    if judgement.outcome is Outcome.RUNNING:
        return Verdict(False, PrState.PENDING, f"own checks running: {_names(judgement.names)}",
                       Cause.CHECKS_RUNNING)
    return None
