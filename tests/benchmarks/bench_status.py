"""Benchmark (not collected by pytest): process time of `status` work on a 200-deployment state.

Run: python tests/benchmarks/bench_status.py [DEPLOYMENTS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kcistage import state as state_mod
from kcistage import status

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
REPOS = ("kernelci-core", "kernelci-api", "kernelci-pipeline")


def sha(n: int) -> str:
    return f"{n:040x}"


def build_state(count: int) -> dict:
    """A realistic state: `count` deployments of 3 repos with a few PRs each, 30 open PRs."""
    state = state_mod.empty()
    for i in range(1, count + 1):
        start = NOW - timedelta(hours=count - i)
        target = {r: {"base": sha(i * 10 + k), "prs": [[n, sha(i * 100 + n)] for n in range(1, 5)]}
                  for k, r in enumerate(REPOS)}
        state["deployments"].append({
            "id": i, "cycle": "full" if i % 6 == 0 else "partial", "trigger": "change",
            "result": "failed" if i % 7 == 0 else "success",
            "started": start.isoformat(timespec="seconds"),
            "finished": (start + timedelta(minutes=4, seconds=12)).isoformat(timespec="seconds"),
            "pid": 1000 + i, "step": None, "restarts": 0, "target": target,
            "heads": {r: sha(i * 7 + k) for k, r in enumerate(REPOS)}, "left_out": [],
            "steps": [{"name": n, "result": "ok", "seconds": 12.3, "reason": ""}
                      for n in ("api", "pipeline", "kernel", "tests")]})
    state["next_id"] = count + 1
    for n in range(1, 31):
        repo = REPOS[n % 3]
        state["prs"][f"{repo}#{n}"] = {
            "repo": repo, "number": n, "author": f"dev{n}", "sha": sha(n), "base": "main",
            "draft": False, "labels": [], "updated_at": "2024-04-30T19:00:00Z",
            "title": f"[bold]PR {n}[/bold] does things", "state": "deployed", "reason": "in staging",
            "approval": None, "excluded": None, "comments": {}}
    return state


def document(state: dict) -> dict:
    """A stand-in for the engine's status document (the projection the lead builds)."""
    last = []
    for d in reversed(state["deployments"][-20:]):
        last.append({k: d[k] for k in ("id", "cycle", "trigger", "result", "started", "finished")}
                    | {"prs": [f"{r}#{n}@{s}" for r, t in d["target"].items() for n, s in t["prs"]],
                       "steps": [{k: s[k] for k in ("name", "result", "seconds")} for s in d["steps"]]})
    prs = [{k: p[k] for k in ("repo", "number", "author", "sha", "state", "reason", "title")}
           for p in state["prs"].values()]
    return {"running": None, "next": {"action": "none", "at": None, "reason": "unchanged"},
            "last": last, "prs": prs, "generated": NOW.isoformat()}


def child_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) a child process used."""
    before = os.times()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.json"
        state_mod.save(path, build_state(count), 500)
        size = path.stat().st_size
        rounds = 20
        t0 = time.process_time()
        for _ in range(rounds):
            loaded = state_mod.load(path, NOW)
        t1 = time.process_time()
        for _ in range(rounds):
            doc = document(loaded)
        t2 = time.process_time()
        for _ in range(rounds):
            status.render_plain(doc)
            status.render_json(doc)
        t3 = time.process_time()
        # a whole fresh process: interpreter start + imports + load + render (what the user waits for)
        code = ("import sys, time; from datetime import datetime, timezone; "
                "from kcistage import state, status; "
                "s = state.load(sys.argv[1], datetime.now(timezone.utc)); "
                "print(len(s['deployments']))")
        runs = [child_cpu([sys.executable, "-c", code, str(path)]) for _ in range(5)]
        rich_runs = [child_cpu([sys.executable, "-c", "import rich.table, rich.panel, rich.console"])
                     for _ in range(5)]
    ms = lambda seconds: f"{seconds * 1000:.2f} ms"  # noqa: E731
    print(f"state file: {count} deployments, {size / 1024:.0f} KiB")
    print(f"load:                       {ms((t1 - t0) / rounds)} per call")
    print(f"document (bench stand-in):  {ms((t2 - t1) / rounds)} per call")
    print(f"render_plain + render_json: {ms((t3 - t2) / rounds)} per call")
    print(f"load + render total:        {ms((t1 - t0 + t3 - t2) / rounds)}")
    print(f"fresh process (python start + import state, status + load): "
          f"min {ms(min(runs))}, max {ms(max(runs))} CPU")
    print(f"fresh process importing rich (only the terminal view pays this): "
          f"min {ms(min(rich_runs))}, max {ms(max(rich_runs))} CPU")


if __name__ == "__main__":
    main()
