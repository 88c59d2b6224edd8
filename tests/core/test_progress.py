"""Tests of core/progress.py: the next effect for a deployment record, and a drain answer judged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcistage.core.progress import (
    Kind,
    drain_check,
    next_effect,
    plan_lines,
    plan_record,
    probe_check,
    waiting,
)
from kcistage.core.settings import Drain, Probe, Step

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PLAN = [plan_record("drain", True, "every cycle"), plan_record("build", False, "no change"),
        plan_record("restart", True, "api/main.py matches api/**")]


def rec(steps: list[tuple[str, str]], held: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"plan": PLAN, "waiting": held,
            "steps": [{"name": n, "result": r, "seconds": 1.0, "reason": f"{n} {r}"} for n, r in steps]}


@pytest.mark.parametrize("steps, kind, step, result", [
    ([], Kind.RUN, "drain", None),
    ([("drain", "ok")], Kind.SKIP, "build", None),
    ([("drain", "ok"), ("build", "skipped")], Kind.RUN, "restart", None),
    ([("drain", "ok"), ("build", "skipped"), ("restart", "ok")], Kind.CONCLUDE, None, "success"),
    ([("drain", "timeout")], Kind.CONCLUDE, None, "failed"),
    ([("drain", "ok"), ("build", "skipped"), ("restart", "failed")], Kind.CONCLUDE, None, "failed"),
])
def test_next_effect_along_the_plan(steps: list[tuple[str, str]], kind: Kind, step: str | None,
                                    result: str | None) -> None:
    effect = next_effect(rec(steps), T0)
    assert (effect.kind, effect.step, effect.result) == (kind, step, result)


def test_a_failed_step_is_the_reason() -> None:
    record = rec([("drain", "ok"), ("build", "skipped"), ("restart", "failed")])
    record["steps"][-1]["reason"] = "exit 3\n  (see the log)"
    assert next_effect(record, T0).reason == "restart: exit 3 (see the log)"
    record["steps"][-1]["summary"] = "answered 502 at http://x/"  # what it showed wins
    assert next_effect(record, T0).reason == "restart: answered 502 at http://x/"


def test_a_wait_is_checked_only_when_due() -> None:
    held = waiting("drain", "drain", T0, T0 + timedelta(minutes=1), "queue to drain (count 3)")
    record = rec([], held)
    early = next_effect(record, T0 + timedelta(seconds=59))
    assert (early.kind, early.step, early.at) == (Kind.WAIT, "drain", T0 + timedelta(minutes=1))
    assert early.reason == "queue to drain (count 3)"
    due = next_effect(record, T0 + timedelta(minutes=1))
    assert (due.kind, due.step) == (Kind.CHECK, "drain")


DRAIN = Drain(url="http://q/count", interval=timedelta(minutes=1), timeout=timedelta(minutes=30))


@pytest.mark.parametrize("minutes, count, on_timeout, result, detail", [
    (0, 0, "fail", "ok", "drained"),
    (29.9, 0, "fail", "ok", "drained"),
    (45, 0, "fail", "ok", "drained"),  # drained is drained, however late the check
    (30, 4, "fail", "timeout", "queue not empty after 30m (4)"),
    (30, None, "fail", "timeout", "queue not empty after 30m (HTTP 502)"),
    (31, 4, "proceed", "ok", "queue not empty at timeout (4); proceeding"),
])
def test_drain_check_over(minutes: float, count: int | None, on_timeout: str, result: str,
                          detail: str) -> None:
    drain = Drain(url=DRAIN.url, interval=DRAIN.interval, timeout=DRAIN.timeout,
                  on_timeout=on_timeout)
    found = drain_check(drain, T0, T0 + timedelta(minutes=minutes), count, "HTTP 502")
    assert (found.result, found.detail, found.check_at) == (result, detail, None)


def test_drain_check_goes_on_waiting() -> None:
    found = drain_check(DRAIN, T0, T0 + timedelta(minutes=2), 3, "count 3")
    assert found.result is None and found.check_at == T0 + timedelta(minutes=3)
    assert "count 3" in found.detail and DRAIN.url in found.detail
    late = drain_check(DRAIN, T0, T0 + timedelta(minutes=29, seconds=30), None, "unreachable")
    assert late.check_at == T0 + timedelta(minutes=30)  # the last check falls at the timeout


@given(st.lists(st.sampled_from(["ok", "skipped", "failed", "timeout"]), max_size=3),
       st.integers(min_value=0, max_value=600))
def test_progress_never_runs_past_a_failure_or_the_plan(results: list[str], seconds: int) -> None:
    record = rec(list(zip([p["name"] for p in PLAN], results, strict=False)))
    effect = next_effect(record, T0 + timedelta(seconds=seconds))
    if any(r in ("failed", "timeout") for r in results[-1:]):
        assert (effect.kind, effect.result) == (Kind.CONCLUDE, "failed")
    elif len(results) == len(PLAN):
        assert (effect.kind, effect.result) == (Kind.CONCLUDE, "success")
    else:
        assert effect.kind in (Kind.RUN, Kind.SKIP) and effect.step == PLAN[len(results)]["name"]


@given(st.integers(min_value=0, max_value=3 * 3600), st.one_of(st.none(), st.integers(0, 50)))
def test_drain_check_at_is_in_the_future_and_bounded(seconds: int, count: int | None) -> None:
    now = T0 + timedelta(seconds=seconds)
    found = drain_check(DRAIN, T0, now, count, "answer")
    if found.result is None:
        assert found.check_at is not None and now < found.check_at <= T0 + DRAIN.timeout
    else:
        assert count == 0 or now >= T0 + DRAIN.timeout


PROBE = Probe(url="http://api/latest/", expect=200, stable=timedelta(seconds=60),
              interval=timedelta(seconds=10), within=timedelta(minutes=5))


@pytest.mark.parametrize("answers, result, last", [
    ([200] * 7, "ok", "answered 200 steadily for 1m (after 0s)"),
    ([None, 503] + [200] * 7, "ok", "answered 200 steadily for 1m (after 20s)"),
    ([200] * 6 + [502] + [200] * 6 + [None], None, "http://api/latest/: connection refused"),
    ([200, 502] * 15 + [200], "failed", "within 5m: last answer HTTP 200"),
    ([None] * 31, "failed", "within 5m: last answer connection refused"),
])
def test_probe_answers_every_ten_seconds(answers: list[int | None], result: str | None,
                                         last: str) -> None:
    since = None
    seen = None
    for i, status in enumerate(answers):
        words = "connection refused" if status is None else f"HTTP {status}"
        seen = probe_check(PROBE, T0, since, T0 + timedelta(seconds=10 * i), status, words)
        since = seen.stable_since
        if seen.result is not None:
            assert i == len(answers) - 1, f"over early at answer {i}: {seen}"
    assert seen is not None and seen.result == result and seen.summary.endswith(last)


STEPS = (Step("drain-queue", drain=DRAIN), Step("api", run=("up",), paths=(("kernelci-api", ("api/**",)),)),
         Step("api-up", probe=PROBE), Step("kernel", run=("k",), cycles=("full",)))


def test_the_plan_of_a_cycle_names_each_step_and_what_decides_it() -> None:
    assert plan_lines("full", "periodic", STEPS, None, T0) == [
        "plan: a full cycle (periodic): build the staging branches, then:",
        "  drain drain-queue", "  run api", "  probe api-up", "  run kernel"]
    assert plan_lines("partial", "change", STEPS, None, T0)[1:] == [
        "  drain drain-queue", "  run api if a file changed in kernelci-api matches its paths",
        "  probe api-up", "  skip kernel: full cycles only"]
    assert plan_lines("none", None, STEPS, None, T0) == []


def test_the_plan_of_a_running_deployment_is_its_next_effect() -> None:
    held = waiting("drain-queue", "drain", T0, T0 + timedelta(minutes=1), "queue to drain (count 3)")
    record = {**rec([], held), "id": 4, "cycle": "partial", "step": "drain-queue"}
    assert plan_lines("continue", None, STEPS, record, T0) == [
        "plan: deployment 4 (partial) step drain-queue waits for queue to drain (count 3); "
        "next check 2026-01-05T09:01:00+00:00"]
    assert "checked now" in plan_lines("continue", None, STEPS, record, T0 + timedelta(minutes=2))[0]
    assert "would restart from its first step" in plan_lines("restart", None, STEPS, record, T0)[0]
