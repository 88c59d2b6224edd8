"""Waits that span ticks (SPEC 11, 5 rule 4): a drain step records what the deployment waits for
and the run ends; later runs check it once when due and go on. Through the real CLI with --now
(no real sleep), the GitHub stand-in over HTTP, the sandbox's count endpoint, real steps."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kcistage.app.status_document import status_document
from kcistage.sandbox.harmless_step import release
from kcistage.sandbox.sandbox import OWNER, Sandbox, sandbox_steps
from kcistage.shell import statefile
from kcistage.web import page
from tests.conftest import deployments, kill_tick_at, run_cli

API = "kernelci-api"
PULLS = "GET /repos/{o}/{r}/pulls"


def drain_minutely(box: Sandbox, on_timeout: str = "fail") -> None:
    """The sandbox's steps with a drain asked every minute for at most 30 minutes."""
    steps = sandbox_steps(box.records, box.count_url)
    steps[0]["drain"].update({"interval": "1m", "timeout": "30m", "on_timeout": on_timeout})
    box.overrides = {**box.overrides, "steps": steps}
    box.write_config()


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sb") as sandbox:
        drain_minutely(sandbox)
        yield sandbox


def tick(box: Sandbox, *args: str) -> tuple[int, str]:
    done = run_cli(box.config_path, *(args or ("tick",)), now=box.clock())
    return done.returncode, done.stdout + done.stderr


def status(box: Sandbox) -> dict:
    done = run_cli(box.config_path, "status", "--json", now=box.clock())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def start_waiting(box: Sandbox) -> dict:
    """The first change, then a full deployment that reaches the drain with 3 jobs running."""
    box.set_queue(3)
    assert tick(box)[0] == 0
    box.advance(5)
    code, out = tick(box)
    assert code == 0 and "step drain-queue waits for queue to drain" in out, out
    record = deployments(box)[-1]
    assert record["result"] == "running" and record["waiting"]["step"] == "drain-queue"
    return record


def test_a_waiting_deployment_spans_ticks_that_answer_comments(box: Sandbox) -> None:
    box.open_pr(API, 5, "stranger", {"api/x.py": "X = 1\n"})
    record = start_waiting(box)
    assert record["steps"] == [] and box.step_records() == []  # no step ran yet
    with statefile.Lock(box.root / "state" / "state.json"):
        pass  # the lock is free between checks: no process waits
    doc = status(box)
    assert doc["running"]["id"] == 1 and "count 3" in doc["running"]["waiting"]
    assert doc["next"]["action"] == "wait" and "waits for" in doc["next"]["reason"]
    text = run_cli(box.config_path, "status", now=box.clock()).stdout
    assert "waits for queue to drain" in text and "gone" not in text, text
    full = status_document(box.config(), box.state(), box.clock())
    html = page.render(full, box.state()["deployments"])
    assert "waits for queue to drain" in html and "process is gone" not in html

    state_file = box.root / "state" / "state.json"
    before, asked = state_file.read_bytes(), len(box.hub.requests)
    box.comment(API, 5, "stranger", "@kcibot trigger")  # seen, not answered, by a dry run
    code, out = tick(box, "tick", "--dry-run")
    assert code == 0 and "plan: deployment 1 (full) step drain-queue waits for queue" in out, out
    code, out = tick(box, "deploy", "--dry-run")
    assert code == 0 and "a deploy by hand waits until it ends" in out, out
    assert state_file.read_bytes() == before  # byte for byte
    assert {r["method"] for r in box.hub.requests[asked:]} == {"GET"}  # no write to GitHub
    assert len(box.hub.comments(f"{OWNER}/{API}", 5)) == 1

    box.advance(0.5)  # a comment while it waits is answered by the next tick
    box.comment(API, 5, "stranger", "@kcibot deploy")
    code, out = tick(box)
    assert code == 0 and "next check 09:06" in out, out
    assert len(box.hub.comments(f"{OWNER}/{API}", 5)) == 4  # two comments, two replies
    assert deployments(box)[-1]["waiting"] == record["waiting"]  # not due: not checked
    code, out = tick(box, "deploy")
    assert code == 75 and "deployment 1 (full) is running" in out, out

    box.advance(1)
    code, out = tick(box)  # due: asked once, still 3 jobs
    assert code == 0 and deployments(box)[-1]["waiting"]["check_at"] > record["waiting"]["check_at"]
    box.set_queue(0)
    box.advance(1)
    code, out = tick(box)
    assert code == 0 and "deployment 1 success" in out, out
    done = deployments(box)[-1]
    assert done["result"] == "success" and done.get("waiting") is None
    assert done["steps"][0]["name"] == "drain-queue" and done["steps"][0]["result"] == "ok"
    assert done["steps"][0]["seconds"] >= 150  # from the first question to the drained answer
    assert [r["step"] for r in box.step_records()][0] == "build-kernelci-images"
    assert status(box)["running"] is None


def test_a_drain_that_times_out_fails_the_deployment_with_a_reason(box: Sandbox) -> None:
    start_waiting(box)
    box.advance(31)
    code, out = tick(box)
    assert code == 1, out
    record = deployments(box)[-1]
    assert record["result"] == "failed" and record["failed_step"] == "drain-queue"
    assert record["reason"] == "drain-queue: queue not empty after 30m (3)"
    assert status(box)["last"][0]["reason"] == record["reason"]
    assert box.step_records() == []


def test_killed_while_waiting_loses_nothing(box: Sandbox) -> None:
    record = start_waiting(box)
    box.advance(2)
    kill_tick_at(box, PULLS)  # a run killed in the middle of its poll, the wait due
    still = deployments(box)[-1]
    assert still["result"] == "running" and still["waiting"] == record["waiting"]
    box.set_queue(0)
    code, out = tick(box)  # the next run finds it waiting, not interrupted, and goes on
    assert code == 0 and "deployment 1 success" in out and "interrupted" not in out, out


def test_a_waiting_partial_restarts_on_change_and_a_full_one_never(box: Sandbox) -> None:
    start_waiting(box)  # a full cycle waits: a change does not touch it
    box.open_pr(API, 7, "nuclearcat", {"api/main.py": "app = 7\n"})
    assert tick(box)[0] == 0
    assert deployments(box)[-1]["restarts"] == 0 and deployments(box)[-1]["waiting"]
    box.set_queue(0)
    box.advance(1)
    assert tick(box)[0] == 0 and deployments(box)[-1]["result"] == "success"
    assert deployments(box)[-1]["target"][API]["prs"] == []  # joined after it started

    box.advance(31)
    box.set_queue(2)
    code, out = tick(box)  # PR 7 settled and throttle passed: a partial cycle waits
    partial = deployments(box)[-1]
    assert (partial["id"], partial["cycle"], partial["result"]) == (2, "partial", "running"), out
    box.open_pr(API, 8, "nuclearcat", {"api/models.py": "MODELS = [8]\n"})
    code, out = tick(box)
    restarted = deployments(box)[-1]
    assert code == 0 and restarted["restarts"] == 1 and restarted["waiting"], out
    assert [p[0] for p in restarted["target"][API]["prs"]] == [7, 8]
    box.open_pr(API, 9, "nuclearcat", {"api/nine.py": "N = 9\n"})
    assert tick(box)[0] == 0
    assert deployments(box)[-1]["restarts"] == 1  # max_restarts 1: the change waits


def test_a_long_step_of_a_full_cycle_polls_answers_and_is_not_restarted(box: Sandbox) -> None:
    box.open_pr(API, 5, "nuclearcat", {".demo/slow-build-api-image": "hold\n"})  # held mid-step
    assert tick(box)[0] == 0
    box.advance(5)
    proc = subprocess.Popen([sys.executable, "-m", "kcistage", "--config", str(box.config_path),
                             "--now", box.clock().isoformat(), "tick"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: any(r["step"] == "build-api-image" for r in box.step_records()))
        box.comment(API, 5, "stranger", "@kcibot trigger")
        box.open_pr(API, 6, "nuclearcat", {"api/six.py": "SIX = 6\n"})
        # re-polled during the step (watch_interval 0.3s): the comment answered, PR 6 recorded
        wait_until(lambda: len(box.hub.comments(f"{OWNER}/{API}", 5)) >= 2)
        wait_until(lambda: f"{API}#6" in box.state()["prs"])
        running = deployments(box)[-1]
        assert (running["cycle"], running["result"], running["step"]) == \
            ("full", "running", "build-api-image")
        code, out = tick(box, "deploy")  # by hand: refused, naming what runs
        assert code == 75 and "deployment 1 (full) is running, step build-api-image" in out, out
    finally:
        release(box.records, "build-api-image").touch()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    record = deployments(box)[-1]
    assert record["result"] == "success" and record["restarts"] == 0  # a full cycle: never
    assert [p[0] for p in record["target"][API]["prs"]] == [5]
    assert [r["step"] for r in box.step_records()].count("build-api-image") == 1


def wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for an event the test cannot be told of (a file or a request), checking often."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not seen in time"
        time.sleep(0.02)
