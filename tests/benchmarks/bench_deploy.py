"""Benchmark: time and GitHub writes per deployment (3 repos x 20 PRs) and steps the shipped config skips.

Run: python tests/benchmarks/bench_deploy.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from kcistage.core.step_filter import plan_steps
from kcistage.sandbox.sandbox import Sandbox
from kcistage.shell.config import load_config

ROOT = Path(__file__).resolve().parents[2]
PRS_PER_REPO = 20


WRITES = ("POST", "PATCH", "PUT", "DELETE")
PACE = 1.0  # seconds between two GitHub writes (kcistage's pacing against the real GitHub)


def timed(box: Sandbox, label: str, action, deploys: bool) -> None:
    """One run, timed; prints kcistage's own time (wall minus steps) and its GitHub traffic."""
    box.hub.reset_log()
    started = time.perf_counter()
    result = action()
    wall = time.perf_counter() - started
    requests = len(box.hub.requests)
    points = sum(1 for r in box.hub.requests if r["counted"])
    writes = sum(1 for r in box.hub.requests if r["method"] in WRITES)
    paced = max(writes - 1, 0) * PACE
    traffic = (f"{requests:4d} requests, {points:4d} points, {writes:4d} writes "
               f"({paced:5.0f} s paced)")
    if not deploys:
        print(f"{label + ':':46s}{wall:6.2f} s kcistage               {traffic}")
        return
    assert result.code == 0 and "success" in result.lines[-1], result.lines
    steps = sum(s["seconds"] for s in box.state()["deployments"][-1]["steps"])
    print(f"{label + ':':46s}{wall - steps:6.2f} s kcistage {steps:5.2f} s steps {traffic}")


def bench_deployments() -> None:
    """First, incremental and unchanged deployments of 3 repos x 20 PRs with an instant step."""
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "sb") as box:
        box.overrides = {"steps": [{"name": "noop", "run": ["true"]}]}
        box.write_config()
        for repo in box.repos:
            for n in range(1, PRS_PER_REPO + 1):
                box.open_pr(repo, n, "nuclearcat", {f"feature/{n}.txt": f"{repo} {n}\n"})
        box.tick()  # first change
        box.advance(6)
        timed(box, f"first deployment (3 repos x {PRS_PER_REPO} PRs, full)", box.tick, True)
        box.push("kernelci-api", 5, {"feature/5.txt": "changed\n"})
        box.advance(1)
        box.tick()
        box.advance(31)
        timed(box, "incremental deployment (1 of 60 PRs pushed)", box.tick, True)
        box.advance(31)
        timed(box, "deployment with no change (deploy by hand)", box.deploy, True)
        for label in ("tick after it (our comments come back)", "idle tick"):
            box.advance(1)
            timed(box, label, box.tick, False)


SCENARIOS = {
    "pipeline config only": {"kernelci-pipeline": ["config/pipeline.yaml"]},
    "api code only": {"kernelci-api": ["api/main.py"]},
    "core docker only": {"kernelci-core": ["config/docker/api.jinja2"]},
    "docs only": {"kernelci-api": ["doc/index.md"]},
}


def bench_skips() -> None:
    """How many of the shipped config's steps a partial cycle skips per typical change."""
    cfg = load_config(ROOT / "config.yaml")
    partial = [s for s in cfg.steps if "partial" in s.cycles]
    print(f"shipped config.yaml: {len(cfg.steps)} steps, {len(partial)} allowed in partial cycles")
    for label, changed in SCENARIOS.items():
        plans = plan_steps(cfg.steps, "partial", changed)
        ran = [p.name for p in plans if p.run]
        print(f"  {label:22s}: {len(plans) - len(ran)} of {len(plans)} skipped; runs {', '.join(ran)}")


if __name__ == "__main__":
    bench_deployments()
    bench_skips()
