"""Properties of the scheduling rules over random timelines, simulated tick by tick.

The simulator below applies change_mark()/decide() exactly as an engine would: one tick a
minute, poll (target changes and admin commands arrive), finish the deployment whose time is up,
update C, decide, act. Deployments last a random number of minutes and succeed, fail or are
interrupted; the target changes at random, also while a partial deployment runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core.rules import Facts, Running, change_mark, decide
from kcistage.core.settings import Schedule

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(minutes=1)
TICKS = 480


def make_target(version: int) -> dict:
    """A distinct target per version number."""
    return {"api": {"base": "a" * 40, "prs": [[version, f"{version:040x}"]]}}


@dataclass
class Sim:
    """The engine's bookkeeping, reduced to what the rules need, plus a record for checks."""

    sched: Schedule
    outcomes: list[tuple[int, str]]
    target: dict = field(default_factory=lambda: make_target(0))
    versions: list[int] = field(default_factory=lambda: [0])
    deployed: dict | None = None
    deployed_ok: bool = False
    last_finished: datetime | None = None
    last_full: datetime | None = None
    changed_since: datetime | None = None
    differs_since: datetime | None = None  # C tracked here without change_mark, to cross-check
    commands: list[str] = field(default_factory=list)
    running: dict[str, Any] | None = None
    used: int = 0
    starts: list[dict[str, Any]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    log: list[tuple] = field(default_factory=list)

    def outcome(self, now: datetime) -> tuple[datetime, str]:
        minutes, result = self.outcomes[self.used % len(self.outcomes)]
        self.used += 1
        return now + minutes * TICK, result

    def poll(self, events: list[tuple[str, int]]) -> None:
        for kind, pick in events:
            if kind == "change":
                self.versions.append(len(self.versions))
                self.target = make_target(self.versions[-1])
            elif kind == "revert":
                self.target = make_target(self.versions[pick % len(self.versions)])
            else:
                self.commands.append(kind)

    def finish(self, now: datetime) -> None:
        run = self.running
        if run is None or now < run["end"]:
            return
        if run["result"] != "interrupted":  # an interrupted deployment counts as not deployed
            self.deployed, self.deployed_ok = run["target"], run["result"] == "success"
        self.last_finished = run["end"]
        self.finished.append(run)
        self.running = None

    def due(self) -> datetime:
        """max(C + settle, L + throttle), computed here independently of rules.py."""
        assert self.changed_since is not None
        due = self.changed_since + self.sched.settle
        if self.last_finished is not None:
            due = max(due, self.last_finished + self.sched.throttle)
        return due

    def full_due(self, now: datetime) -> bool:
        return self.last_full is None or now - self.last_full >= self.sched.full_interval

    def tick(self, now: datetime, events: list[tuple[str, int]]) -> None:
        self.poll(events)
        self.finish(now)
        self.changed_since = change_mark(self.changed_since, self.target, self.deployed, now)
        if self.deployed is not None and self.target == self.deployed:
            self.differs_since = None
        elif self.differs_since is None:
            self.differs_since = now
        assert self.changed_since == self.differs_since  # changes while waiting join the first
        run = self.running
        facts = Facts(
            now=now, target=self.target, deployed=self.deployed, deployed_ok=self.deployed_ok,
            last_finished=self.last_finished, last_full_started=self.last_full,
            changed_since=self.changed_since, command=self.commands[0] if self.commands else None,
            running=Running(run["cycle"], run["restarts"], run["target"]) if run else None,
        )
        d = decide(facts, self.sched)
        assert decide(facts, self.sched) == d  # determinism
        self.log.append((now, d.action, d.trigger, d.at, d.reason))
        self.check(now, d)
        if d.action in ("partial", "full"):
            if d.trigger == "command":
                self.commands.pop(0)
            end, result = self.outcome(now)
            self.starts.append({
                "at": now, "cycle": d.action, "trigger": d.trigger, "C": self.changed_since,
                "L": self.last_finished, "F": self.last_full, "target": d.target,
            })
            if d.action == "full":
                self.last_full = now
            self.running = {"cycle": d.action, "trigger": d.trigger, "restarts": 0,
                            "target": d.target, "end": end, "result": result}
        elif d.action == "restart":
            assert run is not None
            end, result = self.outcome(now)
            run.update(target=d.target, restarts=run["restarts"] + 1, end=end, result=result)

    def check(self, now: datetime, d) -> None:
        """Per-tick properties of the decision against the simulator's own view."""
        sched, run = self.sched, self.running
        changed = self.deployed is None or self.target != self.deployed
        assert d.action in ("none", "wait", "partial", "full", "restart", "continue")
        if d.action == "wait":
            assert d.at is not None and d.at > now
        if run is not None:
            assert d.action in ("continue", "restart")
            if run["cycle"] == "full":
                assert d.action == "continue"
            elif run["target"] != self.target and run["restarts"] < sched.max_restarts:
                assert d.action == "restart" and d.target == self.target
            else:
                assert d.action == "continue"
            return
        assert d.action in ("none", "wait", "partial", "full")
        if self.commands:
            assert (d.action, d.trigger, d.at) == (self.commands[0], "command", now)
            return
        if changed:
            # Rule 2 liveness and safety: start exactly at the first tick at or after the due time.
            if now >= self.due():
                assert d.trigger == "change" and d.action in ("partial", "full"), d
            else:
                assert (d.action, d.at) == ("wait", self.due()), d
            return
        # Unchanged (failed target included): only the periodic full may start.
        periodic_due = sched.full_when_unchanged and self.full_due(now)
        throttled = self.last_finished is not None and now < self.last_finished + sched.throttle
        if periodic_due and not throttled:
            assert (d.action, d.trigger) == ("full", "periodic"), d
        elif periodic_due:
            assert (d.action, d.at) == ("wait", self.last_finished + sched.throttle), d
        else:
            assert d.action == "none", d


def run_timeline(sched: Schedule, events: dict[int, list], outcomes: list) -> Sim:
    sim = Sim(sched, outcomes)
    for t in range(TICKS):
        sim.tick(T0 + t * TICK, events.get(t, []))
    return sim


schedules = st.builds(
    Schedule,
    full_interval=st.integers(30, 360).map(lambda m: m * TICK),
    throttle=st.integers(0, 60).map(lambda m: m * TICK),
    settle=st.integers(0, 10).map(lambda m: m * TICK),
    max_restarts=st.integers(0, 3),
    full_when_unchanged=st.booleans(),
)
event = st.tuples(
    st.sampled_from(["change", "change", "change", "revert", "partial", "full"]),
    st.integers(0, 50),
)
timelines = st.dictionaries(st.integers(0, TICKS - 1), st.lists(event, min_size=1, max_size=3),
                            max_size=40)
outcome_lists = st.lists(
    st.tuples(st.integers(1, 45), st.sampled_from(["success", "success", "failed", "interrupted"])),
    min_size=1, max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(schedules, timelines, outcome_lists)
def test_timeline_properties(sched, events, outcomes):
    sim = run_timeline(sched, events, outcomes)
    auto = [s for s in sim.starts if s["trigger"] in ("change", "periodic")]
    # Automatic full cycles are at least full_interval apart; the first automatic one is full.
    fulls = [s["at"] for s in auto if s["cycle"] == "full"]
    assert all(b - a >= sched.full_interval for a, b in zip(fulls, fulls[1:], strict=False))
    for s in auto:
        full_due = s["F"] is None or s["at"] - s["F"] >= sched.full_interval
        assert (s["cycle"] == "full") == full_due
        if s["L"] is not None:
            assert s["at"] >= s["L"] + sched.throttle  # throttle holds for change and periodic
    for s in sim.starts:
        if s["trigger"] == "change":
            assert s["C"] is not None and s["at"] >= s["C"] + sched.settle
        if s["trigger"] == "periodic":
            assert sched.full_when_unchanged
    # Restarts are bounded; full cycles are never restarted.
    for run in sim.finished + ([sim.running] if sim.running else []):
        assert run["restarts"] <= sched.max_restarts
        if run["cycle"] == "full":
            assert run["restarts"] == 0
    # The whole run is a function of its inputs.
    assert run_timeline(sched, events, outcomes).log == sim.log


def test_simulator_exercises_the_interesting_paths():
    """Guard against a vacuous simulator: a fixed busy timeline reaches every kind of action."""
    sched = Schedule(full_interval=timedelta(hours=2), throttle=timedelta(minutes=20),
                     settle=timedelta(minutes=5), max_restarts=1)
    events = {t: [("change", 0)] for t in range(0, TICKS, 17)}
    events[100] = [("full", 0)]
    events[101] = [("revert", 0)]
    sim = run_timeline(sched, events, [(10, "success"), (25, "failed"), (7, "interrupted")])
    actions = {entry[1] for entry in sim.log}
    assert {"wait", "partial", "full", "restart", "continue"} <= actions
    assert {s["trigger"] for s in sim.starts} >= {"change", "command"}
    assert any(run["restarts"] == 1 for run in sim.finished)
