"""What a tick costs with a long history (part 2 of bench_idle_tick.py, which runs it).

A sandbox gets PRS_PER_REPO open PRs in each of its 3 repos and one real full deployment of them
all (merges, steps, a commit status and a comment per PR). The history is grown to DEPLOYMENTS
finished records like it (every sixth a full cycle with its test kernel's tree). Then, each as a
real `python -m kcistage tick` process, interleaved with the yardstick `python -c "import
github, click, yaml, requests"` (CPU = user + system; medians of per-round ratios):

- idle ticks (the first one, not counted, splits the grown state file);
- ticks while one more deployment, a full cycle, waits on its `kernelci` step between runs (a
  `waiting` entry whose next check is an hour later: the tick polls and leaves it waiting).

Then what the history file costs a deployment that ends (its record appended, then the trim to
`history`): rewriting the whole file each time, and the amortized trim that rewrites it only
once it holds 10% over `history` (medians of 5, CPU and wall, fsyncs included).

Bytecode is written and used (as an installed package has it), whatever PYTHONDONTWRITEBYTECODE
says. Also printed: the sizes of the state and history files and the time to parse each.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from kcistage.sandbox.sandbox import Sandbox

ROUNDS = 9
IMPORTS = [sys.executable, "-c", "import github, click, yaml, requests"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(argv: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """(CPU seconds, wall seconds, peak RSS MiB, output) of one process, started through GNU
    time (a small process: a child forked straight from this big one would count this one's
    memory in its peak RSS)."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as figures:
        start = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-f", "%U %S %M", "-o", figures.name, *argv],
                               stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=ENV,
                               stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode(errors="replace")
        assert code == 0, text
        user, system, rss = figures.read().split()[-3:]
    return float(user) + float(system), wall, int(rss) / 1024, text


def compare(box: Sandbox, argv: list[str]) -> dict[str, float | str]:
    """Rounds of (yardstick, tick): medians of each and of the per-round CPU ratio."""
    rows = []
    for _ in range(ROUNDS):
        yard = measure(IMPORTS, box.root)
        tick = measure(argv, box.root)
        rows.append((yard, tick, tick[0] / yard[0]))
    med = statistics.median
    return {"yard_cpu": med(r[0][0] for r in rows), "yard_rss": med(r[0][2] for r in rows),
            "cpu": med(r[1][0] for r in rows), "wall": med(r[1][1] for r in rows),
            "rss": med(r[1][2] for r in rows), "ratio": med(r[2] for r in rows),
            "said": rows[-1][1][3].strip().splitlines()[-1]}


def populate(box: Sandbox, per_repo: int) -> None:
    """Open PRs (real commits) and start one real full deployment of them all."""
    for repo in ("kernelci-core", "kernelci-api", "kernelci-pipeline"):
        for n in range(1, per_repo + 1):
            box.open_pr(repo, n, "nuclearcat", {f"doc/pr{n}.md": f"# PR {n}\n"},
                        title=f"{repo}: change number {n} to the staging setup")
    assert box.tick().code == 0  # the first change
    box.advance(10)
    result = box.tick()
    assert result.code == 0, result.lines


def grow(state_file: Path, count: int) -> None:
    """Put `count` finished deployments like the last one before it (same target, each with a
    test kernel's tree): ids 1..count, the last one becomes count + 1."""
    state = json.loads(state_file.read_text())
    last = state["deployments"][-1]
    tree: dict[str, Any] = {"name": "test-kernel", "result": "ok", "seconds": 5400.0, "reason": "",
            "summary": "kernel 1c2d3e4f: 1,996 tests: 1,990 pass, 4 fail, 2 skip; no regression",
            "tree": {"treeid": "0f3a" * 6, "commit": "1c2d" * 10, "baseline": None,
                     "counts": {"checkout": {"pass": 1}, "kbuild": {"pass": 2},
                                "job": {"pass": 18, "fail": 2}, "test": {"pass": 1990, "fail": 4, "skip": 2}},
                     "regressions": [], "flaky": ["test:baseline/dmesg.crit@rpi4"]}}
    records = []
    for n in range(1, count + 1):
        record = {k: v for k, v in last.items() if k not in ("waiting", "step_group", "step")}
        record.update(id=n, result="success", finished=last["started"], statuses="resolved",
                      cycle="full" if n % 6 == 0 else "partial")
        if record["cycle"] == "full":
            record["steps"] = [*last["steps"], dict(tree, tree=dict(tree["tree"], baseline=n - 6 or None))]
        records.append(record)
    last["id"] = count + 1
    state["deployments"], state["next_id"] = [*records, last], count + 2
    for pr in state["prs"].values():
        for shown in (pr.get("shown") or {}).values():
            shown["deployment"] = count + 1
    state_file.write_bytes(json.dumps(state, sort_keys=True, separators=(",", ":")).encode() + b"\n")


def parse_ms(path: Path) -> float:
    """Median milliseconds to parse a file as its readers do (history: one record a line)."""
    raw, times = path.read_bytes(), []
    for _ in range(5):
        start = time.perf_counter()
        _ = [json.loads(line) for line in raw.splitlines()] if path.name.endswith(".history") \
            else json.loads(raw)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def files(state_file: Path) -> str:
    history = state_file.with_name(state_file.name + ".history")
    text = f"state file {state_file.stat().st_size / 1e3:,.0f} KB (parsed in {parse_ms(state_file):.0f} ms)"
    if history.exists():
        text += f", history file {history.stat().st_size / 1e6:.1f} MB ({parse_ms(history):.0f} ms)"
    return text


def waiting_state(raw: bytes, since: Any, check_at: Any) -> bytes:
    """The state with one more deployment, a full cycle running that waits on its `kernelci`
    step between runs (as core/state.py declares it): its next check is `check_at`."""
    state = json.loads(raw)
    last = state["deployments"][-1]
    steps = [s for s in last["steps"] if s["name"] != "test-kernel"]
    record = {k: v for k, v in last.items() if k not in ("finished", "reason")}
    record.update(id=state["next_id"], cycle="full", result="running", finished=None,
                  started=since.isoformat(), step="test-kernel", statuses="pending", steps=steps,
                  plan=[{"name": s["name"], "run": True, "reason": ""} for s in steps]
                  + [{"name": "test-kernel", "run": True, "reason": "a full cycle"}],
                  waiting={"step": "test-kernel", "kind": "kernelci", "since": since.isoformat(),
                           "check_at": check_at.isoformat(),
                           "what": "the test kernel's tree 0f3a0f3a: 1,402 of 2,000 nodes done",
                           "data": {"phase": "tree", "treeid": "0f3a" * 6, "commit": "1c2d" * 10,
                                    "mode": "compare", "baseline": last["id"],
                                    "read_at": since.isoformat(), "unread_since": None}})
    state["deployments"].append(record)
    state["next_id"] += 1
    return json.dumps(state, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def trims(where: Path, capacity: int) -> str:
    """A deployment ending on a copy of the history file `where`: its line appended, then the
    trim, rewriting each time or amortized (milliseconds of CPU and wall, medians of 5)."""
    from datetime import UTC, datetime

    from kcistage.shell import historyfile

    last = historyfile.read_newest(where, 1).records[-1]
    copy = where.with_name("trim-bench.history")
    said = []
    for amortized in (False, True):
        cpu, wall = [], []
        for n in range(5):
            shutil.copy(where, copy)
            historyfile.append(copy, [dict(last, id=last["id"] + 1 + n)])
            start, start_cpu = time.perf_counter(), time.process_time()
            historyfile.trim(copy, capacity, datetime.now(UTC), set(), amortized=amortized)
            cpu.append(time.process_time() - start_cpu)
            wall.append(time.perf_counter() - start)
        said.append(f"{'amortized' if amortized else 'rewriting each time'}: "
                    f"{statistics.median(cpu) * 1000:.0f} ms CPU, {statistics.median(wall) * 1000:.0f} ms wall")
    copy.unlink()
    return "; ".join(said)


def history(count: int, per_repo: int) -> None:
    """Part 2: the figures."""
    results: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp())
    with Sandbox(root / "sb") as box:
        populate(box, per_repo)
        for _ in range(3):  # its comments, their echo, the watermark
            box.advance(2)
            assert box.tick().code == 0
        state_file = box.config().state_file
        grow(state_file, count)
        print(f"history: {count} deployments, 3 repos × {per_repo} open PRs; as grown: {files(state_file)}")

        def tick_at(moment: Any) -> list[str]:
            return [sys.executable, "-m", "kcistage", "--config", str(box.config_path),
                    "--now", moment.isoformat(), "tick"]

        box.advance(2)
        first = measure(tick_at(box.clock()), box.root)  # the run that splits a grown state
        print(f"the first tick: {first[0]:.2f} s CPU, {first[2]:.0f} MiB; then: {files(state_file)}")
        box.advance(1)
        results["idle"] = compare(box, tick_at(box.clock()))
        idle = state_file.read_bytes()
        state_file.write_bytes(waiting_state(idle, box.clock(), box.clock() + timedelta(hours=1)))
        results["waiting"] = compare(box, tick_at(box.clock()))
        state_file.write_bytes(idle)
        ended = trims(state_file.with_name(state_file.name + ".history"), count - 5)
    shutil.rmtree(root, ignore_errors=True)
    yard = results["idle"]
    print(f"median of {ROUNDS} rounds {'CPU':>14s} {'wall':>7s} {'peak RSS':>9s} {'CPU ratio':>10s}")
    print(f"{'import github, click, yaml, requests':36s} {yard['yard_cpu']:6.2f} s {'':>7s} "
          f"{yard['yard_rss']:5.0f} MiB")
    for name, key in (("idle tick", "idle"), ("tick, a deployment waiting", "waiting")):
        row = results[key]
        print(f"{name:36s} {row['cpu']:6.2f} s {row['wall']:5.2f} s {row['rss']:5.0f} MiB "
              f"{row['ratio']:8.2f}×   ({row['said']})")
    print(f"a deployment that ends, its history file's trim ({count} deployments): {ended}")
