"""What a tick that deploys nothing costs: its imports, and its CPU with a long history.

Run by hand: `.venv/bin/python tests/benchmarks/bench_idle_tick.py [--history-only]
[DEPLOYMENTS] [PRS_PER_REPO]`.

1. Imports (skipped with --history-only): over 5 idle ticks against a small sandbox, `python -X
   importtime`'s median import time, the modules loaded, the heaviest top-level imports, and
   whether any deployment machinery was loaded.
2. A long history (bench_history.py): 3 repos × PRS_PER_REPO (100) open PRs and DEPLOYMENTS
   (500) deployments; the CPU, wall time and peak RSS of real `kcistage tick` processes while a
   deployment waits on its `kernelci` step and once all is idle, next to `python -c "import
   github, click, yaml, requests"`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcistage.sandbox.sandbox import Sandbox

MACHINERY = ("kcistage.app.deploy", "kcistage.shell.steps", "kcistage.shell.git", "pathspec")
RUNS = 5


def parse(stderr: str) -> tuple[float, dict[str, float], set[str]]:
    """(total µs of top-level imports, cumulative µs per top-level module, every module)."""
    total, top, names = 0.0, {}, set()
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        names.add(name.strip())
        if not name.startswith("  "):  # top level: one space after the bar, no nesting
            top[name.strip()] = float(cumulative)
            total += float(cumulative)
    return total, top, names


def imports() -> None:
    """Part 1: what an idle tick imports."""
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "sb") as box:
        assert box.deploy(full=True).code == 0
        totals, walls, modules = [], [], set()
        top: dict[str, float] = {}
        for _ in range(RUNS):
            box.advance(5)
            argv = [sys.executable, "-X", "importtime", "-m", "kcistage", "--config",
                    str(box.config_path), "--now", box.clock().isoformat(), "tick"]
            start = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, cwd=box.root, check=True)
            walls.append(time.perf_counter() - start)
            total, top, modules = parse(done.stderr)
            totals.append(total)
        print(f"idle tick: {statistics.median(walls) * 1000:.0f} ms wall, "
              f"{statistics.median(totals) / 1000:.0f} ms of imports (median of {RUNS}), "
              f"{len(modules)} modules")
        for name, micros in sorted(top.items(), key=lambda kv: -kv[1])[:6]:
            print(f"  {name:32s} {micros / 1000:6.1f} ms")
        loaded = [m for m in MACHINERY if m in modules]
        print("deployment machinery loaded: " + (", ".join(loaded) if loaded else "none"))
    # What loading it would add to such a tick: imported after everything the tick imports.
    probe = ("import kcistage.cli.main, kcistage.app.engine, kcistage.shell.github, "
             "kcistage.shell.config\n" + "".join(f"import {m}\n" for m in MACHINERY))
    costs, extra = [], 0
    for _ in range(RUNS):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", probe],
                              capture_output=True, text=True, check=True)
        _, top, names = parse(done.stderr)
        costs.append(sum(top.get(m, 0.0) for m in MACHINERY))
        extra = len([n for n in names if n.startswith(MACHINERY)])
    print(f"loading it would add {statistics.median(costs) / 1000:.0f} ms of imports "
          f"(median of {RUNS}; {extra} kcistage and pathspec modules)")


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--history-only"]
    if "--history-only" not in sys.argv:
        imports()
    from bench_history import history  # (beside this file)

    history(int(args[0]) if args else 500, int(args[1]) if len(args) > 1 else 100)


if __name__ == "__main__":
    main()
