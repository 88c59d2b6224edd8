"""app/kernelci_step.py against the KernelCI stand-in over HTTP and a real git tree: one check per run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kcistage.app.context import Context, Output
from kcistage.app.kernelci_step import check_kernelci
from kcistage.core.settings import Config, KernelCI, KernelTree, Repo, Step
from kcistage.core.state import DeploymentRecord
from kcistage.sandbox.kernelci_standin import FakeKernelCI
from kcistage.sandbox.localrepo import LocalRepo
from kcistage.shell import statefile
from kcistage.shell.tree_files import load_results

TOKEN = "kci-secret-token-0123"
A = {"kernelci-pipeline": {"base": "a" * 40, "prs": []}}
B = {"kernelci-pipeline": {"base": "a" * 40, "prs": [[5, "5" * 40]]}}


@dataclass
class World:
    ctx: Context
    kci: FakeKernelCI
    tree: LocalRepo
    now: list[datetime] = field(default_factory=lambda: [datetime(2026, 1, 1, tzinfo=UTC)])

    def deployment(self, target: Any, trigger: str = "change", **extra: Any) -> DeploymentRecord:
        state = self.ctx.state
        record: DeploymentRecord = {"id": state["next_id"], "cycle": "full", "trigger": trigger,
                                    "result": "running", "started": "2026-01-01T00:00:00+00:00",
                                    "finished": None, "target": target, "steps": [], **extra}
        state["next_id"] += 1
        state["deployments"].append(record)
        return record

    def run(self, record: DeploymentRecord, checks: int = 20) -> int:
        """Check the step until it is over, the clock moving to each check; the checks made."""
        step = self.ctx.cfg.steps[0]
        since = self.now[0]
        for n in range(1, checks + 1):
            if not check_kernelci(self.ctx, record, step, since):
                record["result"] = "success" if record["steps"][-1]["result"] == "ok" else "failed"
                return n
            waiting = record["waiting"]
            assert waiting is not None
            self.now[0] = datetime.fromisoformat(waiting["check_at"])
        raise AssertionError("still waiting")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    tree = LocalRepo.create(tmp_path / "linux.git", {"Makefile": "VERSION = 6\n"}, branch="staging-next")
    monkeypatch.setenv("KCI_TOKEN", TOKEN)
    with FakeKernelCI(token=TOKEN) as kci:
        kc = KernelCI(api=kci.url, pipeline=kci.url, tree=KernelTree(str(tree.path), "staging-next"),
                      token_env="KCI_TOKEN", interval=timedelta(minutes=1),
                      timeout=timedelta(hours=1))
        cfg = Config(path=tmp_path / "config.yaml", workdir=tmp_path / "work",
                     state_file=tmp_path / "state.json",
                     repos=(Repo("kernelci-pipeline", "kernelci/kernelci-pipeline"),),
                     steps=(Step("test-kernel", kernelci=kc, cycles=("full",)),))
        now = [datetime(2026, 1, 1, tzinfo=UTC)]
        ctx = Context(cfg=cfg, clock=lambda: now[0], state=statefile.empty(), out=Output(lambda s: None))
        yield World(ctx, kci, tree, now)


def test_first_baseline_then_pinned_kernel_catches_a_regression(world: World) -> None:
    first = world.deployment(A)
    checks = world.run(first)
    step = first["steps"][-1]
    tip = world.tree.branch_head("staging-next")
    assert step["result"] == "ok" and step["tree"]["commit"] == tip and checks == 6
    assert step["summary"].endswith("; first baseline") and step["tree"]["baseline"] is None
    assert world.kci.checkouts[0]["commit"] == tip
    assert load_results(world.ctx.cfg.workdir, first["id"], "test-kernel")

    world.tree.commit("staging-next", {"Makefile": "VERSION = 7\n"}, "the kernel moves on")
    world.kci.failing = {"dmesg.crit"}
    second = world.deployment(B)
    world.run(second)
    step = second["steps"][-1]
    assert world.kci.checkouts[1]["commit"] == tip  # pinned: the baseline's kernel again
    assert step["result"] == "failed" and not second.get("inconclusive")
    assert step["tree"]["baseline"] == first["id"]
    assert step["tree"]["regressions"] == [
        f"test:checkout/kbuild-gcc-12-x86/baseline-x86/dmesg.crit@{p} (fail)"
        for p in ("minnowboard-turbot-E3826", "qemu-x86")]
    assert step["reason"].startswith(f"2 regressions against deployment {first['id']}: test:")


def test_unchanged_software_tests_the_tip_and_makes_a_new_baseline(world: World) -> None:
    world.run(world.deployment(A))
    new_tip = world.tree.commit("staging-next", {"Makefile": "VERSION = 7\n"}, "moves")
    world.kci.failing = {"login"}
    periodic = world.deployment(A, trigger="periodic")
    world.run(periodic)
    step = periodic["steps"][-1]
    assert step["result"] == "ok" and step["tree"]["commit"] == new_tip
    assert "new baseline (the kernel moved)" in step["summary"] and step["tree"]["regressions"]


def test_refused_checkout_is_inconclusive_at_once(world: World) -> None:
    world.kci.fault("checkout", "status", 401)
    record = world.deployment(A)
    assert world.run(record) == 1
    step = record["steps"][-1]
    assert record["inconclusive"] is True and step["result"] == "failed"
    assert step["summary"] == "inconclusive: the pipeline refused the checkout (401): Unauthorized"


def test_a_stalled_tree_is_inconclusive_at_timeout_naming_what_is_not_done(world: World) -> None:
    world.kci.stall = True
    record = world.deployment(A)
    world.run(record, checks=80)
    step = record["steps"][-1]
    assert record["inconclusive"] and step["summary"].startswith(
        "inconclusive: tree ") and "not complete after 1h: " in step["summary"]
    assert "(running)" in step["summary"]
    assert world.now[0] - datetime(2026, 1, 1, tzinfo=UTC) == timedelta(hours=1)


def test_the_token_is_never_in_the_state_or_the_log(world: World) -> None:
    record = world.deployment(A)
    step = world.ctx.cfg.steps[0]
    check_kernelci(world.ctx, record, step, world.now[0])
    assert record["waiting"] is not None and record["waiting"]["kind"] == "kernelci"
    assert record["waiting"]["data"]["phase"] == "tree"
    assert TOKEN not in json.dumps(world.ctx.state)
    logs = list((world.ctx.cfg.workdir / "logs").rglob("*.log"))
    assert logs and all(TOKEN not in p.read_text() for p in logs)
    assert "KCI_TOKEN" not in world.ctx.step_env()


def test_api_down_then_back_goes_on(world: World) -> None:
    record = world.deployment(A)
    step = world.ctx.cfg.steps[0]
    check_kernelci(world.ctx, record, step, world.now[0])
    world.kci.fault("nodes", "status", 503, times=3)
    world.run(record)
    assert record["steps"][-1]["result"] == "ok"


def test_a_malformed_tree_is_inconclusive_with_one_line(world: World) -> None:
    record = world.deployment(A)
    step = world.ctx.cfg.steps[0]
    check_kernelci(world.ctx, record, step, world.now[0])
    world.kci.fault("nodes", "missing")
    world.run(record)
    assert record["steps"][-1]["summary"] == (
        f"inconclusive: the API has no node of tree {record['steps'][-1]['tree']['treeid'][:12]}")


def test_truncated_json_or_a_404_for_the_tree_is_inconclusive_in_one_line(world: World) -> None:
    for kind, detail, words in (("truncated", None, "not JSON"), ("status", 404, "404")):
        record = world.deployment(A)
        step = world.ctx.cfg.steps[0]
        check_kernelci(world.ctx, record, step, world.now[0])
        world.kci.fault("nodes", kind, detail)
        assert world.run(record) == 1
        summary = record["steps"][-1]["summary"]
        assert summary.startswith("inconclusive: the KernelCI API's answer for tree ") and \
            words in summary and "\n" not in summary and record["inconclusive"]
