"""End to end: Depends-On across repositories and the PR's own checks as a gate (SPEC 4), on the
Sandbox: real git repos, the GitHub stand-in over HTTP, real PyGithub."""

from __future__ import annotations

import yaml

from kcistage.app.status_document import pr_rows
from kcistage.sandbox.sandbox import OWNER, Sandbox
from tests.conftest import deployments, prime

API, PIPE, CORE = "kernelci-api", "kernelci-pipeline", "kernelci-core"


def pr_state(box: Sandbox, repo: str, number: int) -> tuple[str, str]:
    record = box.state()["prs"][f"{repo}#{number}"]
    return record["state"], record["reason"]


def deployed(box: Sandbox) -> set[str]:
    record = deployments(box)[-1]
    return {f"{name}#{n}" for name, entry in record["target"].items() for n, _sha in entry["prs"]}


def settle(box: Sandbox) -> None:
    box.advance(1)
    box.tick()
    box.advance(31)  # settle and throttle
    box.tick()


def test_a_two_repo_change_waits_for_its_dependency_then_deploys_with_it(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    box.open_pr(CORE, 3, "outsider", {"kernelci/api.py": "API = 2\n"})
    box.open_pr(PIPE, 5, "JenySadadia", {"src/scheduler.py": "RUN = 2\n"},
                body="Needs the new API.\r\n\r\nDepends-On: https://github.com/kernelci/kernelci-core/pull/3\r\n")
    settle(box)
    assert pr_state(box, PIPE, 5) == ("pending", "waits for kernelci-core#3: author not trusted and "
                                                 "no approval (a maintainer can comment `@kcibot deploy`)")
    assert not deployed(box) & {f"{PIPE}#5", f"{CORE}#3"}
    row = next(p for p in pr_rows(box.state()) if (p["repo"], p["number"]) == (PIPE, 5))
    assert row["reason"] == pr_state(box, PIPE, 5)[1]  # not "waiting for the next deployment"
    box.advance(1)
    box.comment(CORE, 3, "a-wai", "@kcibot deploy")  # approves core#3 only
    settle(box)
    assert {f"{PIPE}#5", f"{CORE}#3"} <= deployed(box)
    assert pr_state(box, PIPE, 5) == ("pending", f"trusted author JenySadadia; with {CORE}#3 (Depends-On)")
    record = box.state()["prs"][f"{PIPE}#5"]
    assert f"Deployed together with {CORE}#3 (Depends-On)." in record["notes"][record["sha"]]
    comments = box.hub.comments(f"{OWNER}/{PIPE}", 5)
    assert len(comments) == 1 and f"Deployed together with {CORE}#3 (Depends-On)." in comments[0]["body"]
    row = next(p for p in pr_rows(box.state()) if (p["repo"], p["number"]) == (PIPE, 5))
    assert row["state"] == "deployed" and f"with {CORE}#3 (Depends-On)" in row["reason"]


def test_a_dependency_left_out_at_merge_takes_its_dependent_along(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    # pipeline#6 conflicts with pipeline#5; core#3 depends on pipeline#6. The core repo is built
    # before the pipeline repo: it is built again without core#3.
    box.open_pr(PIPE, 5, "JenySadadia", {"src/trigger.py": "TRIGGER = 5\n"})
    box.open_pr(PIPE, 6, "JenySadadia", {"src/trigger.py": "TRIGGER = 6\n"})
    box.open_pr(CORE, 3, "JenySadadia", {"kernelci/api.py": "API = 3\n"}, body="Depends-On: kernelci-pipeline#6")
    box.open_pr(CORE, 4, "JenySadadia", {"doc/index.md": "# core 4\n"})
    settle(box)
    record = deployments(box)[-1]
    assert deployed(box) == {f"{PIPE}#5", f"{CORE}#4"}
    left = {(e["repo"], e["number"]): (e["cause"], e["reason"]) for e in record["left_out"]}
    assert left == {(PIPE, 6): ("conflict", "conflict"), (CORE, 3): ("waits", f"waits for {PIPE}#6")}
    staged = box.repos[CORE].branch_head("staging.kernelci.org")
    assert staged == record["heads"][CORE]
    assert pr_state(box, CORE, 3)[1].startswith(f"waits for {PIPE}#6: conflict with #5 in "
                                                 "src/trigger.py (on main at ")
    # at the next look it still waits, for the same reason
    box.advance(1)
    box.tick()
    assert pr_state(box, CORE, 3) == ("pending", f"waits for {PIPE}#6: " + pr_state(box, PIPE, 6)[1])


def test_a_cycle_enters_together_and_hostile_descriptions_cost_one_line(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    box.open_pr(CORE, 3, "JenySadadia", {"kernelci/api.py": "API = 3\n"},
                body="Depends-On: kernelci/kernelci-pipeline#5\nDepends-On: kernelci-core#3")
    box.open_pr(PIPE, 5, "JenySadadia", {"src/scheduler.py": "RUN = 5\n"}, body="depends-on: kernelci-core#3",
                draft=True)
    hostile = ("<b>x</b>" * 125_000 + "\n" + "\n".join(f"Depends-On: evil/org#{n}" for n in range(500)))
    box.open_pr(API, 7, "JenySadadia", {"api/main.py": "app = 7\n"}, body=hostile)
    box.open_pr(API, 8, "JenySadadia", {"api/models.py": "MODELS = [8]\n"},
                body="Depends-On: other-org/kernelci-api#1")
    settle(box)
    assert pr_state(box, PIPE, 5) == ("skipped", "draft")
    assert pr_state(box, CORE, 3) == ("pending", f"waits for {PIPE}#5: draft")
    assert pr_state(box, API, 7) == ("skipped", "Depends-On: 500 lines (at most 10)")
    assert pr_state(box, API, 8) == ("skipped", "Depends-On other-org/kernelci-api#1: repo not configured")
    assert box.state()["prs"][f"{CORE}#3"]["group"] == [f"{CORE}#3", f"{PIPE}#5"]
    assert len(box.config_path.parent.joinpath("state", "state.json").read_bytes()) < 200_000
    # the draft is made ready, the hostile description edited: read again at the next poll
    box.hub.update_pr(f"{OWNER}/{PIPE}", 5, draft=False)
    box.hub.update_pr(f"{OWNER}/{API}", 7, body="fixed")
    settle(box)
    assert {f"{CORE}#3", f"{PIPE}#5", f"{API}#7"} <= deployed(box)


def gate(box: Sandbox, repo: str, checks: object) -> None:
    data = yaml.safe_load(box.config_path.read_text())
    for entry in data["repos"]:
        if entry["name"] == repo:
            entry["gate"] = {"checks": checks}
    box.config_path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_own_checks_gate_a_pr_and_an_idle_tick_costs_nothing(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    gate(box, API, "all")
    head = box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 1\n"})
    run = box.hub.add_check_run(f"{OWNER}/{API}", head, "e2e", status="in_progress")
    box.hub.add_status(f"{OWNER}/{API}", head, "lint", "success")
    settle(box)
    assert pr_state(box, API, 1) == ("pending", "own checks running: e2e")
    assert f"{API}#1" not in deployed(box)
    box.hub.reset_log()  # running checks are re-read conditionally: free while unchanged
    box.advance(1)
    box.tick()
    assert box.hub.counts()["counted"] == 0
    box.hub.finish_check_run(run, "failure")
    settle(box)
    assert pr_state(box, API, 1) == ("skipped", "own checks failed: e2e")
    told = box.hub.comments(f"{OWNER}/{API}", 1)
    assert len(told) == 1 and "Left out: own checks failed: e2e" in told[0]["body"]
    box.advance(1)
    box.tick()
    assert len(box.hub.comments(f"{OWNER}/{API}", 1)) == 1  # said once
    box.hub.add_check_run(f"{OWNER}/{API}", head, "e2e")  # a re-run passes
    settle(box)
    assert f"{API}#1" in deployed(box)
    box.advance(1)
    box.tick()
    box.hub.reset_log()
    box.advance(1)
    box.tick()
    counts = box.hub.counts()
    assert counts["counted"] == 0
    assert not any("check-runs" in route or "/status" in route for route in counts["by_route"])


def test_idle_ticks_with_dependencies_and_running_checks_write_no_byte(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    gate(box, API, ["e2e"])
    head = box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 1\n"})
    box.hub.add_check_run(f"{OWNER}/{API}", head, "e2e", status="queued")
    box.open_pr(PIPE, 5, "JenySadadia", {"src/scheduler.py": "RUN = 5\n"},
                body="Depends-On: kernelci-api#1\nDepends-On: kernelci-core#9")
    box.open_pr(CORE, 9, "JenySadadia", {"kernelci/api.py": "API = 9\n"})
    box.hub.update_pr(f"{OWNER}/{CORE}", 9, state="closed")
    settle(box)
    assert pr_state(box, API, 1) == ("pending", "own checks running: e2e")
    assert pr_state(box, PIPE, 5) == ("skipped", "Depends-On kernelci-core#9: closed unmerged")
    for _ in range(2):  # the deployment's own writes come back once through the polls
        box.advance(1)
        box.tick()
    path = box.root / "state" / "state.json"
    data = path.read_bytes()
    box.hub.reset_log()
    for _ in range(3):
        box.advance(1)
        result = box.tick()
        assert result.code == 0 and path.read_bytes() == data, result.lines
    assert box.hub.counts()["counted"] == 0
