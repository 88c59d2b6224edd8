"""Time of a staging-branch push through kcistage's git credential helper (run by hand).

Pushes to a smart-HTTP git server on 127.0.0.1 that wants a token (git http-backend behind
Basic auth: 401, then the helper answers), compared with a push to a local path (no network,
no helper). Prints medians over 15 pushes each.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcistage.core.settings import Repo
from kcistage.sandbox.git_http import GitHttpServer
from kcistage.sandbox.localrepo import LocalRepo
from kcistage.shell.git import Git

TOKEN = "ghs_benchmarktoken"
ROUNDS = 15


def timed_pushes(git: Git, repo: Repo, remote: LocalRepo, first: int) -> list[float]:
    times = []
    for i in range(ROUNDS):
        number = first + i
        sha = remote.open_pr(number, {f"f{number}.txt": f"{number}\n"})
        git.build(repo, git.remote_head(repo), [(number, sha)])
        start = time.perf_counter()
        git.push(repo)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        remote = LocalRepo.create(root / "srv" / "api.git", {"README": "x\n"})
        git = Git(root / "work", credential=lambda r: TOKEN)
        with GitHttpServer(root / "srv", {TOKEN}) as server:
            http = Repo(name="api", github="o/api", url=server.repo_url("api"), push=True)
            over_http = timed_pushes(git, http, remote, 1)
        local = Repo(name="api-local", github="o/api", url=str(root / "srv" / "api.git"),
                     push=True)
        on_disk = timed_pushes(git, local, remote, 100)
        start = time.perf_counter()
        for _ in range(5):
            subprocess.run([sys.executable, "-m", "kcistage.shell.git_credential", "erase"],
                           input="", capture_output=True, text=True, check=True)
        helper = (time.perf_counter() - start) / 5
    print(f"push over HTTP with the credential helper: median {statistics.median(over_http):.3f} s "
          f"(max {max(over_http):.3f} s, {ROUNDS} pushes)")
    print(f"push to a local path (no helper): median {statistics.median(on_disk):.3f} s")
    print(f"one credential helper process: {helper:.3f} s")


if __name__ == "__main__":
    main()
