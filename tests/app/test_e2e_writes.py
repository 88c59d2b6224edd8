"""A handful of GitHub writes per deployment (SPEC 8), counted in the stand-in's request log.

Real ticks on the Sandbox: 3 repos x 20 PRs, real git merges, PyGithub over HTTP, one real step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kcistage.sandbox.sandbox import OWNER, Sandbox
from tests.conftest import kill_tick_at

API = "kernelci-api"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture
def box(tmp_path: Path):
    sandbox = Sandbox(tmp_path / "sb", overrides={"steps": [{"name": "noop", "run": ["true"]}]})
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def writes(box: Sandbox) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in box.hub.requests if r["method"] in WRITES]


def deployed(box: Sandbox, action) -> dict:
    """Run a tick/deploy that must deploy successfully; returns the record."""
    before = len(box.state().get("deployments", [])) if (box.root / "state").exists() else 0
    result = action()
    record = box.state()["deployments"][-1]
    assert result.code == 0 and record["id"] == before + 1, result.lines
    assert record["result"] == "success", result.lines
    return record


def test_one_pr_changed_among_60_costs_few_writes_and_no_change_costs_none(box: Sandbox) -> None:
    for repo in box.repos:
        for n in range(1, 21):
            box.open_pr(repo, n, "nuclearcat", {f"feature/{n}.txt": f"{repo} {n}\n"})
    box.tick()
    box.advance(6)
    box.hub.reset_log()
    first = deployed(box, box.tick)
    assert first["cycle"] == "full" and sum(len(e["prs"]) for e in first["target"].values()) == 60
    # pending + success + the comment, per PR: 3 writes (plus the one listing before creating)
    assert len(writes(box)) == 3 * 60

    box.advance(1)
    pushed = box.push(API, 5, {"feature/5.txt": "changed\n"})
    box.tick()
    box.advance(31)
    box.hub.reset_log()
    partial = deployed(box, box.tick)
    assert partial["cycle"] == "partial"
    assert len(writes(box)) <= 5, writes(box)
    assert [s["state"] for s in box.hub.statuses[pushed]] == ["pending", "success"]

    box.advance(31)
    box.hub.reset_log()
    deployed(box, box.deploy)  # a redeploy by hand: nothing changes for any PR
    assert writes(box) == []
    box.advance(1)
    box.hub.reset_log()
    assert box.tick().code == 0
    assert writes(box) == []  # and the next tick has nothing to catch up


def test_a_run_killed_mid_notification_is_finished_by_the_next_tick(box: Sandbox) -> None:
    heads = {n: box.open_pr(API, n, "nuclearcat", {f"feature/{n}.txt": f"{n}\n"}) for n in (1, 2)}
    box.tick()
    box.advance(6)
    kill_tick_at(box, "POST /repos/{o}/{r}/issues/{n}/comments")
    box.advance(1)
    box.hub.reset_log()
    assert box.tick().code == 0
    for n, sha in heads.items():
        mine = [c for c in box.hub.comments(f"{OWNER}/{API}", n) if f"sha={sha}" in c["body"]]
        assert len(mine) == 1 and "**success**" in mine[0]["body"], n
        assert box.hub.statuses[sha][-1]["state"] == "success"
    box.advance(1)
    box.hub.reset_log()
    box.tick()
    assert writes(box) == []
