"""pause / resume / exclude / include: real CLI processes while another process holds the state
lock, taking effect at the next tick (the sandbox: stand-in GitHub, real git, real steps)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kcistage.core import paths
from kcistage.sandbox.sandbox import OWNER, Sandbox
from kcistage.shell.controls import load as load_controls

API, PIPE = "kernelci-api", "kernelci-pipeline"
OPERATOR = {"SUDO_USER": "alice", "USER": "root"}


@pytest.fixture
def hold_lock(sandbox: Sandbox) -> Iterator[Callable[[], subprocess.Popen]]:
    """Start a second process holding the run lock, as a running deployment does."""
    holders: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, time\nfrom pathlib import Path\nfrom kcistage.shell.statefile import Lock\n"
             "with Lock(Path(sys.argv[1])):\n    print('locked', flush=True)\n    time.sleep(60)\n",
             str(sandbox.config().state_file)], stdout=subprocess.PIPE, text=True)
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        return holder

    yield start
    for holder in holders:
        holder.kill()
        holder.wait()


def release(holder: subprocess.Popen) -> None:
    holder.kill()
    holder.wait()


def status(cli) -> dict:
    done = cli("status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def row(doc: dict, repo: str, number: int) -> dict:
    return next(r for r in doc["prs"] if r["repo"] == repo and r["number"] == number)


def prime(box: Sandbox) -> None:
    """Deployment 1 (the first, full) so that later changes are partial cycles."""
    assert box.tick().code == 0
    box.advance(5)
    assert box.tick().code == 0 and box.state()["deployments"][-1]["id"] == 1


def test_pause_while_locked_holds_the_next_tick_then_resume(sandbox: Sandbox, cli, hold_lock) -> None:
    box = sandbox
    prime(box)
    held = hold_lock()
    box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 1\n"})
    # The lock is held (a deployment running): tick refuses, the controls do not wait for it.
    assert cli("tick").returncode == 75
    done = cli("pause", "--reason", "docker upgrade", env=OPERATOR)
    assert done.returncode == 0, done.stderr
    assert "paused by alice" in done.stdout
    doc = status(cli)
    assert doc["paused"]["by"] == "alice" and doc["paused"]["reason"] == "docker upgrade"
    release(held)

    assert box.tick().code == 0  # sees the change (C)
    box.advance(40)
    result = box.tick()
    assert result.code == 0
    assert [d["id"] for d in box.state()["deployments"]] == [1], result.lines
    assert any("paused" in line for line in result.lines), result.lines
    doc = status(cli)
    assert doc["next"]["action"] == "wait"
    assert "paused by alice" in doc["next"]["reason"] and "partial" in doc["next"]["reason"]
    assert row(doc, API, 1)["state"] == "pending"

    # deploy by hand still works while paused
    manual = box.deploy()
    assert manual.code == 0 and box.state()["deployments"][-1]["id"] == 2
    assert any(": 1 PR, " in line for line in manual.lines), manual.lines  # not "1 PRs"

    box.push(API, 1, {"api/main.py": "app = 2\n"})
    assert cli("resume", env=OPERATOR).returncode == 0
    assert status(cli)["paused"] is None
    box.tick()
    box.advance(40)
    box.tick()
    assert box.state()["deployments"][-1]["id"] == 3


def test_a_command_waits_for_resume(sandbox: Sandbox, cli) -> None:
    box = sandbox
    prime(box)
    box.open_pr(API, 2, "octo-dev", {"api/main.py": "app = 2\n"})
    box.tick()
    assert cli("pause", env=OPERATOR).returncode == 0
    box.advance(1)
    box.comment(API, 2, "nuclearcat", "@kcibot trigger")
    box.advance(1)
    box.tick()  # the command is accepted (approval, eyes) but the full cycle waits
    assert [d["id"] for d in box.state()["deployments"]] == [1]
    assert box.state()["prs"][f"{API}#2"]["approval"]["by"] == "nuclearcat"
    assert box.state()["commands"], "the queued command must survive the pause"
    assert cli("resume", env=OPERATOR).returncode == 0
    box.advance(1)
    box.tick()
    last = box.state()["deployments"][-1]
    assert (last["id"], last["cycle"], last["trigger"]) == (2, "full", "command")


def test_exclude_while_locked_then_include(sandbox: Sandbox, cli, hold_lock) -> None:
    box = sandbox
    prime(box)
    sha = box.open_pr(API, 3, "JenySadadia", {"api/main.py": "app = 3\n"})
    box.tick()  # the PR is open at the last tick
    held = hold_lock()
    done = cli("exclude", f"{API}#3", "--reason", "breaks login", env=OPERATOR)
    assert done.returncode == 0, done.stderr
    assert cli("exclude", "nope#3", env=OPERATOR).returncode == 2
    release(held)

    box.tick()
    record = box.state()["prs"][f"{API}#3"]
    assert (record["state"], record["cause"]) == ("excluded", "by_hand")
    assert record["reason"] == "by hand (alice): breaks login"
    box.advance(40)
    box.tick()
    assert all(d["target"][API]["prs"] == [] for d in box.state()["deployments"])
    # The PR is told, in its one comment for this head.
    bodies = [c["body"] for c in box.hub.comments(f"{OWNER}/{API}", 3)]
    assert any("by hand (alice): breaks login" in b and f"sha={sha}" in b for b in bodies), bodies
    # A push does not end an exclusion by hand.
    box.push(API, 3, {"api/main.py": "app = 33\n"})
    box.advance(1)
    box.tick()
    assert box.state()["prs"][f"{API}#3"]["state"] == "excluded"

    assert cli("include", f"{API}#3", env={"USER": "bob"}).returncode == 0
    box.advance(1)
    box.tick()
    assert box.state()["prs"][f"{API}#3"]["state"] == "pending"
    box.advance(40)
    box.tick()
    assert box.state()["deployments"][-1]["target"][API]["prs"][0][0] == 3
    assert not json.loads(paths.controls_file(box.config().state_file).read_text())["include"]


def test_include_lifts_a_conflict_at_the_current_head(sandbox: Sandbox, cli) -> None:
    box = sandbox
    prime(box)
    box.open_pr(PIPE, 4, "JenySadadia", {"config/pipeline.yaml": "jobs: {four: 1}\n"})
    box.open_pr(PIPE, 5, "JenySadadia", {"config/pipeline.yaml": "jobs: {five: 1}\n"})
    box.tick()
    box.advance(40)
    box.tick()
    record = box.state()["prs"][f"{PIPE}#5"]
    assert (record["state"], record["cause"]) == ("excluded", "conflict")
    assert cli("include", f"{PIPE}#5", env={"USER": "bob"}).returncode == 0
    box.advance(1)
    result = box.tick(verbose=True)
    record = box.state()["prs"][f"{PIPE}#5"]
    assert record["excluded"] is None and record["state"] == "pending", result.lines
    bodies = [c["body"] for c in box.hub.comments(f"{OWNER}/{PIPE}", 5)]
    assert any("Included again by hand by bob" in b for b in bodies), bodies


def test_controls_file_is_beside_the_state_file(sandbox: Sandbox, cli) -> None:
    assert cli("pause", env=OPERATOR).returncode == 0
    state_file: Path = sandbox.config().state_file
    assert paths.controls_file(state_file).parent == state_file.parent
    assert not state_file.exists()  # the controls never touch the state file


def test_exclude_names_an_open_pr_in_either_form(sandbox: Sandbox, cli) -> None:
    box = sandbox
    prime(box)
    box.open_pr(API, 3, "JenySadadia", {"api/main.py": "app = 3\n"})
    early = cli("exclude", f"{API}#3", env=OPERATOR)  # opened, but no tick has seen it yet
    assert early.returncode == 2
    assert f"{API}#3: it was not open at the last tick" in early.stderr, early.stderr
    box.tick()
    missing = cli("exclude", f"{API}#99", env=OPERATOR)
    assert missing.returncode == 2 and "not open at the last tick" in missing.stderr
    assert not load_controls(box.config().state_file)["excluded"]
    full = cli("exclude", f"{OWNER}/{API}#3", "--reason", "x", env=OPERATOR)
    assert full.returncode == 0, full.stderr
    assert full.stdout.startswith(f"{API}#3 excluded by hand (alice): x")
    wrong = cli("exclude", f"https://github.com/{OWNER}/{API}/pull/3", env=OPERATOR)
    assert wrong.returncode == 2 and f"did you mean {API}#3?" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_include_of_a_pr_never_excluded_says_so(sandbox: Sandbox, cli) -> None:
    box = sandbox
    prime(box)
    box.open_pr(API, 3, "JenySadadia", {"api/main.py": "app = 3\n"})
    box.tick()
    done = cli("include", f"{API}#3", env=OPERATOR)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{API}#3 is not excluded (it is pending: "), done.stdout
    assert "nothing to include" in done.stdout and "included;" not in done.stdout
    assert not load_controls(box.config().state_file)["include"]


def test_a_pause_over_another_pause_says_whose_it_replaces(sandbox: Sandbox, cli) -> None:
    first = cli("pause", "--reason", "docker upgrade", env=OPERATOR)
    assert first.returncode == 0 and "replaces" not in first.stdout
    second = cli("pause", "--reason", "kernel freeze", env={"SUDO_USER": "bob"})
    assert second.returncode == 0, second.stderr
    assert "this replaces alice's pause (paused by alice since" in second.stdout
    assert "docker upgrade" in second.stdout
    again = cli("pause", env={"SUDO_USER": "bob"})
    assert "this replaces your own pause" in again.stdout
