"""Benchmark (not collected by pytest): reading and judging a KernelCI tree over HTTP.

Run: python tests/benchmarks/bench_tree.py [NODES] [PAGE]

A tree of about NODES nodes (2000) is made by the KernelCI stand-in on loopback (real HTTP);
the client reads every page of PAGE nodes (250) as one check of a waiting `kernelci` step does,
then the tree is parsed, summarized and judged against a baseline of the same tree with a few
tests broken. Printed: the time of each part, the HTTP requests, and the bytes the deployment
record grows by (the step's TreeRecord and summary) next to the side file of per-identity results.

Part 2: real `kcistage tick` processes on the sandbox (GitHub and KernelCI stand-ins, a full
cycle waiting on its kernelci step with a NODES tree): the CPU time and peak memory of a tick
that reads the tree (its check is due), of one between checks, and of an idle tick.
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

from kcistage.core import verification as v
from kcistage.sandbox.kernelci_standin import FakeKernelCI, Layout
from kcistage.shell.kernelci import KernelCIClient
from kcistage.shell.tree_files import save_results

URL, BRANCH = "https://github.com/kernelci/linux.git", "staging-next"


def main(nodes: int = 2000, page: int = 250, rounds: int = 5) -> None:
    with FakeKernelCI() as kci, tempfile.TemporaryDirectory() as tmp:
        kci.layout = Layout.sized(nodes)
        client = KernelCIClient(kci.url, kci.url, kci.token)
        kci.failing = {"case-0003", "case-0042"}
        treeid = client.submit_checkout(URL, BRANCH, "c" * 40).treeid or ""
        kci.advance(treeid)
        kci.auto_advance = False
        reads, parses, judges = [], [], []
        for _ in range(rounds):
            before = client.requests
            t0 = time.perf_counter()
            items = client.tree_nodes(treeid, page=page)
            t1 = time.perf_counter()
            tree = v.parse_tree(items)
            per = v.results(tree)
            t2 = time.perf_counter()
            baseline = {ident: "pass" for ident in per}
            verdict = v.judge(tree, treeid=treeid, commit="c" * 40, baseline_id=1,
                              baseline=baseline, history=[baseline] * 5, max_regressions=0)
            t3 = time.perf_counter()
            requests = client.requests - before
            reads.append(t1 - t0)
            parses.append(t2 - t1)
            judges.append(t3 - t2)
        step = {"name": "test-kernel", "result": "failed", "seconds": 14400.0,
                "reason": verdict.failure, "summary": verdict.summary, "tree": verdict.tree}
        record_bytes = len(json.dumps(step, separators=(",", ":")))
        side = save_results(Path(tmp), 1, "test-kernel", per).stat().st_size
        client.close()
    print(f"tree: {len(items)} nodes, {len(per)} identities, {requests} requests of {page} nodes")
    print(f"read all pages: {statistics.median(reads) * 1000:.0f} ms  "
          f"parse+identities: {statistics.median(parses) * 1000:.1f} ms  "
          f"judge: {statistics.median(judges) * 1000:.1f} ms  (median of {rounds})")
    print(f"verdict: {verdict.summary[:110]}...")
    print(f"deployment record grows by {record_bytes} bytes (step record with summary and tree); "
          f"side file {side} bytes")


def _tick(config: Path, now: str) -> tuple[float, float, str]:
    """One real `kcistage tick` process: (its CPU seconds, its peak RSS MiB, its output)."""
    argv = [sys.executable, "-m", "kcistage", "--config", str(config), "--now", now, "tick"]
    env = {k: v for k, v in os.environ.items() if k not in ("KCISTAGE_CONFIG", "KCISTAGE_NOW")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)  # this process's own usage, not all children's
    proc.returncode = 0
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.strip()


def ticks(nodes: int = 2000, rounds: int = 5) -> None:
    """Part 2: ticks of a waiting full cycle with a NODES tree, next to idle ticks."""
    from kcistage.sandbox.sandbox import Sandbox

    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "sb", kernelci=True) as box:
        assert box.kci is not None
        box.kci.layout = Layout.sized(2 * nodes)  # the step's jobfilter keeps one job of two
        box.kci.auto_advance = False  # the tree stays incomplete: every due check reads it all
        box.tick()
        box.advance(5)
        box.tick()  # the first full cycle starts and waits for its tree
        record = box.state()["deployments"][-1]
        assert record.get("waiting"), record
        treeid = record["waiting"]["data"]["treeid"]
        box.kci.advance(treeid, 3)  # all nodes there, the checkout still closing
        checking, between = [], []
        for _ in range(rounds):
            box.advance(1)  # the check is due
            checking.append(_tick(box.config_path, box.clock().isoformat()))
            between.append(_tick(box.config_path, (box.clock() + timedelta(seconds=20)).isoformat()))
        size = len(box.kci.trees[treeid].nodes)
        state_bytes = (box.root / "state" / "state.json").stat().st_size
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "sb") as idle_box:
        idle_box.tick()
        idle_box.advance(5)
        idle_box.tick()  # a first deployment, then nothing to do
        idle = []
        for _ in range(rounds):
            idle_box.advance(1)
            idle.append(_tick(idle_box.config_path, idle_box.clock().isoformat()))
    print(f"\nreal `kcistage tick` processes, medians of {rounds} (a {size}-node tree, "
          f"state file {state_bytes} bytes):")
    for name, runs in (("tick that reads the waiting tree (every page, 1 request per 250 nodes)", checking),
                       ("tick between checks of the waiting tree", between),
                       ("idle tick (nothing deployed, nothing waiting)", idle)):
        print(f"  {name}: {statistics.median(r[0] for r in runs):.2f} s CPU, "
              f"{statistics.median(r[1] for r in runs):.0f} MiB peak")
    print(f"  e.g. {checking[-1][2].splitlines()[-1][:150]}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
    ticks(args[0] if args else 2000)
