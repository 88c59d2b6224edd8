"""Table tests of the scheduling rules (SPEC 5) in kcistage.core.rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kcistage.core.rules import (
    Decision,
    Facts,
    Running,
    change_mark,
    decide,
    decide_manual,
    hhmm,
)
from kcistage.core.settings import Schedule

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
SCHED = Schedule(
    full_interval=6 * H, throttle=30 * M, settle=5 * M, max_restarts=1, full_when_unchanged=True
)

A = {"api": {"base": "a" * 40, "prs": [[1, "1" * 40]]}}
B = {"api": {"base": "a" * 40, "prs": [[1, "1" * 40], [2, "2" * 40]]}}
C = {"api": {"base": "a" * 40, "prs": [[1, "3" * 40]]}}


def facts(**kw) -> Facts:
    """Facts of a steady state: A deployed OK, ended 10:00 (full, started 09:50), no change."""
    base = dict(
        now=T0, target=A, deployed=A, deployed_ok=True, last_finished=T0 - 2 * H,
        last_full_started=T0 - 2 * H - 10 * M, changed_since=None,
    )
    base.update(kw)
    return Facts(**base)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# (name, facts, schedule, action, at, trigger, reason fragments)
CASES = [
    ("nothing changed", facts(), SCHED, "none", None, None,
     ["nothing changed", "next full cycle at 15:50"]),
    ("change waits for settle", facts(target=B, changed_since=T0), SCHED, "wait", at(5), "change",
     ["waiting for settle until 12:05", "first change 12:00", "partial"]),
    ("change settled starts partial",
     facts(now=at(5), target=B, changed_since=T0), SCHED, "partial", at(5), "change",
     ["first change 12:00"]),
    ("changes joined while waiting: C stays the first change",
     facts(now=at(4), target=C, changed_since=T0), SCHED, "wait", at(5), "change",
     ["first change 12:00"]),
    ("throttle binds after settle",
     facts(target=B, changed_since=T0, last_finished=at(-10)), SCHED, "wait", at(20), "change",
     ["throttled until 12:20", "last deployment finished 11:50"]),
    ("throttle passed starts",
     facts(now=at(20), target=B, changed_since=T0, last_finished=at(-10)), SCHED,
     "partial", at(20), "change", []),
    ("settle binds when later than throttle",
     facts(target=B, changed_since=at(-1), last_finished=at(-29)), SCHED, "wait", at(4), "change",
     ["waiting for settle until 12:04", "first change 11:59"]),
    ("full when interval passed",
     facts(target=B, changed_since=at(-5), last_full_started=T0 - 6 * H - 12 * M), SCHED,
     "full", T0, "change", ["full cycle due: last full 6h12m ago"]),
    ("full at exactly the interval",
     facts(target=B, changed_since=at(-5), last_full_started=T0 - 6 * H), SCHED,
     "full", T0, "change", ["last full 6h ago"]),
    ("first automatic cycle is full (F None)",
     facts(target=B, changed_since=at(-5), last_full_started=None), SCHED,
     "full", T0, "change", ["no full cycle yet"]),
    ("before any deployment the first tick is the first change",
     facts(target=A, deployed=None, deployed_ok=False, last_finished=None,
           last_full_started=None, changed_since=T0), SCHED, "wait", at(5), "change",
     ["settle until 12:05", "full"]),
    ("first deployment after settle, no throttle term",
     facts(now=at(5), target=A, deployed=None, deployed_ok=False, last_finished=None,
           last_full_started=None, changed_since=T0), SCHED, "full", at(5), "change", []),
    ("periodic full with no change",
     facts(last_full_started=T0 - 6 * H - 12 * M), SCHED, "full", T0, "periodic",
     ["nothing changed", "last full 6h12m ago"]),
    ("no periodic full when full_when_unchanged is false",
     facts(last_full_started=T0 - 7 * H), replace(SCHED, full_when_unchanged=False),
     "none", None, None, ["periodic full cycles are off"]),
    ("throttle applies to the periodic full",
     facts(last_full_started=T0 - 7 * H, last_finished=at(-10)), SCHED, "wait", at(20),
     "periodic", ["throttled until 12:20", "last deployment finished 11:50"]),
    ("periodic full with F None and an unchanged target",
     facts(last_full_started=None), SCHED, "full", T0, "periodic", ["no full cycle yet"]),
    ("failed target not redeployed by the change rule",
     facts(deployed_ok=False, changed_since=None), SCHED, "none", None, None,
     ["last deployment of this target failed", "waiting for a change", "15:50"]),
    ("failed target retried by the periodic full",
     facts(deployed_ok=False, last_full_started=T0 - 6 * H), SCHED, "full", T0, "periodic",
     ["last deployment of this target failed"]),
    ("a change after a failure deploys",
     facts(target=B, deployed_ok=False, changed_since=at(-6)), SCHED, "partial", T0, "change", []),
    ("interrupted: not deployed, L = when it ended, so throttle from there",
     facts(target=B, deployed=A, changed_since=at(-40), last_finished=at(-3)), SCHED,
     "wait", at(27), "change", ["throttled until 12:27", "finished 11:57"]),
    ("admin partial command ignores settle and throttle",
     facts(target=B, changed_since=T0, last_finished=at(-1), command="partial"), SCHED,
     "partial", T0, "command", []),
    ("admin full command ignores the full interval",
     facts(command="full", last_full_started=at(-1), last_finished=at(-1)), SCHED,
     "full", T0, "command", []),
    ("admin command on an unchanged failed target",
     facts(command="partial", deployed_ok=False), SCHED, "partial", T0, "command", []),
    ("bisect is an immediate partial, before a command",
     facts(bisect=C, command="full", last_finished=at(-1), last_full_started=None), SCHED,
     "partial", T0, "bisect", []),
    ("running full is never interrupted",
     facts(target=B, running=Running("full", 0, A)), SCHED, "continue", T0, None, []),
    ("running partial, same target, continues",
     facts(running=Running("partial", 0, A)), SCHED, "continue", T0, None, []),
    ("running partial restarted on change",
     facts(target=B, changed_since=T0, running=Running("partial", 0, A)), SCHED,
     "restart", T0, None, ["restart 1 of 1"]),
    ("running partial not restarted past max_restarts",
     facts(target=B, changed_since=T0, running=Running("partial", 1, A)), SCHED,
     "continue", T0, None, ["waits"]),
    ("max_restarts 0 never restarts",
     facts(target=B, running=Running("partial", 0, A)), replace(SCHED, max_restarts=0),
     "continue", T0, None, []),
    ("max_restarts 3 allows a third restart",
     facts(target=B, running=Running("partial", 2, A)), replace(SCHED, max_restarts=3),
     "restart", T0, None, ["restart 3 of 3"]),
    ("running bisect deployment is not restarted by a change",
     facts(target=B, running=Running("partial", 0, C, "bisect")), SCHED, "continue", T0, None, []),
    ("running deployment: pending command waits",
     facts(command="full", running=Running("partial", 0, A)), SCHED, "continue", T0, None, []),
]


@pytest.mark.parametrize("name,f,sched,action,when,trigger,fragments", CASES,
                         ids=[c[0] for c in CASES])
def test_decide(name, f, sched, action, when, trigger, fragments):
    d = decide(f, sched)
    assert (d.action, d.at, d.trigger) == (action, when, trigger)
    for fragment in fragments:
        assert fragment in d.reason, (fragment, d.reason)


STARTS = [c[1:3] for c in CASES if c[3] in ("partial", "full", "restart")]


@pytest.mark.parametrize("f,sched", STARTS)
def test_target_is_eligible_target_or_bisect(f, sched):
    d = decide(f, sched)
    assert d.target == (f.bisect if f.bisect is not None else f.target)


def test_settle_then_throttle_timeline():
    """A change at 12:00 after a deployment ended 11:45: wait to 12:15 (throttle), then go."""
    seen = []
    mark = None
    for minute in range(0, 20):
        now = at(minute)
        mark = change_mark(mark, B, A, now)
        d = decide(facts(now=now, target=B, changed_since=mark, last_finished=at(-15)), SCHED)
        seen.append(d.action)
        if d.action != "wait":
            break
        assert d.at == at(15)
    assert seen[:5] == ["wait"] * 5 and seen[-1] == "partial" and len(seen) == 16


CHANGE_MARK = [
    ("unchanged", None, A, A, None),
    ("unchanged clears an old mark", at(-3), A, A, None),
    ("first change marks now", None, B, A, T0),
    ("later changes keep the first mark", at(-3), C, A, at(-3)),
    ("before any deployment: first tick is the first change", None, A, None, T0),
    ("before any deployment: mark kept", at(-2), B, None, at(-2)),
]


@pytest.mark.parametrize("name,prev,target,deployed,expected", CHANGE_MARK,
                         ids=[c[0] for c in CHANGE_MARK])
def test_change_mark(name, prev, target, deployed, expected):
    assert change_mark(prev, target, deployed, T0) == expected


@pytest.mark.parametrize("full,cycle", [(False, "partial"), (True, "full")])
def test_decide_manual_ignores_everything(full, cycle):
    f = facts(target=B, changed_since=T0, last_finished=T0, last_full_started=T0)
    expected = Decision(cycle, T0, "manual", f"manual deploy: {cycle} cycle", B)
    assert decide_manual(f, full) == expected
    assert decide_manual(facts(deployed_ok=False), full).action == cycle


def test_reason_times_are_utc():
    cest = timezone(timedelta(hours=2))
    f = facts(now=T0.astimezone(cest), target=B, changed_since=T0.astimezone(cest))
    assert "until 12:05" in decide(f, SCHED).reason
    assert hhmm(datetime(2026, 1, 1, 14, 7, tzinfo=cest)) == "12:07"


def test_decide_is_deterministic_and_does_not_mutate():
    f = facts(target=B, changed_since=T0, running=Running("partial", 0, A))
    snapshot = repr(f)
    assert decide(f, SCHED) == decide(f, SCHED)
    assert repr(f) == snapshot
