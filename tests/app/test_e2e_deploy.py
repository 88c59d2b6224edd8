"""End-to-end tests of the deployment engine (SPEC 4, 5 rule 4, 7, 8, 9) on the offline sandbox.

Real ticks (in process and as `kcistage` subprocesses), real git, real step processes
(kcistage.sandbox.harmless_step), the GitHub stand-in over HTTP on 127.0.0.1. Nothing of ours is mocked.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kcistage.sandbox.sandbox import OWNER, TOKEN, Sandbox
from kcistage.shell.statefile import pid_alive

API, PIPE, CORE = "kernelci-api", "kernelci-pipeline", "kernelci-core"
BRANCH = "staging.kernelci.org"
ALL_STEPS = ["drain-queue", "build-kernelci-images", "build-api-image", "build-pipeline-images",
             "restart-api", "restart-pipeline", "test-kernel"]


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def make_box(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """A sandbox with config overrides."""
    made: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        sandbox = Sandbox(tmp_path / f"sb{len(made)}", overrides=overrides)
        sandbox.start()
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.stop()


def git(cwd: Path, *args: str) -> str:
    """Plain git in a folder (or bare repo), stdout stripped."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


def cli_argv(box: Sandbox, *args: str) -> list[str]:
    """`kcistage --config <sandbox> --now <sandbox clock> ARGS` as an argv."""
    return [sys.executable, "-m", "kcistage", "--config", str(box.config_path),
            "--now", box.clock().isoformat(), *args]


def cli(box: Sandbox, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the CLI to its end."""
    return subprocess.run(cli_argv(box, *args), capture_output=True, text=True, timeout=timeout,
                          cwd=box.root, stdin=subprocess.DEVNULL)


def status_json(box: Sandbox) -> dict:
    """`kcistage status --json` as a subprocess."""
    done = cli(box, "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def base_deploy(box: Sandbox) -> dict:
    """Deployment 1: a full manual cycle of the bases; returns its record."""
    result = box.deploy(full=True)
    assert result.code == 0, result.lines
    record = box.state()["deployments"][-1]
    assert record["result"] == "success" and record["cycle"] == "full"
    return record


def tick_deploys(box: Sandbox, minutes: float = 31) -> dict:
    """Let settle and throttle pass, tick once, return the deployment the tick made."""
    before = box.state()["next_id"] if box.state()["deployments"] else 1
    first = box.tick()  # sees the change (C); settle and throttle then run from here
    assert box.state()["next_id"] == before, f"deployed too early: {first.lines}"
    box.advance(minutes)
    result = box.tick()
    last = box.state()["deployments"][-1]
    assert last["id"] == before, f"the tick made no deployment: {result.lines}"
    return last


def records_of(box: Sandbox, deploy_id: int, step: str | None = None) -> list[dict]:
    """Step records of one deployment (optionally one step)."""
    return [r for r in box.step_records() if r["env"]["KCISTAGE_DEPLOY_ID"] == str(deploy_id)
            and (step is None or r["step"] == step)]


def started(box: Sandbox, deploy_id: int, step: str) -> list[dict]:
    """Records of `step` started by deployment `deploy_id` so far."""
    return [r for r in box.step_records()
            if r["step"] == step and r["env"]["KCISTAGE_DEPLOY_ID"] == str(deploy_id)]


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll until predicate() is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def step_results(record: dict) -> dict[str, str]:
    return {s["name"]: s["result"] for s in record["steps"]}


def ran(record: dict) -> list[str]:
    return [s["name"] for s in record["steps"] if s["result"] != "skipped"]


def pr_row(doc: dict, repo: str, number: int) -> dict:
    return next(r for r in doc["prs"] if r["repo"] == repo and r["number"] == number)


# -- 1 + 4: composition of the staging branches, step environment -----------------------------

def test_merged_checkouts_and_step_environment(box: Sandbox, monkeypatch) -> None:
    """Eligible PRs merged in ascending order at decided SHAs; pushed; env of SPEC 7, no token."""
    base_deploy(box)
    bases = {name: repo.head("main") for name, repo in box.repos.items()}
    sha5 = box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
    sha3 = box.open_pr(API, 3, "JenySadadia", {"doc/api.md": "# API 3\n"})
    sha7 = box.open_pr(PIPE, 7, "JenySadadia", {"config/pipeline.yaml": "jobs: {seven: 1}\n"})
    box.open_pr(API, 4, "octo-dev", {"api/main.py": "app = 4\n"})  # not trusted: not merged
    # GitHub still reports sha5 but refs/pull/5/head moved on: a commit after the decision.
    late = box.repos[API].push_pr(5, {"api/late.py": "LATE = 1\n"})
    # A token in the tool's own environment must not reach the steps.
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("KCISTAGE_SMUGGLED", TOKEN)

    record = tick_deploys(box)
    assert record["result"] == "success", record
    assert record["target"][API] == {"base": bases[API], "prs": [[3, sha3], [5, sha5]]}
    assert record["target"][PIPE] == {"base": bases[PIPE], "prs": [[7, sha7]]}
    assert record["target"][CORE] == {"base": bases[CORE], "prs": []}

    work = box.config().workdir
    api = work / "repos" / API
    assert git(api, "rev-parse", "--abbrev-ref", "HEAD") == BRANCH
    head = git(api, "rev-parse", "HEAD")
    assert head == record["heads"][API]
    # First-parent chain: merge #5 on top of merge #3 on top of the base.
    chain = git(api, "log", "--first-parent", "--format=%H %P", f"{bases[API]}..HEAD").splitlines()
    parents = [line.split()[1:] for line in chain]
    assert [p[1] for p in reversed(parents)] == [sha3, sha5]
    assert parents[-1][0] == bases[API]
    files = set(git(api, "ls-files").splitlines())
    assert {"doc/api.md", "api/models.py"} <= files and "api/late.py" not in files
    assert (api / "api/models.py").read_text() == "MODELS = [5]\n"
    assert (api / "api/main.py").read_text() == "app = None\n"  # #4 (untrusted) left out
    # push: true force-pushes the staging branch to the "remote".
    for name in (API, PIPE, CORE):
        assert box.repos[name].head(BRANCH) == record["heads"][name]
    assert box.repos[CORE].head(BRANCH) == bases[CORE]
    assert late not in git(api, "log", "--format=%H", "HEAD").split()
    # SPEC 8: pending then success on every merged head; nothing on the untrusted PR.
    for sha in (sha3, sha5, sha7):
        states = [(s["state"], s["description"]) for s in box.hub.statuses[sha]]
        assert [st for st, _ in states] == ["pending", "success"]
        assert all(f"deployment {record['id']}" in d and "partial" in d for _, d in states)
    assert late not in box.hub.statuses

    # SPEC 7: the environment of every step of this deployment.
    seen = records_of(box, record["id"])
    assert seen and [r["step"] for r in seen] == [s for s in ran(record) if s != "drain-queue"]
    expected_prs = (f"{API}#3@{sha3} {API}#5@{sha5} {PIPE}#7@{sha7}")
    for rec in seen:
        env = rec["env"]
        assert env["KCISTAGE_DEPLOY_ID"] == str(record["id"])
        assert env["KCISTAGE_CYCLE"] == "partial" and env["KCISTAGE_TRIGGER"] == "change"
        assert env["KCISTAGE_PRS"] == expected_prs
        assert env["KCISTAGE_WORKDIR"] == str(work)
        for name in (API, PIPE, CORE):
            key = "KCISTAGE_REPO_" + name.upper().replace("-", "_")
            assert env[f"{key}_DIR"] == str(work / "repos" / name)
            assert env[f"{key}_SHA"] == git(work / "repos" / name, "rev-parse", "HEAD")
        assert "KCISTAGE_SMUGGLED" not in env
        assert all(TOKEN not in value for value in env.values())
    by_step = {r["step"]: r for r in seen}
    assert by_step["restart-pipeline"]["cwd"] == str(work / "repos" / PIPE)
    assert by_step["restart-api"]["cwd"] == str(work / "repos" / API)
    # The fakestep records only KCISTAGE_*; the token must not be anywhere in the full env either.
    for log in (work / "logs" / str(record["id"])).iterdir():
        assert TOKEN not in log.read_text()
    assert TOKEN not in (box.root / "state" / "state.json").read_text()
    assert TOKEN not in (api / ".git" / "config").read_text()


def test_full_cycle_env_and_cwd_without_repo(box: Sandbox) -> None:
    """test-kernel (no cwd) runs in the workdir with KCISTAGE_CYCLE=full, trigger manual."""
    record = base_deploy(box)
    assert ran(record) == ALL_STEPS  # the first deployment runs every step
    kernel = records_of(box, record["id"], "test-kernel")
    assert len(kernel) == 1
    assert kernel[0]["cwd"] == str(box.config().workdir)
    assert kernel[0]["env"]["KCISTAGE_CYCLE"] == "full"
    assert kernel[0]["env"]["KCISTAGE_TRIGGER"] == "manual"
    assert kernel[0]["env"]["KCISTAGE_PRS"] == ""


def test_decided_commit_gone_is_left_out_as_head_moved(box: Sandbox) -> None:
    """A decided commit that can no longer be fetched: "head moved", back at the next tick."""
    base_deploy(box)
    gone = box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
    sha6 = box.open_pr(API, 6, "broonie", {"doc/api.md": "# six\n"})
    box.tick()  # the decision-maker has seen sha `gone`...
    # ...then the PR is force-pushed and the old commit is pruned from the remote.
    bare = box.repos[API]
    bare.commit("refs/pull/5/head", {"api/other.py": "X = 1\n"}, "rewritten",
                parent=bare.head("main"))
    git(bare.path, "reflog", "expire", "--expire=now", "--all")
    git(bare.path, "gc", "-q", "--prune=now")
    box.advance(31)
    box.tick()
    record = box.state()["deployments"][-1]
    assert record["id"] == 2 and record["result"] == "success"
    assert record["target"][API]["prs"] == [[6, sha6]]
    assert record["left_out"] == [{"repo": API, "number": 5, "sha": gone, "cause": "head_moved",
                                  "reason": "head moved"}]
    pr5 = box.state()["prs"][f"{API}#5"]
    assert pr5["reason"] == "head moved" and pr5["excluded"] is None  # not pinned as faulty
    box.advance(1)
    box.tick()
    assert box.state()["prs"][f"{API}#5"]["state"] == "pending"  # returns at the next tick


# -- 2: conflicts ----------------------------------------------------------------------------

def test_conflicting_pr_left_out_until_head_or_base_changes(box: Sandbox) -> None:
    """A conflict leaves the PR out (state + status); back only after a new head or base."""
    base_deploy(box)
    sha4 = box.open_pr(API, 4, "broonie", {"api/main.py": "app = 'v1'\n"})
    sha6 = box.open_pr(API, 6, "broonie", {"api/main.py": "app = 'v2'\n"})
    sha8 = box.open_pr(API, 8, "broonie", {"doc/api.md": "# eight\n"})
    record = tick_deploys(box)
    assert record["result"] == "success"
    assert record["target"][API]["prs"] == [[4, sha4], [8, sha8]]
    assert record["left_out"] == [{"repo": API, "number": 6, "sha": sha6, "cause": "conflict",
                                  "reason": "conflict"}]
    pr6 = box.state()["prs"][f"{API}#6"]
    assert pr6["state"] == "excluded" and "conflict" in pr6["reason"]
    doc = status_json(box)
    assert pr_row(doc, API, 6)["state"] == "excluded"
    assert "conflict" in pr_row(doc, API, 6)["reason"]
    assert pr_row(doc, API, 4)["state"] == "deployed"
    assert any("conflict" in c["body"] for c in box.hub.comments(f"{OWNER}/{API}", 6))

    # Unchanged head and base: it stays out and nothing is redeployed.
    box.advance(31)
    out = box.tick()
    assert box.state()["deployments"][-1]["id"] == record["id"], out.lines
    assert box.state()["prs"][f"{API}#6"]["state"] == "excluded"

    # A new base re-admits it (it still conflicts there: excluded again at the new base).
    new_base = box.repos[API].commit("main", {"README": "hello\n"}, "readme")
    record = tick_deploys(box)
    assert record["target"][API]["base"] == new_base
    assert [entry["number"] for entry in record["left_out"]] == [6]
    # the reason names what it conflicts with: the PR merged before it that touches its file
    assert box.state()["prs"][f"{API}#6"]["reason"] == \
        f"conflict with #4 in api/main.py (on main at {new_base[:7]})"

    # A push that resolves the conflict re-admits it and it is merged.
    fixed = box.push(API, 6, {"api/main.py": "app = 'v1'\n"})
    record = tick_deploys(box)
    assert record["left_out"] == []
    assert record["target"][API]["prs"] == [[4, sha4], [6, fixed], [8, sha8]]
    assert pr_row(status_json(box), API, 6)["state"] == "deployed"


# -- 3: steps by paths and cycles ------------------------------------------------------------

def test_steps_run_or_skipped_by_paths_and_cycles(box: Sandbox) -> None:
    """Partial cycles run only the steps whose paths changed; full cycles run everything."""
    first = base_deploy(box)
    assert step_results(first) == {name: "ok" for name in ALL_STEPS}

    box.open_pr(PIPE, 11, "JenySadadia", {"config/pipeline.yaml": "jobs: {b: 1}\n"})
    pipeline = tick_deploys(box)
    assert pipeline["cycle"] == "partial"
    assert ran(pipeline) == ["drain-queue", "restart-pipeline"]

    box.open_pr(API, 12, "broonie", {"api/main.py": "app = 12\n"})
    api = tick_deploys(box)
    assert ran(api) == ["drain-queue", "build-api-image", "restart-api"]

    box.open_pr(API, 13, "broonie", {"doc/api.md": "# docs only\n"})
    docs = tick_deploys(box)
    assert ran(docs) == ["drain-queue"]
    assert step_results(docs)["test-kernel"] == "skipped"

    assert box.deploy(full=True).code == 0
    full = box.state()["deployments"][-1]
    assert full["cycle"] == "full" and ran(full) == ALL_STEPS

    # What ran is what the step programs saw; skipped ones never started.
    for record in (pipeline, api, docs, full):
        started = [r["step"] for r in records_of(box, record["id"])]
        assert started == [s for s in ran(record) if s != "drain-queue"]
    doc = status_json(box)
    last = {entry["id"]: entry for entry in doc["last"]}
    for record in (pipeline, api, docs, full):
        steps = {s["name"]: s["result"] for s in last[record["id"]]["steps"]}
        assert list(steps) == ALL_STEPS
        assert {n for n, r in steps.items() if r == "skipped"} == set(ALL_STEPS) - set(ran(record))
        assert {n for n, r in steps.items() if r != "skipped"} == set(ran(record))


# -- 5: restart on change (rule 4) -----------------------------------------------------------

def test_partial_restarts_once_on_change_then_runs_to_end(box: Sandbox) -> None:
    """A push mid-step restarts the partial deployment once (same id); later pushes wait."""
    base_deploy(box)
    box.open_pr(API, 8, "broonie", {"api/models.py": "MODELS = [8]\n",
                                     ".demo/slow-restart-api": "hold\n"})  # until released
    first20 = box.open_pr(PIPE, 20, "JenySadadia", {"src/trigger.py": "TRIGGER = 20\n"})
    pushed: dict[str, str] = {}
    pids: list[int] = []

    def pusher() -> None:
        pids.append(wait_for(lambda: started(box, 2, "restart-api"), what="restart-api")[0]["pid"])
        pushed["second"] = box.push(PIPE, 20, {"src/trigger.py": "TRIGGER = 21\n"})
        wait_for(lambda: len(started(box, 2, "restart-api")) == 2, what="restarted restart-api")
        pushed["third"] = box.push(PIPE, 20, {"src/trigger.py": "TRIGGER = 22\n"})
        box.release("restart-api")  # held until now: both pushes land inside the step

    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    record = tick_deploys(box)
    thread.join(5)
    assert not thread.is_alive()

    assert record["id"] == 2 and box.state()["next_id"] == 3  # restart kept the id
    assert record["restarts"] == 1 and record["result"] == "success"
    assert record["target"][PIPE]["prs"] == [[20, pushed["second"]]]
    assert first20 != pushed["second"]
    # The run after the restart deployed (and told the steps) the new head.
    assert all(r["env"]["KCISTAGE_PRS"].endswith(f"{PIPE}#20@{pushed['second']}")
               for r in records_of(box, 2)[-2:])
    # SPEC 8: the superseded head got "pending" when the deployment started; it must not be
    # left pending forever once the deployment dropped it.
    assert box.hub.statuses[first20][0]["state"] == "pending"
    assert box.hub.statuses[first20][-1]["state"] != "pending"
    assert [s["state"] for s in box.hub.statuses[pushed["second"]]] == ["pending", "success"]
    assert not pid_alive(pids[0])  # the interrupted step's process group was stopped
    log = (box.config().workdir / "logs" / "2" / "restart-api.log").read_text()
    assert "interrupted: restart" in log  # stopped mid-sleep, not finished by itself
    seen = [r["step"] for r in records_of(box, record["id"])]
    # Run 1 got as far as restart-api; run 2 restarted from the first step and ran to the end.
    assert seen[:seen.index("restart-api") + 1].count("restart-api") == 1
    assert seen.count("restart-api") == 2
    second_run = seen[seen.index("restart-api") + 1:]
    assert second_run[0] == "build-api-image"  # drain-queue (no process) then the builds again
    assert "restart-pipeline" in second_run
    assert [s["name"] for s in record["steps"]][0] == "drain-queue"
    assert all(s["result"] in ("ok", "skipped") for s in record["steps"])

    # The third head was not deployed by this deployment; rule 2 deploys it later.
    nxt = tick_deploys(box)
    assert nxt["trigger"] == "change" and nxt["restarts"] == 0
    assert nxt["target"][PIPE]["prs"] == [[20, pushed["third"]]]


def test_full_cycle_is_never_interrupted(box: Sandbox) -> None:
    """A push during a full cycle does not restart it; it is deployed afterwards."""
    base_deploy(box)
    box.open_pr(API, 8, "broonie", {".demo/slow-restart-api": "hold\n"})
    first = box.open_pr(PIPE, 20, "JenySadadia", {"src/trigger.py": "TRIGGER = 20\n"})
    pushed: list[str] = []

    def pusher() -> None:
        wait_for(lambda: started(box, 2, "restart-api"), what="restart-api")
        pushed.append(box.push(PIPE, 20, {"src/trigger.py": "TRIGGER = 21\n"}))
        box.release("restart-api")  # the push landed inside the step

    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    result = box.deploy(full=True)
    thread.join(5)
    record = box.state()["deployments"][-1]
    assert result.code == 0 and record["cycle"] == "full"
    assert record["restarts"] == 0 and record["result"] == "success"
    assert record["target"][PIPE]["prs"] == [[20, first]]
    assert ran(record) == ALL_STEPS
    assert [r["step"] for r in records_of(box, 2)].count("restart-api") == 1
    nxt = tick_deploys(box)
    assert nxt["target"][PIPE]["prs"] == [[20, pushed[0]]]


# -- 6 + 10: SIGTERM, SIGKILL and the lock, through the CLI ----------------------------------

def _start_slow_tick(box: Sandbox, seconds: str) -> tuple[subprocess.Popen, dict]:
    """A CLI tick subprocess running a deployment whose restart-api step sleeps; its record."""
    base_deploy(box)
    box.open_pr(API, 8, "broonie", {".demo/slow-restart-api": f"{seconds}\n",
                                     "api/models.py": "MODELS = [8]\n"})
    box.tick()
    box.advance(31)
    proc = subprocess.Popen(cli_argv(box, "tick"), cwd=box.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    step = wait_for(lambda: started(box, 2, "restart-api"), timeout=30, what="the slow step")[0]
    return proc, step


def test_sigterm_stops_step_group_and_second_tick_is_locked_out(box: Sandbox) -> None:
    """SIGTERM: step group stopped, deployment interrupted; a concurrent tick exits 75."""
    proc, step = _start_slow_tick(box, "20")
    try:
        second = cli(box, "tick")
        assert second.returncode == 75, (second.stdout, second.stderr)
        assert f"pid {proc.pid}" in second.stderr
        running = status_json(box)["running"]
        assert running["id"] == 2 and running["step"] == "restart-api"
        dry = cli(box, "tick", "--dry-run")  # no lock: sees the live deployment, starts nothing
        assert dry.returncode == 0 and "decision: continue" in dry.stdout, dry.stdout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        if pid_alive(step["pid"]):
            os.killpg(step["pid"], signal.SIGKILL)
            pytest.fail("the step's process group outlived SIGTERM to kcistage")
    assert proc.returncode >= 0, "kcistage died of the signal instead of handling it"
    assert proc.returncode == 1, (out, err)  # the deployment this run made did not succeed
    assert "interrupted" in out
    assert not pid_alive(step["pid"])
    record = box.state()["deployments"][-1]
    assert record["result"] == "interrupted" and record["finished"]
    assert step_results(record)["restart-api"] == "interrupted"
    assert status_json(box)["running"] is None

    # The next tick proceeds: interrupted counts as not deployed (rule 2, L = when it ended).
    box.push(API, 8, {".demo/slow-restart-api": None})
    nxt = tick_deploys(box)
    assert nxt["result"] == "success" and nxt["id"] == record["id"] + 1


def test_sigkill_leaves_running_record_recovered_by_next_tick(box: Sandbox) -> None:
    """SIGKILL: state says running (not alive); next tick marks it interrupted and goes on."""
    proc, step = _start_slow_tick(box, "20")
    try:
        # the tick records the step's process group a moment after the step starts: kill it
        # once that is saved (a kill before is the run marker's case, test_e2e_signals.py)
        wait_for(lambda: "step_group" in box.state()["deployments"][-1], what="the group saved")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        record = box.state()["deployments"][-1]
        assert record["result"] == "running" and record["pid"] == proc.pid
        assert record["step"] == "restart-api"
        doc = status_json(box)
        assert doc["running"]["id"] == record["id"] and doc["running"]["step"] == "restart-api"
        assert doc["last"][0]["result"] == "running"
        plain = cli(box, "status")  # not a tty: the plain view says the process is gone
        assert plain.returncode == 0
        assert f"process {proc.pid} gone" in plain.stdout, plain.stdout
        # SIGKILL cannot be handled: the step's own process group (a new session) is
        # orphaned and keeps running until the next run stops it.
        assert pid_alive(step["pid"])
        assert record["step_group"]["pgid"] == step["pid"]
        box.advance(1)
        out = box.tick()
        assert any("stopped its orphaned step" in line for line in out.lines), out.lines
        wait_for(lambda: not pid_alive(step["pid"]), what="orphaned step stopped")
    finally:
        if pid_alive(step["pid"]):
            os.killpg(step["pid"], signal.SIGKILL)

    record = box.state()["deployments"][-1]
    assert record["result"] == "interrupted"
    assert step_results(record)["restart-api"] == "interrupted"
    assert any("dead process" in line for line in out.lines)
    for _number, head in record["target"][API]["prs"]:  # the pending status is ended
        assert box.hub.statuses[head][-1]["state"] != "pending", box.hub.statuses[head]
    assert any("throttled" in line for line in out.lines), out.lines  # L = when it ended
    box.push(API, 8, {".demo/slow-restart-api": None})
    nxt = tick_deploys(box)
    assert nxt["result"] == "success" and nxt["id"] == record["id"] + 1


# -- 7: culprit search -----------------------------------------------------------------------

def test_culprit_search_bisects_excludes_and_readmits(box: Sandbox) -> None:
    """4 suspects: <= ceil(log2 4) bisect deployments, then all but the culprit; re-admitted."""
    base_deploy(box)
    shas = {n: box.open_pr(PIPE, n, "JenySadadia", {f"src/mod{n}.py": f"N = {n}\n"})
            for n in (31, 32, 34)}
    shas[33] = box.open_pr(PIPE, 33, "JenySadadia", {"BREAKS_STAGING": "oops\n"})
    failed = tick_deploys(box)
    assert failed["result"] == "failed" and failed["failed_step"]
    assert box.state()["bisect"]["suspects"] == [[PIPE, n, shas[n]] for n in (31, 32, 33, 34)]

    bisects = []
    for _ in range(6):
        box.advance(1)  # no settle, no throttle for culprit-search deployments
        box.tick()
        last = box.state()["deployments"][-1]
        if last["trigger"] != "bisect" or (bisects and last["id"] == bisects[-1]["id"]):
            break
        bisects.append(last)
        assert last["cycle"] == "partial"
        if box.state()["bisect"] is None:
            break
    searching, final = bisects[:-1], bisects[-1]
    # One deployment per tick, right after the failed one.
    assert [b["id"] for b in bisects] == list(range(failed["id"] + 1, failed["id"] + 1 + len(bisects)))
    assert 1 <= len(searching) <= math.ceil(math.log2(4))
    for record in searching:  # prefixes of the suspects in merge order
        numbers = [n for n, _ in record["target"][PIPE]["prs"]]
        assert numbers == [31, 32, 33, 34][:len(numbers)]
        assert record["result"] == ("failed" if 33 in numbers else "success")
    assert final["result"] == "success"
    assert final["target"][PIPE]["prs"] == [[n, shas[n]] for n in (31, 32, 34)]
    state = box.state()
    assert state["bisect"] is None
    pr33 = state["prs"][f"{PIPE}#33"]
    assert pr33["state"] == "excluded" and "culprit" in pr33["reason"]
    assert pr33["excluded"]["sha"] == shas[33]
    assert "culprit" in pr_row(status_json(box), PIPE, 33)["reason"]
    assert any("culprit" in c["body"] for c in box.hub.comments(f"{OWNER}/{PIPE}", 33))
    assert not any("culprit" in c["body"] for c in box.hub.comments(f"{OWNER}/{PIPE}", 32))
    # The search is over: nothing more is deployed.
    box.advance(31)
    box.tick()
    assert box.state()["deployments"][-1]["id"] == final["id"]

    # A new push re-admits it.
    fixed = box.push(PIPE, 33, {"BREAKS_STAGING": None})
    record = tick_deploys(box)
    assert record["result"] == "success"
    assert [33, fixed] in record["target"][PIPE]["prs"]


def test_single_suspect_blamed_after_last_good_is_rechecked(box: Sandbox) -> None:
    """One suspect: "last good" alone is deployed first; it succeeds, so the suspect is blamed,
    and the target without it is that very candidate: not deployed twice."""
    base_deploy(box)
    bad = box.open_pr(API, 9, "broonie", {"BREAKS_STAGING": "x\n"})
    failed = tick_deploys(box)
    assert failed["result"] == "failed"
    assert not box.state()["prs"][f"{API}#9"].get("excluded")  # no evidence yet
    box.advance(1)
    box.tick()
    last = box.state()["deployments"][-1]
    assert last["id"] == failed["id"] + 1 and last["result"] == "success"
    assert last["trigger"] == "bisect" and last["target"][API]["prs"] == []
    pr9 = box.state()["prs"][f"{API}#9"]
    assert pr9["excluded"]["sha"] == bad and "culprit" in pr9["reason"]
    box.advance(1)
    box.tick()
    assert box.state()["bisect"] is None
    assert box.state()["deployments"][-1]["id"] == last["id"]


# -- 7 (no suspect) + 8 + 9: blame nobody, rule 6, manual deploys, notify.on_failure ---------

def test_base_failure_rule6_manual_deploy_and_on_failure(make_box, tmp_path: Path) -> None:
    """A broken base blames nobody; rule 6; `deploy` retries; on_failure once per failure."""
    notes = tmp_path / "on-failure.jsonl"
    script = ("import json, os, sys\n"
              "env = {k: v for k, v in os.environ.items() if k.startswith('KCISTAGE_')}\n"
              "open(sys.argv[1], 'a').write(json.dumps(env) + '\\n')\n")
    box = make_box(notify={"on_failure": [sys.executable, "-c", script, str(notes)]})
    base_deploy(box)
    box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
    first = tick_deploys(box)
    assert first["result"] == "success"

    box.repos[PIPE].commit("main", {"BREAKS_STAGING": "base\n"}, "broken base")
    box.tick()
    box.advance(31)
    out = box.tick()
    failed = box.state()["deployments"][-1]
    assert failed["result"] == "failed" and failed["id"] == first["id"] + 1
    assert any("no PR blamed" in line for line in out.lines), out.lines
    assert box.state()["bisect"] is None
    assert all(pr["state"] != "excluded" for pr in box.state()["prs"].values())
    hooks = [json.loads(line) for line in notes.read_text().splitlines()]
    assert len(hooks) == 1
    assert hooks[0]["KCISTAGE_DEPLOY_ID"] == str(failed["id"])
    assert hooks[0]["KCISTAGE_FAILED_STEP"] == failed["failed_step"]
    assert Path(hooks[0]["KCISTAGE_LOG"]).is_file()
    assert "is broken" in Path(hooks[0]["KCISTAGE_LOG"]).read_text()

    # Rule 6: the same failed target is not redeployed by the change rule.
    for _ in range(2):
        box.advance(31)
        box.tick()
    assert box.state()["deployments"][-1]["id"] == failed["id"]

    # `kcistage deploy` retries it at once (no throttle), exit 1 on failure; hook runs again.
    done = cli(box, "deploy")
    assert done.returncode == 1, (done.stdout, done.stderr)
    retry = box.state()["deployments"][-1]
    assert retry["id"] == failed["id"] + 1 and retry["trigger"] == "manual"
    assert retry["cycle"] == "partial" and retry["result"] == "failed"
    assert retry["target"] == failed["target"]
    assert len(notes.read_text().splitlines()) == 2

    # Fixed base: deploy (right after the last one: throttle ignored) succeeds, exit 0.
    box.repos[PIPE].commit("main", {"BREAKS_STAGING": None}, "fixed base")
    done = cli(box, "deploy")
    assert done.returncode == 0, (done.stdout, done.stderr)
    ok = box.state()["deployments"][-1]
    assert ok["result"] == "success" and ok["cycle"] == "partial" and ok["trigger"] == "manual"
    assert "test-kernel" not in ran(ok)
    done = cli(box, "deploy", "--full")
    assert done.returncode == 0, (done.stdout, done.stderr)
    full = box.state()["deployments"][-1]
    assert full["id"] == ok["id"] + 1 and full["cycle"] == "full" and ran(full) == ALL_STEPS
    assert len(notes.read_text().splitlines()) == 2  # no hook for successes


def test_a_broken_base_with_new_prs_leaves_no_pr_blamed(box: Sandbox) -> None:
    """Suspects arrive with a broken base: "last good" on the new base fails too; nobody blamed."""
    base_deploy(box)
    box.repos[API].commit("main", {"BREAKS_STAGING": "main is broken\n"}, "break main")
    box.open_pr(PIPE, 41, "JenySadadia", {"src/a.py": "A = 1\n"})
    box.open_pr(PIPE, 42, "JenySadadia", {"src/b.py": "B = 1\n"})
    failed = tick_deploys(box)
    assert failed["result"] == "failed"
    lines = []
    for _ in range(3):  # candidate 1, then last good alone; then nothing
        box.advance(1)
        lines += box.tick().lines
    bisects = [d for d in box.state()["deployments"] if d["id"] > failed["id"]]
    assert [d["result"] for d in bisects] == ["failed", "failed"]
    assert bisects[1]["target"][PIPE]["prs"] == [] and bisects[1]["target"][API] == failed["target"][API]
    assert box.state()["bisect"] is None
    assert any("staging fails without any new PR" in line for line in lines), lines
    prs = box.state()["prs"]
    assert all(not pr.get("excluded") for pr in prs.values()), prs
    bodies = [c["body"] for c in box.hub.comments(f"kernelci/{PIPE}", 42)]
    assert any("Not blamed" in body for body in bodies)
