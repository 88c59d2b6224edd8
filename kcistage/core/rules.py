"""When to deploy (docs/rules.md) as pure functions of the facts and a clock passed in.

Design note. L = end of the last deployment (any result, interrupted included), F = start of the
last full cycle, C = start of the current stretch during which the eligible target differs from
the last *completed* deployment (`change_mark`). `decide` applies the rules in this order and
stops at the first that applies:

1. A deployment is running. A full cycle continues (nothing interrupts a full cycle). A partial
   one whose target differs from the eligible target restarts with it while it has restarts
   left (< max_restarts), else it continues and the change waits for rule 2 afterwards.
   A culprit-search (bisect) deployment deploys a chosen candidate, not the eligible target, so
   a change never restarts it.
2. A pending culprit-search deployment starts now, trigger "bisect", in the cycle of the
   failure it searches.
3. A pending admin command starts its cycle now, trigger "command" (no settle/throttle/interval).
4. The target changed (differs from the last completed deployment, or nothing deployed yet):
   due = max(C + settle, L + throttle); at or after due a cycle starts, trigger "change", full
   when the full interval has passed since F (or there was no full cycle yet), else partial.
   Before due: wait, naming the bound (settle or throttle) that sets due.
5. The target is unchanged (a failed target included: rule 6 keeps rule 2 from retrying it):
   when the full interval has passed since F and `full_when_unchanged`, a full cycle, trigger
   "periodic", at max(now, L + throttle); otherwise nothing, saying when the next full is due.

`decide_manual` is `kcistage deploy`: a cycle now, trigger "manual", no settle/throttle/interval.
Times in reasons are HH:MM in UTC; durations like 6h12m (durations.human).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kcistage.core.durations import human
from kcistage.core.enums import WaitFor
from kcistage.core.model import Target
from kcistage.core.settings import Schedule

ACTIONS = ("none", "wait", "partial", "full", "restart", "continue")
TRIGGERS = ("change", "periodic", "command", "manual", "bisect")


@dataclass(frozen=True)
class Running:
    """The deployment in progress, as far as the rules care."""

    cycle: str  # "partial" | "full"
    restarts: int
    target: Target  # what it is deploying
    trigger: str | None = None  # its trigger; "bisect" deployments are never restarted


@dataclass(frozen=True)
class Facts:
    """Everything a decision depends on, the clock included."""

    now: datetime
    target: Target  # eligible target from this tick's poll
    deployed: Target | None  # target of the last completed (success/failed) deployment
    deployed_ok: bool  # whether that deployment succeeded
    last_finished: datetime | None  # L
    last_full_started: datetime | None  # F
    changed_since: datetime | None  # C (see change_mark)
    command: str | None = None  # pending admin command: "partial" | "full"
    bisect: Target | None = None  # pending culprit-search deployment target
    bisect_cycle: str = "partial"  # its cycle: the cycle of the failure searched
    bisect_reason: str = ""  # e.g. "culprit search: deployment 2 of at most 4; suspects: ..."
    running: Running | None = None


@dataclass(frozen=True)
class Decision:
    """What to do at this tick, when, why, and with which target."""

    action: str  # one of ACTIONS
    at: datetime | None  # when the action is due (None for "none")
    trigger: str | None  # for partial/full/restart; for wait: the trigger it will start with
    reason: str
    target: Target | None = None
    waits: WaitFor | None = None  # a wait: what for (settle, throttle, a pause)


def hhmm(value: datetime) -> str:
    """A time as HH:MM in UTC, the form used in reasons."""
    return value.astimezone(UTC).strftime("%H:%M")


def change_mark(
    previous: datetime | None, target: Target, deployed: Target | None, now: datetime
) -> datetime | None:
    """C bookkeeping: None when target == deployed; else previous if set, else now."""
    if deployed is not None and target == deployed:
        return None
    return previous if previous is not None else now


def full_due(facts: Facts, schedule: Schedule) -> bool:
    """Whether the next automatic cycle is full (full interval passed since F, or no full yet)."""
    last = facts.last_full_started
    return last is None or facts.now - last >= schedule.full_interval


def _full_note(facts: Facts) -> str:
    # Says why an automatic cycle is full.
    if facts.last_full_started is None:
        return "full cycle due: no full cycle yet"
    return f"full cycle due: last full {human((facts.now - facts.last_full_started).total_seconds())} ago"


def _next_full_at(facts: Facts, schedule: Schedule) -> datetime | None:
    if facts.last_full_started is None:
        return None
    return facts.last_full_started + schedule.full_interval


def _decide_running(facts: Facts, running: Running, schedule: Schedule) -> Decision:
    if running.cycle == "full":
        return Decision("continue", facts.now, None, "full cycle running; never interrupted")
    if running.trigger == "bisect":
        return Decision("continue", facts.now, None, "culprit-search deployment running")
    if running.target == facts.target:
        return Decision("continue", facts.now, None, "partial cycle running; target unchanged")
    if running.restarts < schedule.max_restarts:
        return Decision(
            "restart", facts.now, None,
            f"target changed during the partial cycle; restart "
            f"{running.restarts + 1} of {schedule.max_restarts}",
            facts.target,
        )
    return Decision(
        "continue", facts.now, None,
        f"target changed but the partial cycle was already restarted "
        f"{'once' if running.restarts == 1 else f'{running.restarts} times'} "
        f"(max_restarts {schedule.max_restarts}); the change waits until it ends",
    )


def _decide_changed(facts: Facts, schedule: Schedule) -> Decision:
    now = facts.now
    first = facts.changed_since if facts.changed_since is not None else now
    settle_at = first + schedule.settle
    throttle_at = (
        facts.last_finished + schedule.throttle if facts.last_finished is not None else None
    )
    due = settle_at if throttle_at is None else max(settle_at, throttle_at)
    cycle = "full" if full_due(facts, schedule) else "partial"
    if now >= due:
        note = f"; {_full_note(facts)}" if cycle == "full" else ""
        return Decision(
            cycle, now, "change", f"target changed (first change {hhmm(first)}){note}",
            facts.target,
        )
    if throttle_at is not None and throttle_at > settle_at:
        assert facts.last_finished is not None
        why = f"throttled until {hhmm(due)} (last deployment finished {hhmm(facts.last_finished)})"
        waits = WaitFor.THROTTLE
    else:
        why = f"waiting for settle until {hhmm(due)} (first change {hhmm(first)})"
        waits = WaitFor.SETTLE
    return Decision("wait", due, "change", f"{why}; then a {cycle} cycle", facts.target, waits)


def _decide_unchanged(facts: Facts, schedule: Schedule) -> Decision:
    now = facts.now
    failed = facts.deployed is not None and not facts.deployed_ok
    prefix = "nothing changed"
    if failed:
        retry = "periodic full cycle" if schedule.full_when_unchanged else "manual deploy"
        prefix = (
            f"last deployment of this target failed; waiting for a change, a command or a {retry}"
        )
    if not schedule.full_when_unchanged:
        off = "periodic full cycles are off (full_when_unchanged: false)"
        return Decision("none", None, None, f"{prefix}; {off}")
    if not full_due(facts, schedule):
        at = _next_full_at(facts, schedule)
        assert at is not None  # full_due is True when F is None
        return Decision("none", None, None, f"{prefix}; next full cycle at {hhmm(at)}")
    throttle_at = (
        facts.last_finished + schedule.throttle if facts.last_finished is not None else None
    )
    if throttle_at is not None and now < throttle_at:
        assert facts.last_finished is not None
        return Decision(
            "wait", throttle_at, "periodic",
            f"{prefix}; {_full_note(facts)}; throttled until {hhmm(throttle_at)} "
            f"(last deployment finished {hhmm(facts.last_finished)})",
            facts.target, WaitFor.THROTTLE,
        )
    return Decision("full", now, "periodic", f"{prefix}; {_full_note(facts)}", facts.target)


def decide(facts: Facts, schedule: Schedule) -> Decision:
    """The action for this tick under the rules (rules applied in the order of the module note)."""
    if facts.running is not None:
        return _decide_running(facts, facts.running, schedule)
    if facts.bisect is not None:
        return Decision(
            facts.bisect_cycle, facts.now, "bisect",
            facts.bisect_reason or "culprit search: deploying the next candidate", facts.bisect,
        )
    if facts.command is not None:
        return Decision(
            facts.command, facts.now, "command", f"admin command: {facts.command} cycle",
            facts.target,
        )
    if facts.deployed is None or facts.target != facts.deployed:
        return _decide_changed(facts, schedule)
    return _decide_unchanged(facts, schedule)


def decide_manual(facts: Facts, full: bool) -> Decision:
    """`kcistage deploy [--full]`: a cycle now, ignoring settle, throttle and the interval."""
    cycle = "full" if full else "partial"
    return Decision(cycle, facts.now, "manual", f"manual deploy: {cycle} cycle", facts.target)
