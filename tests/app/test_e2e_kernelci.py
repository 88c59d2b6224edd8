"""The `kernelci` step run by the engine as a wait spanning ticks (SPEC 11), through the real CLI
with --now: the KernelCI stand-in over HTTP, the GitHub stand-in, real git and real steps."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcistage.sandbox.kernelci_standin import MARKER
from kcistage.sandbox.sandbox import OWNER, Sandbox
from tests.conftest import deployments, run_cli

PIPE = "kernelci-pipeline"
HOOK = ("import os, pathlib; pathlib.Path(os.environ['KCISTAGE_WORKDIR'], 'hook-ran')"
        ".write_text(os.environ['KCISTAGE_FAILED_STEP'])")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(tmp_path / "sb", kernelci=True,
                      overrides={"notify": {"on_failure": [sys.executable, "-c", HOOK]}})
    with sandbox:
        yield sandbox


def tick(box: Sandbox) -> tuple[int, str]:
    done = run_cli(box.config_path, "tick", now=box.clock())
    return done.returncode, done.stdout + done.stderr


def status(box: Sandbox) -> dict:
    done = run_cli(box.config_path, "status", "--json", now=box.clock())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def until_concluded(box: Sandbox, deploy_id: int, most: int = 12) -> tuple[int, str, int]:
    """Tick a minute apart until deployment `deploy_id` ends: (exit, output, ticks it took)."""
    for n in range(1, most + 1):
        box.advance(1)
        code, out = tick(box)
        record = next(d for d in deployments(box) if d["id"] == deploy_id)
        if record["result"] != "running":
            return code, out, n
        assert code == 0 and "waits for" in out, out
        assert record["waiting"]["kind"] == "kernelci"
    raise AssertionError(f"deployment {deploy_id} still running after {most} ticks")


def first_full_cycle(box: Sandbox) -> dict:
    assert tick(box)[0] == 0
    box.advance(5)
    code, out = tick(box)
    assert code == 0 and "step test-kernel waits for" in out, out
    record = deployments(box)[-1]
    assert record["result"] == "running" and record["waiting"]["step"] == "test-kernel"
    assert status(box)["running"]["waiting"] == record["waiting"]["what"]
    return record


def test_the_test_kernel_is_followed_across_ticks_to_its_verdict(box: Sandbox) -> None:
    first_full_cycle(box)
    code, out, ticks = until_concluded(box, 1)
    assert code == 0 and "deployment 1 success" in out and ticks >= 3, out
    step = deployments(box)[-1]["steps"][-1]
    assert step["name"] == "test-kernel" and step["result"] == "ok"
    assert step["tree"]["commit"] == box.linux.branch_head("staging-next")
    assert step["tree"]["counts"]["test"]["pass"] > 0
    shown = status(box)["last"][0]["steps"][-1]
    assert shown["summary"] == step["summary"] and shown["tree"]["treeid"] == step["tree"]["treeid"]
    assert len(box.kci.checkouts) == 1  # submitted once, then only read


def test_a_pipeline_that_answers_5xx_is_inconclusive_and_blames_nobody(box: Sandbox) -> None:
    box.kci.fault("checkout", "status", 503, times=3)
    first_full_cycle(box)  # first try: 503
    code, out, ticks = until_concluded(box, 1)  # two more tries a minute apart
    assert code == 1 and ticks == 2, out
    record = deployments(box)[-1]
    assert record["result"] == "failed" and record["inconclusive"] is True
    assert record["reason"].startswith("inconclusive:") and "\n" not in record["reason"]
    assert status(box)["last"][0]["reason"] == record["reason"]
    assert (box.root / "work" / "hook-ran").read_text() == "test-kernel"  # the operator is told
    assert box.state()["bisect"] is None and "no PR blamed" in out
    nxt = status(box)["next"]  # not deployed: the target is still to deploy (rule 2, throttle)
    assert nxt["action"] == "wait" and "throttled" in nxt["reason"], nxt


def test_a_regression_is_found_and_its_pr_blamed_at_the_failed_kernel(box: Sandbox) -> None:
    first_full_cycle(box)
    assert until_concluded(box, 1)[0] == 0
    kernel = deployments(box)[-1]["steps"][-1]["tree"]["commit"]
    box.linux.commit("staging-next", {"Makefile": "VERSION = 7\n"}, "the test kernel moves on")
    box.open_pr(PIPE, 21, "nuclearcat", {"src/fine.py": "FINE = 1\n"})
    box.open_pr(PIPE, 22, "nuclearcat", {MARKER: "login\n"})  # breaks a test in new trees
    assert tick(box)[0] == 0
    box.advance(361)  # settle, throttle and the full interval: a full cycle with both PRs
    code, out = tick(box)
    assert code == 0 and deployments(box)[-1]["id"] == 2, out
    code, out, _ = until_concluded(box, 2)
    failed = deployments(box)[-1]
    assert code == 1 and failed["result"] == "failed" and not failed.get("inconclusive"), out
    assert failed["steps"][-1]["tree"]["commit"] == kernel  # pinned: the baseline's kernel
    assert failed["reason"].startswith("test-kernel: ") and "login" in failed["reason"]
    for _ in range(8):  # the culprit search, one candidate per tick, each following its tree
        if box.state()["bisect"] is None and box.state()["prs"][f"{PIPE}#22"]["state"] == "excluded":
            break
        box.advance(1)
        code, out = tick(box)
        running = deployments(box)[-1]
        if running["result"] == "running":
            until_concluded(box, running["id"])
    candidates = [d for d in deployments(box) if d["trigger"] == "bisect"]
    assert candidates and all(d["steps"][-1]["tree"]["commit"] == kernel for d in candidates
                              if d["steps"] and d["steps"][-1]["name"] == "test-kernel")
    assert box.state()["prs"][f"{PIPE}#22"]["state"] == "excluded"
    assert box.state()["prs"][f"{PIPE}#21"]["state"] != "excluded"
    assert any("culprit" in c["body"] for c in box.hub.comments(f"{OWNER}/{PIPE}", 22))
