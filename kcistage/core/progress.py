"""A running deployment as a record that successive runs advance: its next effect (pure).

A deployment's steps are planned once when its staging branches are built (`record["plan"]`);
each run that holds the lock asks `next_effect` what to do with the record at its clock: run or
skip the next planned step, check the wait a step left (`record["waiting"]`) when it is due, keep
waiting, or conclude. A wait (a drain or kernelci step) spans runs: no process waits between
checks. `drain_check` judges one answer of a drain URL against its settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from kcistage.core.durations import human
from kcistage.core.enums import DeployResult, StepResult
from kcistage.core.model import format_time, parse_time
from kcistage.core.settings import Drain, Probe, Step
from kcistage.core.state import PlanRecord, Waiting


class Kind(StrEnum):
    """What a run does next with a running deployment."""

    RUN = "run"  # start the next planned step
    SKIP = "skip"  # record the next planned step as skipped
    CHECK = "check"  # check the wait of the waiting step once (it is due)
    WAIT = "wait"  # the wait is not due yet: nothing to do until `at`
    CONCLUDE = "conclude"  # the deployment ends with `result`


@dataclass(frozen=True)
class Effect:
    """The next effect for a deployment record."""

    kind: Kind
    step: str | None = None  # RUN, SKIP, CHECK, WAIT: the step
    at: datetime | None = None  # WAIT: when the next check is due
    result: str | None = None  # CONCLUDE: success | failed
    reason: str = ""  # RUN/SKIP: the plan's reason; WAIT: what it waits for; CONCLUDE: why


PASSED = (StepResult.OK, StepResult.SKIPPED)


def next_effect(record: Mapping[str, Any], now: datetime) -> Effect:
    """The next effect for a running deployment `record` at `now` (its plan already made)."""
    waiting = record.get("waiting")
    if waiting:
        due = parse_time(waiting["check_at"])
        if now >= due:
            return Effect(Kind.CHECK, waiting["step"], reason=waiting["what"])
        return Effect(Kind.WAIT, waiting["step"], at=due, reason=waiting["what"])
    steps: Sequence[Mapping[str, Any]] = record.get("steps") or []
    if steps and steps[-1]["result"] not in PASSED:
        last = steps[-1]
        showed = last.get("summary") or last["reason"]
        # inconclusive: nobody is to blame, and the reason says so first
        reason = " ".join(showed.split()) if record.get("inconclusive") \
            else failure_reason(last["name"], showed)
        return Effect(Kind.CONCLUDE, result=DeployResult.FAILED, reason=reason)
    plan: Sequence[Mapping[str, Any]] = record.get("plan") or []
    if len(steps) >= len(plan):
        return Effect(Kind.CONCLUDE, result=DeployResult.SUCCESS, reason="every step passed")
    step = plan[len(steps)]
    return Effect(Kind.RUN if step["run"] else Kind.SKIP, step["name"], reason=step["reason"])


def failure_reason(step: str, showed: str) -> str:
    """A deployment's `reason`: one line naming the failed step and what it showed."""
    return " ".join(f"{step}: {showed}".split())


def plan_record(name: str, run: bool, reason: str) -> PlanRecord:
    """One planned step as stored on the record."""
    return {"name": name, "run": run, "reason": reason}


def waiting(step: str, kind: str, since: datetime, check_at: datetime, what: str,
            data: dict[str, Any] | None = None) -> Waiting:
    """The record of a wait that spans runs."""
    return {"step": step, "kind": kind, "since": format_time(since),
            "check_at": format_time(check_at), "what": " ".join(what.split()),
            "data": data or {}}


@dataclass(frozen=True)
class Check:
    """What one check of a wait found: over (`result` set) or go on waiting until `check_at`."""

    result: str | None  # StepResult when the wait is over, else None
    detail: str  # the step record's reason, or what it waits for
    check_at: datetime | None = None


def drain_check(drain: Drain, since: datetime, now: datetime, count: int | None,
                answer: str) -> Check:
    """One drain answer judged: drained, timed out (fail or proceed), or check again later.

    `count` is the queue length read (None: unreachable or unreadable, which counts as not
    drained yet); `answer` says what the URL answered, for people."""
    if count == 0:
        return Check(StepResult.OK, "drained")
    limit = drain.timeout.total_seconds()
    last = str(count) if count is not None else answer
    deadline = since + drain.timeout
    if now >= deadline:
        if drain.on_timeout == "proceed":
            return Check(StepResult.OK, f"queue not empty at timeout ({last}); proceeding")
        return Check(StepResult.TIMEOUT, f"queue not empty after {human(limit)} ({last})")
    check_at = min(now + max(drain.interval, timedelta(0)), deadline)
    return Check(None, f"queue to drain at {drain.url} ({answer}; gives up after {human(limit)})",
                 check_at)


@dataclass(frozen=True)
class ProbeSeen:
    """What one answer of a probe means: passed or failed (`result`), or read again."""

    result: str | None  # StepResult when the probe is over, else None
    stable_since: datetime | None  # since when the expected answer has kept coming
    summary: str  # one line: what the probe showed (or shows so far)


def probe_check(probe: Probe, started: datetime, stable_since: datetime | None, now: datetime,
                status: int | None, answer: str) -> ProbeSeen:
    """One answer of a probe judged: `status` (None: no HTTP answer), `answer` in words.

    It passes once the expected status has kept coming for `stable` (a container that starts and
    then crash-loops fails), and fails when that has not happened within `within`, naming the
    last answer."""
    if status == probe.expect:
        since = stable_since or now
        if now - since >= probe.stable:
            return ProbeSeen(StepResult.OK, since,
                             f"{probe.url} answered {probe.expect} steadily for "
                             f"{human(probe.stable.total_seconds())} "
                             f"(after {human((since - started).total_seconds())})")
    else:
        since = None
    if now - started >= probe.within:
        return ProbeSeen(StepResult.FAILED, since,
                         f"{probe.url} did not answer {probe.expect} steadily for "
                         f"{human(probe.stable.total_seconds())} within "
                         f"{human(probe.within.total_seconds())}: last answer {answer}")
    return ProbeSeen(None, since, f"{probe.url}: {answer}")


def plan_lines(action: str, trigger: str | None, steps: Sequence[Step],
               running: Mapping[str, Any] | None, now: datetime) -> list[str]:
    """What a run would carry out next, for `--dry-run`: the running deployment's next effect,
    or the steps of the cycle it would start (which partial steps run depends on the files
    changed, known only once the branches are built)."""
    if running is not None:
        ident = f"deployment {running['id']} ({running['cycle']})"
        if action == "restart":
            return [f"plan: {ident} would restart from its first step with the new target"]
        effect = next_effect(running, now)
        if effect.kind is Kind.WAIT and effect.at is not None:
            return [f"plan: {ident} step {effect.step} waits for {effect.reason}; next check "
                    f"{format_time(effect.at)}"]
        if effect.kind is Kind.CHECK:
            return [f"plan: {ident} step {effect.step}: its wait would be checked now "
                    f"({effect.reason})"]
        return [f"plan: {ident} is running step {running.get('step') or effect.step}"]
    if action not in ("partial", "full"):
        return []
    lines = [f"plan: a {action} cycle ({trigger}): build the staging branches, then:"]
    for step in steps:
        if action not in step.cycles:
            lines.append(f"  skip {step.name}: {' and '.join(step.cycles)} cycles only")
        elif action == "full" or step.paths is None:
            lines.append(f"  {step.kind} {step.name}")
        else:
            repos = ", ".join(repo for repo, _ in step.paths)
            lines.append(f"  {step.kind} {step.name} if a file changed in {repos} matches its paths")
    return lines
