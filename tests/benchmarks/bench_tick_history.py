"""What a tick costs with a long history: 3 repos × 100 open PRs, 500 deployments, real processes.

Run by hand: `.venv/bin/python tests/benchmarks/bench_tick_history.py [DEPLOYMENTS] [PRS_PER_REPO]`.

A sandbox (the GitHub stand-in over HTTP, real bare repositories) gets PRS_PER_REPO open PRs in
each of its 3 repos and one real full deployment of all of them (merges, steps, a commit status
and a comment per PR); the history is then grown to DEPLOYMENTS records like it. Measured, each
as a real `python -m kcistage tick` process (CPU = user + system, RSS = its peak, medians):

- an idle tick (nothing to deploy: a conditional poll answered 304, the rules say none);
- a tick while a deployment waits on its `kernelci` step (a running record with a `waiting`
  entry whose next check is later: the tick polls and leaves it waiting);
- `python -c "import github, click, yaml, requests"`, the libraries a tick needs: the yardstick.

Also printed: the sizes of the state and history files and the time to parse each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from kcistage.sandbox.sandbox import Sandbox

RUNS = 7
IMPORTS = [sys.executable, "-c", "import github, click, yaml, requests"]


def measure(argv: list[str], cwd: Path) -> tuple[float, float, float, int, str]:
    """(CPU seconds, wall seconds, peak RSS MiB, exit status, output) of one process.

    Started through GNU time (`/usr/bin/time`), a small process: the peak RSS of a child forked
    straight from this big one would count this process's memory before the exec."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as figures:
        start = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-f", "%U %S %M", "-o", figures.name, *argv],
                               stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                               stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        user, system, rss = figures.read().split()[-3:]
        out.seek(0)
        text = out.read().decode(errors="replace")
    return float(user) + float(system), wall, int(rss) / 1024, code, text


def median_of(argv: list[str], cwd: Path, before: Any = None) -> tuple[float, float, float, str]:
    """Medians of RUNS processes (CPU s, wall s, RSS MiB) and the last output; `before()` runs
    before each (not measured)."""
    cpus, walls, rsss, text = [], [], [], ""
    for _ in range(RUNS):
        if before is not None:
            before()
        cpu, wall, rss, code, text = measure(argv, cwd)
        assert code == 0, text
        cpus.append(cpu)
        walls.append(wall)
        rsss.append(rss)
    return statistics.median(cpus), statistics.median(walls), statistics.median(rsss), text


def populate(box: Sandbox, per_repo: int) -> None:
    """Open PRs (real commits) and run one real full deployment of them all, then settle."""
    for repo in box.repos:
        for n in range(1, per_repo + 1):
            box.open_pr(repo, n, "nuclearcat", {f"doc/pr{n}.md": f"# PR {n}\n"},
                        title=f"{repo}: change number {n} to the staging setup")
    assert box.tick().code == 0  # the first change
    box.advance(10)
    result = box.tick()
    assert result.code == 0, result.lines
    for _ in range(3):  # its own comments come back once; the next poll records the watermark
        box.advance(1)
        box.tick()


def grow(state_file: Path, count: int) -> dict[str, Any]:
    """Grow the history to `count` records like the real one (same target: the tick stays idle);
    returns the state as written. Every sixth is a full cycle with a test kernel's tree."""
    state = json.loads(state_file.read_text())
    real = state["deployments"][-1]
    records = []
    for n in range(1, count + 1):
        record = dict(real, id=n, cycle="full" if n % 6 == 0 or n == count else "partial")
        if record["cycle"] == "full":
            record["steps"] = [*real["steps"][:-1], dict(real["steps"][-1], summary="tree: 512 tests, 510 pass", tree={
                "treeid": f"{n:032x}", "commit": f"{n:040x}", "baseline": n - 6 if n > 6 else None,
                "counts": {"kbuild": {"pass": 12}, "job": {"pass": 40, "fail": 1},
                           "test": {"pass": 510, "fail": 2}},
                "regressions": [], "flaky": ["test/baseline/dmesg/qemu-x86"]})]
        records.append(record)
    state["deployments"], state["next_id"] = records, count + 1
    state_file.write_bytes(json.dumps(state, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    return state


def waiting_state(state: dict[str, Any], now: str, later: str) -> bytes:
    """The state with its newest deployment running, waiting on its `kernelci` step."""
    state = json.loads(json.dumps(state))
    last = state["deployments"][-1]
    last.update(result="running", finished=None, step="test-kernel", pid=os.getpid(),
                steps=last["steps"][:-1], statuses="pending")
    last["waiting"] = {"step": "test-kernel", "kind": "kernelci", "since": now, "check_at": later,
                       "what": "tree 0f3a of kernel 1c2d: 1,402 of 2,000 nodes done",
                       "data": {"treeid": "0f3a" * 8, "commit": "1c2d" * 10, "tries": 1,
                                "read_at": now}}
    return json.dumps(state, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def parse_time(path: Path) -> float:
    """Median seconds to parse a file as the readers do (the state: one document; the history:
    one JSON document a line)."""
    raw = path.read_bytes()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        if path.name.endswith(".history"):
            [json.loads(line) for line in raw.splitlines() if line]
        else:
            json.loads(raw)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    per_repo = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "sb") as box:
        populate(box, per_repo)
        state_file = box.config().state_file
        state = grow(state_file, count)
        print(f"{count} deployments, {len(box.repos)} repos × {per_repo} open PRs: state file "
              f"{state_file.stat().st_size / 1e6:.1f} MB as grown "
              f"({len(json.dumps(state['deployments'][-1])) / 1e3:.0f} KB per deployment record), "
              f"parsed in {parse_time(state_file) * 1000:.0f} ms")
        tick = [sys.executable, "-m", "kcistage", "--config", str(box.config_path), "tick"]

        def now_argv() -> list[str]:
            return tick[:3] + ["--config", str(box.config_path), "--now",
                               box.advance(1).isoformat(), "tick"]

        first = measure(now_argv(), box.root)  # splits a grown state (a no-op before that existed)
        assert first[3] == 0, first[4]
        history = state_file.with_name(state_file.name + ".history")  # (also before it existed)
        print(f"first tick after growing: {first[0]:.2f} s CPU, {first[2]:.0f} MiB; then the state "
              f"file is {state_file.stat().st_size / 1e3:.0f} KB (parsed in "
              f"{parse_time(state_file) * 1000:.1f} ms)"
              + (f", the history file {history.stat().st_size / 1e6:.1f} MB (parsed in "
                 f"{parse_time(history) * 1000:.0f} ms)" if history.exists() else ""))
        split = json.loads(state_file.read_bytes())
        parts = sorted(((len(json.dumps(v, separators=(",", ":"))), k) for k, v in split.items()),
                       reverse=True)
        print("  its parts: " + ", ".join(f"{k} {n / 1e3:.0f} KB" for n, k in parts[:4])
              + f" ({len(split['deployments'])} deployments, {len(split['prs'])} PR records)")
        yard = median_of(IMPORTS, box.root)
        argv: list[str] = []

        def fresh_now() -> None:
            argv[:] = now_argv()

        idle = median_of(argv, box.root, fresh_now)
        assert "tick: none" in idle[3], idle[3]
        hot = state_file.read_bytes()
        now = box.clock()
        waiting = waiting_state(json.loads(hot), now.isoformat(),
                                (now + timedelta(days=1)).isoformat())

        def waiting_now() -> None:
            state_file.write_bytes(waiting)  # as the run that began the wait left it
            fresh_now()

        wait = median_of(argv, box.root, waiting_now)
        state_file.write_bytes(hot)
    print(f"{'median of ' + str(RUNS):34s} {'CPU':>8s} {'wall':>8s} {'peak RSS':>9s} {'CPU ×':>6s}")
    for name, (cpu, wall, rss, _) in (("import github, click, yaml, requests", yard),
                                      ("idle tick", idle), ("tick, a deployment waiting", wait)):
        print(f"{name:34s} {cpu:7.2f}s {wall:7.2f}s {rss:6.0f} MiB {cpu / yard[0]:5.2f}×")
    print("the waiting tick said: " + wait[3].strip().splitlines()[-1])


if __name__ == "__main__":
    main()
