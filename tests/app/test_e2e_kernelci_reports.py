"""What a full cycle's test kernel tells people, end to end: the PR comment (kernel commit, counts,
"no regression against deployment N", regressions as code), the culprit named by test name, the
inconclusive run's words. Runs are in process (test_e2e_kernelci.py drives the same flows through
the real CLI), `status` through the CLI; the GitHub and KernelCI stand-ins over HTTP, real git."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcistage.sandbox.kernelci_standin import HOSTILE, MARKER, STAGES
from kcistage.sandbox.sandbox import OWNER, Sandbox
from tests.conftest import deployments, run_cli

PIPELINE = "kernelci-pipeline"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sb", kernelci=True) as sandbox:
        assert sandbox.kci is not None
        sandbox.kci.stages_per_read = STAGES  # complete at the first read: following is tested
        yield sandbox                          # in test_e2e_kernelci.py


def cli(box: Sandbox, *args: str) -> tuple[int, str]:
    done = run_cli(box.config_path, *args, now=box.clock())
    return done.returncode, done.stdout + done.stderr


def status(box: Sandbox) -> dict:
    code, out = cli(box, "status", "--json")
    assert code == 0, out
    return json.loads(out)


def follow(box: Sandbox, limit: int = 20) -> dict:
    """Tick every minute until the running deployment ends; its record."""
    for _ in range(limit):
        record = deployments(box)[-1]
        if record["result"] != "running":
            return record
        assert record.get("waiting"), record  # between ticks no process runs it
        box.advance(1)
        result = box.tick()  # in process: the engine's own run, as the CLI's
        assert result.code in (0, 1), result.lines
    raise AssertionError("the deployment never ended")


def full_cycle(box: Sandbox) -> dict:
    """`kcistage deploy --full` (in process, as the CLI runs it), then ticks until it ends."""
    result = box.deploy(full=True)
    assert result.code in (0, 1), result.lines
    return follow(box)


def comment_of(box: Sandbox, number: int, repo: str = PIPELINE) -> str:
    bodies = [c["body"] for c in box.hub.comments(f"{OWNER}/{repo}", number)]
    return "\n".join(bodies)


def kernel_step(record: dict) -> dict:
    return next(s for s in record["steps"] if s["name"] == "test-kernel")


def test_a_full_cycle_says_what_its_test_kernel_showed(box: Sandbox) -> None:
    box.open_pr(PIPELINE, 101, "JenySadadia", {"config/a.yaml": "a: 1\n"})
    box.tick()
    first = full_cycle(box)
    assert first["result"] == "success", first
    step = kernel_step(first)
    assert step["summary"].endswith("; first baseline") and step["tree"]["baseline"] is None
    assert box.kci is not None and len(box.kci.checkouts) == 1
    doc = status(box)
    shown = next(s for s in doc["last"][0]["steps"] if s["name"] == "test-kernel")
    assert shown["tree"]["counts"]["test"] == {"pass": 8} and shown["summary"] == step["summary"]
    assert "Test kernel `" in comment_of(box, 101) and "the first baseline" in comment_of(box, 101)

    box.advance(31)
    box.open_pr(PIPELINE, 102, "JenySadadia", {"config/b.yaml": "b: 1\n"})
    second = full_cycle(box)
    assert second["result"] == "success"
    assert kernel_step(second)["tree"]["commit"] == step["tree"]["commit"]  # pinned
    assert f"no regression against deployment {first['id']}" in comment_of(box, 102)
    code, out = cli(box, "status")
    assert code == 0 and f"{second['id']} test-kernel: kernel " in out


def test_a_pr_that_breaks_a_test_is_caught_blamed_by_test_name_and_excluded(box: Sandbox) -> None:
    box.open_pr(PIPELINE, 101, "JenySadadia", {"config/a.yaml": "a: 1\n"})
    box.tick()
    assert full_cycle(box)["result"] == "success"
    box.advance(31)
    box.open_pr(PIPELINE, 105, "JenySadadia", {MARKER: "dmesg.crit\n"}, title="stricter dmesg")
    box.open_pr("kernelci-api", 10, "broonie", {"api/users.py": "U = 1\n"})
    box.tick()
    box.advance(6)
    partial = box.tick()  # a partial cycle deploys both: it runs no test kernel, so succeeds
    assert deployments(box)[-1]["cycle"] == "partial", partial.lines
    assert deployments(box)[-1]["result"] == "success"
    failed = full_cycle(box)
    assert failed["result"] == "failed" and not failed.get("inconclusive")
    assert failed["reason"].startswith("test-kernel: ") and "dmesg.crit" in failed["reason"]
    for _ in range(12):  # the culprit search, one deployment per tick, each following its tree
        if deployments(box)[-1]["result"] == "running":
            follow(box)
        if box.state()["bisect"] is None and deployments(box)[-1]["trigger"] == "bisect":
            break
        box.advance(1)
        box.tick()
    prs = {(p["repo"], p["number"]): p for p in status(box)["prs"]}
    assert prs[(PIPELINE, 105)]["state"] == "excluded"
    assert prs[("kernelci-api", 10)]["state"] != "excluded"
    # the suspects are the PRs since the test kernel's baseline, not since the partial cycle
    assert "Excluded as the culprit" not in comment_of(box, 10, "kernelci-api")
    note = comment_of(box, 105)
    assert "Excluded as the culprit" in note and "dmesg.crit@" in note


def test_an_inconclusive_run_blames_nobody(box: Sandbox) -> None:
    box.open_pr(PIPELINE, 101, "JenySadadia", {"config/a.yaml": "a: 1\n"})
    box.tick()
    assert box.kci is not None
    box.kci.fault("checkout", "status", 401)
    record = full_cycle(box)
    assert record["result"] == "failed" and record["inconclusive"] is True
    assert record["reason"].startswith("inconclusive: the pipeline refused the checkout (401)")
    assert deployments(box)[-1]["id"] == record["id"]
    box.advance(1)
    box.tick()
    assert not any(d["trigger"] == "bisect" for d in deployments(box))
    assert "no pull request is blamed" in comment_of(box, 101)


def test_hostile_node_names_reach_the_comment_as_code(box: Sandbox) -> None:
    box.open_pr(PIPELINE, 101, "JenySadadia", {"config/a.yaml": "a: 1\n"})
    box.tick()
    assert box.kci is not None
    box.kci.hostile = True
    assert full_cycle(box)["result"] == "success"
    box.advance(31)
    box.kci.failing = {HOSTILE}
    box.open_pr(PIPELINE, 102, "JenySadadia", {"config/b.yaml": "b: 1\n"})
    assert full_cycle(box)["result"] == "failed"
    note = comment_of(box, 102)
    assert "\x1b" not in note and "\\x1b[31mred\\x07" in note
    assert "`test:checkout/kbuild-gcc-12-x86/baseline-x86/<script>alert(1)</script>" in note
    code, out = cli(box, "status")
    assert "\x1b[31m" not in out


def test_metrics_say_how_long_the_step_has_waited_and_what_the_last_tree_showed(box: Sandbox) -> None:
    from kcistage.app.status_document import status_document
    from kcistage.web import metrics

    box.open_pr(PIPELINE, 101, "JenySadadia", {"config/a.yaml": "a: 1\n"})
    box.tick()
    assert box.deploy(full=True).code == 0
    box.advance(0.5)
    doc = status_document(box.config(), box.state(), box.clock())
    waited = doc["running"]["waiting_seconds"]
    assert 30.0 <= waited < 60.0  # (the sandbox's clock also moves with real time)
    assert f"kcistage_waiting_seconds {waited!r}" in metrics.render(doc, {}, None, None, None, {})
    follow(box)
    doc = status_document(box.config(), box.state(), box.clock())
    text = metrics.render(doc, {}, None, None, None, {})
    assert 'kcistage_tree_identities{step="test-kernel",deployment="1",kind="test",result="pass"} ' \
        "8.0" in text
    assert "kcistage_waiting_seconds" not in text
