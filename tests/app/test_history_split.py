"""The history beside the state file, through the real CLI: a state file with a long history is
split by the first run that holds the lock, nothing lost; readers see both files; a tick never
reads the history."""

from __future__ import annotations

import json
from pathlib import Path

from kcistage.core import paths
from kcistage.sandbox.sandbox import Sandbox
from kcistage.shell import statefile
from tests.conftest import prime, run_cli

PAST = 499  # with the first: 500, the sandbox's `history`


def grow_history(box: Sandbox) -> tuple[Path, list[dict]]:
    """Append PAST deployments like the first one (same target: the next tick is idle)."""
    path = box.config().state_file
    state = json.loads(path.read_text())
    first = state["deployments"][0]
    for n in range(2, PAST + 2):
        state["deployments"].append(dict(first, id=n, cycle="partial", pid=1000 + n))
    state["next_id"] = PAST + 2
    path.write_bytes(statefile.dumps(state))
    return path, state["deployments"]


def test_the_first_locked_run_splits_a_long_history_and_readers_see_it_all(sandbox: Sandbox) -> None:
    prime(sandbox)
    path, records = grow_history(sandbox)
    before = path.stat().st_size
    dry = run_cli(sandbox.config_path, "tick", "--dry-run", now=sandbox.clock())
    assert dry.returncode == 0 and not paths.history_file(path).exists()  # a dry run moves nothing
    sandbox.advance(1)
    tick = run_cli(sandbox.config_path, "tick", now=sandbox.clock())
    assert tick.returncode == 0 and tick.stdout.startswith("tick: none"), tick.stdout + tick.stderr
    kept = [d["id"] for d in json.loads(path.read_text())["deployments"]]
    assert kept == [1, PAST + 1]  # the last full, and the newest (last success, last finished)
    assert path.stat().st_size < before / 100
    assert statefile.load_full(path, sandbox.clock())["deployments"] == records  # nothing lost
    status = run_cli(sandbox.config_path, "status", "--json", now=sandbox.clock())
    assert status.returncode == 0 and status.stderr == ""
    assert [d["id"] for d in json.loads(status.stdout)["last"]] == list(range(PAST + 1, PAST - 19, -1))


def test_an_unreadable_history_line_is_named_by_readers_and_never_read_by_a_tick(
        sandbox: Sandbox) -> None:
    prime(sandbox)
    path, _ = grow_history(sandbox)
    sandbox.advance(1)
    assert run_cli(sandbox.config_path, "tick", now=sandbox.clock()).returncode == 0
    history = paths.history_file(path)
    lines = history.read_bytes().split(b"\n")
    bad = len(lines) - 3  # the third line from the end: among the deployments status shows
    lines[bad - 1] = b'{"id": 8, "cyc'  # a damaged disk block, say
    history.write_bytes(b"\n".join(lines))
    status = run_cli(sandbox.config_path, "status", "--json", now=sandbox.clock())
    assert status.returncode == 0
    assert status.stderr == (f"{history} line {bad}: not valid JSON: skipped (the next "
                             "trim moves it aside)\n")
    assert len(json.loads(status.stdout)["last"]) == 20
    sandbox.advance(1)
    tick = run_cli(sandbox.config_path, "tick", now=sandbox.clock())
    assert tick.returncode == 0 and f"line {bad}" not in tick.stdout + tick.stderr  # not read


def test_status_names_a_prs_latest_deployment_from_its_record_however_old(
        sandbox: Sandbox) -> None:
    # status reads only the newest history records; the PR's own record says where it last went
    sandbox.open_pr("kernelci-api", 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
    prime(sandbox)  # deployment 1 merges kernelci-api#5
    path = sandbox.config().state_file
    state = json.loads(path.read_text())
    assert state["prs"]["kernelci-api#5"]["deployment"] == 1
    first = state["deployments"][0]
    without = {name: dict(entry, prs=[]) for name, entry in first["target"].items()}
    for n in range(2, PAST + 2):  # later full cycles without it (excluded by hand, say)
        state["deployments"].append(dict(first, id=n, target=without, pid=1000 + n))
    state["next_id"] = PAST + 2
    statefile.save(path, state, history=PAST + 1, now=sandbox.clock())
    assert [d["id"] for d in json.loads(path.read_text())["deployments"]] == [PAST + 1]
    status = run_cli(sandbox.config_path, "status", now=sandbox.clock())
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if "kernelci-api#5" in line)
    assert " #1 " in row, status.stdout
