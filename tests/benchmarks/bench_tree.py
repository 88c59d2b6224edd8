"""Benchmark (not collected by pytest): reading and judging a KernelCI tree over HTTP.

Run: python tests/benchmarks/bench_tree.py [NODES] [PAGE]

A tree of about NODES nodes (2000) is made by the KernelCI stand-in on loopback (real HTTP);
the client reads every page of PAGE nodes (250) as one check of a waiting `kernelci` step does,
then the tree is parsed, summarized and judged against a baseline of the same tree with a few
tests broken. Printed: the time of each part, the HTTP requests, and the bytes the deployment
record grows by (the step's TreeRecord and summary) next to the side file of per-identity results.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
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


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
