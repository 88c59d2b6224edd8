"""Benchmark (not collected by pytest): process time of `status` work on a 200-deployment state.

Run: python tests/benchmarks/bench_status.py [DEPLOYMENTS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kcistage.app.status_document import status_document
from kcistage.cli import views as status
from kcistage.shell import statefile as state_mod
from kcistage.shell.config import load_config

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
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


CONFIG = """github: {api_url: "http://127.0.0.1:9"}
state_file: state.json
workdir: work
repos:
  - {name: kernelci-core, github: kernelci/kernelci-core}
  - {name: kernelci-api, github: kernelci/kernelci-api}
  - {name: kernelci-pipeline, github: kernelci/kernelci-pipeline}
steps:
  - {name: api, run: ["true"]}
"""


def document(state: dict, cfg_path: Path) -> dict:
    """The real status document (report.status_document) of the state."""
    return status_document(load_config(cfg_path), state, NOW)


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
        cfg_path = Path(tmp) / "config.yaml"
        cfg_path.write_text(CONFIG)
        state_mod.save(path, build_state(count), 500)
        size = path.stat().st_size
        rounds = 20
        t0 = time.process_time()
        for _ in range(rounds):
            loaded = state_mod.load(path, NOW)
        t1 = time.process_time()
        for _ in range(rounds):
            doc = document(loaded, cfg_path)
        t2 = time.process_time()
        for _ in range(rounds):
            status.render_plain(doc)
            status.render_json(doc)
        t3 = time.process_time()
        # a whole fresh process: interpreter start + imports + load + render (what the user waits for)
        code = ("import sys, time; from datetime import datetime, timezone; "
                "from kcistage.shell import statefile as state; from kcistage.cli import views as status; "
                "s = state.load(sys.argv[1], datetime.now(timezone.utc)); "
                "print(len(s['deployments']))")
        runs = [child_cpu([sys.executable, "-c", code, str(path)]) for _ in range(5)]
        cli = [sys.executable, "-m", "kcistage", "--config", str(cfg_path), "status"]
        cli_runs = [child_cpu(cli) for _ in range(5)]
        json_runs = [child_cpu(cli + ["--json"]) for _ in range(5)]
        rich_runs = [child_cpu([sys.executable, "-c", "import rich.table, rich.panel, rich.console"])
                     for _ in range(5)]
    ms = lambda seconds: f"{seconds * 1000:.2f} ms"  # noqa: E731
    print(f"state file: {count} deployments, {size / 1024:.0f} KiB")
    print(f"load:                       {ms((t1 - t0) / rounds)} per call")
    print(f"status document:            {ms((t2 - t1) / rounds)} per call")
    print(f"render_plain + render_json: {ms((t3 - t2) / rounds)} per call")
    print(f"load + render total:        {ms((t1 - t0 + t3 - t2) / rounds)}")
    print(f"fresh process (python start + import state, status + load): "
          f"min {ms(min(runs))}, max {ms(max(runs))} CPU")
    print(f"whole `kcistage status` (plain):  min {ms(min(cli_runs))}, max {ms(max(cli_runs))} CPU")
    print(f"whole `kcistage status --json`:   min {ms(min(json_runs))}, max {ms(max(json_runs))} CPU")
    print(f"fresh process importing rich (only the terminal view pays this): "
          f"min {ms(min(rich_runs))}, max {ms(max(rich_runs))} CPU")


if __name__ == "__main__":
    main()
