"""Benchmark (not collected by pytest): the state file and its history, and what an idle tick writes.

Run: python tests/benchmarks/bench_statefile.py [DEPLOYMENTS] [PRS]

A state of DEPLOYMENTS deployments (500) and PRS open PRs (300, over 3 repos, with their GitHub
page cache) is split by its first save (the history file takes what decisions do not read), then
loaded as a tick does and as status does, saved changed (a full write) and unchanged (an idle
tick's save); then real idle ticks run on the sandbox (real git, the GitHub stand-in over HTTP)
and the state file is watched.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kcistage.core import paths
from kcistage.sandbox.sandbox import Sandbox
from kcistage.shell import statefile

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
REPOS = ("kernelci-core", "kernelci-api", "kernelci-pipeline")


def sha(n: int) -> str:
    return f"{n:040x}"


def build_state(deployments: int, prs: int) -> dict:
    """A large but realistic state: long history, many open PRs, GitHub's page cache."""
    state = statefile.empty()
    for i in range(1, deployments + 1):
        start = NOW - timedelta(hours=deployments - i)
        target = {r: {"base": sha(i * 10 + k), "prs": [[n, sha(i * 1000 + n)] for n in range(1, 6)]}
                  for k, r in enumerate(REPOS)}
        state["deployments"].append({
            "id": i, "cycle": "full" if i % 6 == 0 else "partial", "trigger": "change",
            "result": "failed" if i % 7 == 0 else "success",
            "started": start.isoformat(timespec="seconds"),
            "finished": (start + timedelta(minutes=4)).isoformat(timespec="seconds"),
            "pid": 1000 + i, "step": None, "restarts": 0, "target": target,
            "heads": {r: sha(i * 7 + k) for k, r in enumerate(REPOS)}, "left_out": [],
            "steps": [{"name": n, "result": "ok", "seconds": 12.3, "reason": ""}
                      for n in ("api", "pipeline", "kernel", "tests")]})
    state["next_id"] = deployments + 1
    pages: dict[str, list] = {}
    for n in range(1, prs + 1):
        repo = REPOS[n % len(REPOS)]
        record = {
            "repo": repo, "number": n, "author": f"dev{n}", "sha": sha(n), "base": "main",
            "draft": False, "labels": ["kernel"], "updated_at": "2026-04-30T19:00:00+00:00",
            "title": f"PR {n} does useful things to the pipeline", "state": "pending",
            "reason": f"trusted author dev{n}", "approval": None, "excluded": None,
            "comments": {sha(n): 10_000 + n}, "notes": {sha(n): ["Deployment 3 (partial): success"]},
            "sha_seen_at": "2026-04-30T19:00:01+00:00"}
        state["prs"][f"{repo}#{n}"] = record
        pages.setdefault(repo, []).append({k: v for k, v in record.items()
                                           if k in ("number", "author", "sha", "base", "draft",
                                                    "labels", "updated_at", "title")})
    state["github"] = {
        "pulls": {f"kernelci/{r}": {"pages": [{"etag": 'W/"' + sha(i) + '"', "next": None,
                                               "prs": items[i:i + 100]}
                                              for i in range(0, len(items), 100)]}
                  for r, items in pages.items()},
        "seen": list(range(1, 2001))}
    state["observed"] = {"at": NOW.isoformat(), "target": state["deployments"][-1]["target"]}
    return state


def timed(action, rounds: int) -> float:
    """Mean wall seconds of `action()`."""
    t0 = time.perf_counter()
    for _ in range(rounds):
        action()
    return (time.perf_counter() - t0) / rounds


def idle_ticks(root: Path, ticks: int) -> tuple[int, int, int]:
    """(bytes written to the state file, inode changes, mtime changes) over idle ticks."""
    box = Sandbox(root)
    box.start()
    try:
        for repo in REPOS:
            for n in range(1, 4):
                box.open_pr(repo, n, "nuclearcat", {f"doc/pr{n}.md": f"# {n}\n"})
        box.tick()
        box.advance(10)
        box.tick()  # the first deployment
        for _ in range(2):  # its own comments come back once; the poll after records the watermark
            box.advance(1)
            box.tick()
        path = box.root / "state" / "state.json"
        written = inodes = mtimes = 0
        for _ in range(ticks):
            before, data = path.stat(), path.read_bytes()
            box.advance(1)
            result = box.tick()
            assert result.code == 0, result.lines
            after = path.stat()
            inodes += after.st_ino != before.st_ino
            mtimes += after.st_mtime_ns != before.st_mtime_ns
            if after.st_ino != before.st_ino or path.read_bytes() != data:
                written += after.st_size
        return written, inodes, mtimes
    finally:
        box.stop()


def main() -> None:
    deployments = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    prs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    state = build_state(deployments, prs)
    whole = statefile.dumps(state)  # one document with every deployment: the file before the split
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.json"
        rounds = 10
        load_whole = timed(lambda: json.loads(whole), rounds)
        split = timed(lambda: statefile.save(path, copy.deepcopy(state), 1000, NOW), 1)
        statefile.save(path, state, 1000, NOW)  # now the state holds what decisions read
        size, past = path.stat().st_size, paths.history_file(path).stat().st_size
        load = timed(lambda: statefile.load(path, NOW), rounds)
        load_full = timed(lambda: statefile.load_full(path, NOW), rounds)
        encode = timed(lambda: statefile.dumps(state), rounds)

        def changed() -> None:
            state["next_id"] += 1
            statefile.save(path, state, 1000, NOW)

        full = timed(changed, rounds)
        same = timed(lambda: statefile.save(path, state, 1000, NOW), rounds)
        written, inodes, mtimes = idle_ticks(Path(tmp) / "sb", 5)
    ms = lambda seconds: f"{seconds * 1000:.1f} ms"  # noqa: E731
    print(f"{deployments} deployments, {prs} open PRs: one document of {len(whole) / 1024:.0f} KiB "
          f"(parsed in {ms(load_whole)}) before the history file")
    print(f"split at the first save:     {ms(split)}; state file {size / 1024:.0f} KiB with "
          f"{len(state['deployments'])} deployments, history file {past / 1024:.0f} KiB")
    print(f"load the state (a tick):     {ms(load)}")
    print(f"load both (status, serve):   {ms(load_full)}")
    print(f"encode the state:            {ms(encode)}")
    print(f"save, something changed:     {ms(full)} (encode + write + fsync + rename)")
    print(f"save, nothing changed:       {ms(same)} (no write)")
    print(f"5 idle ticks on the sandbox: {written} bytes written to the state file, "
          f"{inodes} replacements, {mtimes} mtime changes")


if __name__ == "__main__":
    main()
