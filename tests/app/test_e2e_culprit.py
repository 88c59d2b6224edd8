"""End-to-end culprit search (SPEC 8) on the offline sandbox: real git, real step processes.

A PR adding `BREAKS_STAGING` fails every step that runs; `.demo/fail-<step>` in a PR or in the
workdir fails that step only (kcistage.sandbox.harmless_step).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from kcistage.app.status_document import status_document
from kcistage.errors import RateLimited
from kcistage.sandbox.sandbox import OWNER, Sandbox

PIPE = "kernelci-pipeline"


def first_deploy(box: Sandbox) -> None:
    assert box.deploy(full=True).code == 0


def failing_tick(box: Sandbox) -> tuple[dict, list[str]]:
    """See the change, let settle and throttle pass, deploy: the deployment must fail."""
    box.tick()
    box.advance(31)
    result = box.tick()
    record = box.state()["deployments"][-1]
    assert record["result"] == "failed" and result.code == 1, result.lines
    return record, result.lines


def search_ticks(box: Sandbox, limit: int = 12) -> tuple[list[dict], list[str]]:
    """Tick once a minute while a culprit search is pending; the deployments it made, its lines."""
    made, lines = [], []
    for _ in range(limit):
        if box.state()["bisect"] is None:
            return made, lines
        box.advance(1)
        before = box.state()["next_id"]
        result = box.tick()
        lines += result.lines
        made += [d for d in box.state()["deployments"] if d["id"] >= before]
    raise AssertionError(f"the search did not end: {lines}")


def status_json(box: Sandbox) -> dict:
    done = subprocess.run([sys.executable, "-m", "kcistage", "--config", str(box.config_path),
                           "--now", box.clock().isoformat(), "status", "--json"],
                          capture_output=True, text=True, timeout=60, cwd=box.root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def numbers(record: dict) -> list[int]:
    return [n for n, _ in record["target"][PIPE]["prs"]]


def comments(box: Sandbox, number: int) -> str:
    return "\n".join(c["body"] for c in box.hub.comments(f"{OWNER}/{PIPE}", number))


def test_a_broken_environment_blames_no_pr(box: Sandbox) -> None:
    """Three new PRs, then a step fails whatever is merged: nobody is blamed or excluded."""
    first_deploy(box)
    for n in (1, 2, 3):
        box.open_pr(PIPE, n, "JenySadadia", {f"src/m{n}.py": f"N = {n}\n"})
    workdir = box.root / "work"
    (workdir / ".demo").mkdir(parents=True, exist_ok=True)
    (workdir / ".demo" / "fail-restart-pipeline").write_text("broken environment\n")
    failed, _ = failing_tick(box)
    assert failed["failed_step"] == "restart-pipeline"
    made, lines = search_ticks(box)
    # candidate 1 fails; then "last good" alone fails too: no PR can be blamed
    assert [numbers(d) for d in made] == [[1], []] and all(d["result"] == "failed" for d in made)
    assert len(made) <= math.ceil(math.log2(3)) + 2
    assert any("staging fails without any new PR" in line and "no PR blamed" in line
               for line in lines), lines
    prs = box.state()["prs"]
    assert all(not pr.get("excluded") and pr["state"] == "pending" for pr in prs.values())
    for n in (1, 2, 3):
        assert "Not blamed" in comments(box, n) and "culprit" not in comments(box, n).lower()
    # rule 6: the failed target is not deployed again by itself
    box.advance(31)
    box.tick()
    assert box.state()["deployments"][-1]["id"] == made[-1]["id"]


def test_two_culprits_among_six_are_both_found(box: Sandbox) -> None:
    """Both faulty PRs are excluded, staging ends good, within the budget; status shows the search."""
    first_deploy(box)
    shas = {}
    for n in range(1, 7):
        files = {"BREAKS_STAGING": "x\n"} if n in (2, 5) else {f"src/m{n}.py": f"N = {n}\n"}
        shas[n] = box.open_pr(PIPE, n, "JenySadadia", files)
    failed, lines = failing_tick(box)
    assert any("culprit search among 6 suspects" in line for line in lines), lines
    reason = status_json(box)["next"]["reason"]
    assert reason == ("culprit search: deployment 1 of at most 5; suspects: " +
                      ", ".join(f"{PIPE}#{n}" for n in range(1, 7)))
    # while a candidate runs, status says which deployment of the search it is
    state = box.state()
    state["deployments"].append(dict(failed, id=failed["id"] + 1, result="running", finished=None,
                                     pid=os.getpid(), step="build-pipeline-images",
                                     search={"probe": 3, "of": 6, "failed": failed["id"]}))
    running = status_document(box.config(), state, box.clock())["next"]["reason"]
    assert running == (f"deployment {failed['id'] + 1} (partial) is running, step "
                       f"build-pipeline-images; {reason}")
    made, lines = search_ticks(box)
    prs = box.state()["prs"]
    assert {n for n in range(1, 7) if prs[f"{PIPE}#{n}"].get("excluded")} == {2, 5}
    for n in (2, 5):
        assert prs[f"{PIPE}#{n}"]["excluded"]["sha"] == shas[n]
        assert "Excluded as the culprit" in comments(box, n)
    assert all(d["trigger"] == "bisect" and d["cycle"] == "partial" for d in made)
    assert made[-1]["result"] == "success" and numbers(made[-1]) == [1, 3, 4, 6]
    # budget: ceil(log2 6) + 1 (+ 1 re-check) for the first, ceil(log2 4) + 1 for the second
    assert len(made) <= (math.ceil(math.log2(6)) + 2) + (math.ceil(math.log2(4)) + 1)
    passed = [d for d in made if d["search"].get("probe") is not None and d["result"] == "success"]
    assert passed
    for d in passed:  # a candidate runs only up to the step that failed (build-pipeline-images)
        skipped = {s["name"]: s["reason"] for s in d["steps"] if s["result"] == "skipped"}
        assert skipped["restart-pipeline"] == "not needed for the search"
        assert skipped["test-kernel"] == "not needed for the search"
        assert "build-pipeline-images" not in skipped
    assert box.state()["bisect"] is None
    assert "culprit search" not in status_json(box)["next"]["reason"]


def test_a_full_cycle_only_failure_is_reproduced_and_no_composition_deployed_twice(
        box: Sandbox) -> None:
    """The test kernel breaks in a full cycle: candidates are full cycles up to test-kernel; the
    culprit is the last suspect, so the target without it is the candidate that just succeeded."""
    first_deploy(box)
    box.open_pr(PIPE, 1, "JenySadadia", {"src/a.py": "A = 1\n"})
    bad = box.open_pr(PIPE, 2, "JenySadadia", {".demo/fail-test-kernel": "oops\n"})
    box.tick()
    done = box.deploy(full=True)
    failed = box.state()["deployments"][-1]
    assert done.code == 1 and failed["failed_step"] == "test-kernel" and failed["cycle"] == "full"
    made, lines = search_ticks(box)
    assert [numbers(d) for d in made] == [[1]] and made[0]["result"] == "success"
    assert made[0]["cycle"] == "full"
    assert {s["name"]: s["result"] for s in made[0]["steps"]}["test-kernel"] == "ok"
    pr2 = box.state()["prs"][f"{PIPE}#2"]
    assert pr2["excluded"]["sha"] == bad and "culprit" in pr2["reason"]
    assert any("already deployed the target without" in line for line in lines), lines
    targets = [json.dumps(d["target"]) for d in box.state()["deployments"] if d["id"] > failed["id"]]
    assert len(targets) == len(set(targets)) == 1
    box.advance(31)
    box.tick()
    assert box.state()["deployments"][-1]["id"] == made[-1]["id"]  # nothing left to deploy


def test_suspects_that_leave_leave_the_search(box: Sandbox) -> None:
    """A suspect closed during the search is not deployed again; when staging then passes
    without it, nobody is blamed; a search whose suspects all left ends."""
    first_deploy(box)
    box.open_pr(PIPE, 1, "JenySadadia", {"src/a.py": "A = 1\n"})
    box.open_pr(PIPE, 2, "JenySadadia", {"BREAKS_STAGING": "x\n"})
    box.open_pr(PIPE, 3, "JenySadadia", {"src/c.py": "C = 1\n"})
    failing_tick(box)
    box.advance(1)
    box.tick()  # candidate 1 succeeds
    assert numbers(box.state()["deployments"][-1]) == [1]
    box.hub.update_pr(f"{OWNER}/{PIPE}", 2, state="closed")  # the culprit leaves
    dry = box.tick(dry_run=True).lines  # says what comes next, changes and tells nothing
    assert not any("left the search" in line for line in dry), dry
    assert any(f"culprit search: deployment 2 of at most 4; suspects: {PIPE}#1, {PIPE}#3" in line
               for line in dry), dry
    made, lines = search_ticks(box)
    assert any(f"{PIPE}#2@" in line and "left the search" in line for line in lines), lines
    assert all(2 not in numbers(d) for d in made)
    assert [numbers(d) for d in made] == [[1, 3]] and made[0]["result"] == "success"
    assert any("staging succeeds without the suspects that left" in line for line in lines)
    assert not any(pr.get("excluded") for pr in box.state()["prs"].values())

    # all suspects leave: the search ends, nobody blamed
    box.open_pr(PIPE, 4, "JenySadadia", {"BREAKS_STAGING": "x\n"})
    box.advance(31)
    failing_tick(box)
    box.hub.update_pr(f"{OWNER}/{PIPE}", 4, labels=["staging-skip"])
    made, lines = search_ticks(box)
    assert made == [] and any("no suspect is left" in line for line in lines), lines


def test_a_suspect_pushed_over_never_deploys_at_its_old_head_through_faults(box: Sandbox) -> None:
    """A suspect pushed during the search, then polls meeting a 5xx and a rate limit: no later
    search deployment merges it at the commit it had (it left the search)."""
    first_deploy(box)
    box.open_pr(PIPE, 1, "JenySadadia", {"src/m1.py": "N = 1\n"})
    old = box.open_pr(PIPE, 2, "JenySadadia", {"src/m2.py": "N = 2\n"})
    box.open_pr(PIPE, 3, "JenySadadia", {"BREAKS_STAGING": "x\n"})
    box.open_pr(PIPE, 4, "JenySadadia", {"src/m4.py": "N = 4\n"})
    failed, _ = failing_tick(box)
    assert box.state()["bisect"] is not None
    new = box.push(PIPE, 2, {"src/m2.py": "N = 22\n"})
    box.hub.fail_next(1, 502)  # retried: the poll goes through
    box.hub.rate_limit_next(1, reset_in=120)
    box.advance(1)
    before = box.state()["next_id"]
    with pytest.raises(RateLimited):  # the CLI's exit 3: nothing deployed
        box.tick()
    assert box.state()["next_id"] == before
    box.advance(2)  # past the reset
    made, lines = search_ticks(box, limit=20)
    assert any("left the search" in line for line in lines), lines
    for record in made:
        assert [2, old] not in record["target"][PIPE]["prs"], (record["id"], lines)
    assert made and all(d["trigger"] == "bisect" for d in made)
    assert box.state()["prs"][f"{PIPE}#3"]["cause"] == "culprit"
    assert box.state()["prs"][f"{PIPE}#2"]["sha"] == new and failed["id"] < made[0]["id"]


def test_a_fault_in_the_dependent_blames_only_it_and_its_dependency_stays_deployed(box: Sandbox) -> None:
    """kernelci-core#5 depends on kernelci-pipeline#1 and breaks staging. Repos merge in config
    order (core first), yet the search puts pipeline#1 before core#5: only core#5 is blamed,
    and pipeline#1 stays on staging."""
    core = "kernelci-core"
    first_deploy(box)
    box.open_pr(PIPE, 1, "JenySadadia", {"src/m1.py": "N = 1\n"})
    box.open_pr(PIPE, 2, "JenySadadia", {"src/m2.py": "N = 2\n"})
    box.open_pr(core, 5, "JenySadadia", {"BREAKS_STAGING": "x\n"}, body=f"Depends-On: {PIPE}#1")
    failing_tick(box)
    search = box.state()["bisect"]
    assert [row[:2] for row in search["suspects"]] == [[PIPE, 1], [core, 5], [PIPE, 2]]
    made, lines = search_ticks(box)
    for record in made:  # never the dependent without its dependency
        held = {(name, n) for name, e in record["target"].items() for n, _ in e["prs"]}
        assert (core, 5) not in held or (PIPE, 1) in held
    prs = box.state()["prs"]
    assert prs[f"{core}#5"]["cause"] == "culprit"
    assert prs[f"{PIPE}#1"]["cause"] is None and prs[f"{PIPE}#2"]["cause"] is None
    last = box.state()["deployments"][-1]
    assert last["result"] == "success" and [1, prs[f"{PIPE}#1"]["sha"]] in last["target"][PIPE]["prs"]


def test_a_faulty_cycle_is_one_suspect_blamed_together_and_each_member_told(box: Sandbox) -> None:
    core = "kernelci-core"
    first_deploy(box)
    box.open_pr(PIPE, 1, "JenySadadia", {"src/m1.py": "N = 1\n"})
    box.open_pr(PIPE, 3, "JenySadadia", {"BREAKS_STAGING": "x\n"}, body=f"Depends-On: {core}#5")
    box.open_pr(core, 5, "JenySadadia", {"kernelci/api.py": "API = 5\n"}, body=f"Depends-On: {PIPE}#3")
    failing_tick(box)
    search = box.state()["bisect"]
    assert len(search["suspects"]) == 2  # pipeline#1, and the cycle core#5 + pipeline#3
    made, lines = search_ticks(box)
    assert any(f"{core}#5 + {PIPE}#3" in line and "blamed together" in line for line in lines), lines
    prs = box.state()["prs"]
    assert prs[f"{core}#5"]["cause"] == prs[f"{PIPE}#3"]["cause"] == "culprit"
    assert prs[f"{PIPE}#1"]["cause"] is None
    assert "Excluded as the culprit" in comments(box, 3)
    told = "\n".join(c["body"] for c in box.hub.comments(f"{OWNER}/{core}", 5))
    assert "Excluded as the culprit" in told
    assert len(made) <= 1 + 1 + 1  # ceil(log2 2) + 1 per culprit, + 1 re-checking last good
