"""A run always ends with one line and the right exit status, and its deployment always closes.

The real CLI against the offline sandbox: a workdir that is a file, a git error, a 401 on a
commit status in the middle of a deployment, a full disk at the lock, temp files left by a
killed run, an error kcistage has no class for.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
from click.testing import CliRunner

from kcistage.cli.main import Env, _Kcistage
from kcistage.sandbox.sandbox import Sandbox
from tests.conftest import run_cli

API = "kernelci-api"
STATUS_ROUTE = "POST /repos/{o}/{r}/statuses/{sha}"


def cli(box: Sandbox, *args: str, max_bytes: int | None = None) -> subprocess.CompletedProcess:
    """The real CLI at the sandbox clock (with max_bytes, no file it writes may grow past it)."""
    return run_cli(box.config_path, *args, now=box.clock(), timeout=90, max_bytes=max_bytes,
                   cwd=box.root)


def one_line(done: subprocess.CompletedProcess) -> str:
    """The run's error: exactly one line on stderr, no traceback."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("kcistage: ")
    return lines[0]


def closed(box: Sandbox) -> dict:
    """The last deployment: closed as interrupted, with its cause."""
    record = box.state()["deployments"][-1]
    assert record["result"] == "interrupted" and record["finished"] and record["error"], record
    assert record["step"] is None
    return record


def next_tick_is_clean(box: Sandbox) -> None:
    box.advance(1)
    lines = box.tick().lines
    assert not any("dead process" in line for line in lines), lines


def test_a_workdir_that_is_a_file(box: Sandbox) -> None:
    (box.root / "work").write_text("not a folder\n")
    done = cli(box, "deploy")
    assert done.returncode == 2, done.stderr
    line = one_line(done)
    assert line.startswith("kcistage: deployment 1 interrupted: ") and "Not a directory" in line
    assert str(box.root / "work") in line
    assert "Not a directory" in closed(box)["error"]
    verbose = cli(box, "-v", "deploy")
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr
    assert "NotADirectoryError" in verbose.stderr
    assert verbose.stderr.rstrip().splitlines()[-1].startswith("kcistage: deployment 2 interrupted")
    (box.root / "work").unlink()
    next_tick_is_clean(box)


def test_a_git_error_mid_deployment(box: Sandbox) -> None:
    assert box.deploy(full=True).code == 0
    lock = box.root / "work" / "repos" / API / ".git" / "index.lock"  # left by a killed git
    lock.write_text("")
    box.open_pr(API, 5, "broonie", {"api/main.py": "app = 5\n"})
    box.tick()
    box.advance(31)
    done = cli(box, "tick")
    assert done.returncode == 2, (done.stdout, done.stderr)
    line = one_line(done)
    assert "deployment 2 interrupted" in line and f"{API}: git checkout failed" in line
    assert "Another git process seems to be running" in closed(box)["error"]
    lock.unlink()
    next_tick_is_clean(box)


def test_a_401_on_a_status_write_mid_deployment(box: Sandbox) -> None:
    assert box.deploy(full=True).code == 0
    sha = box.open_pr(API, 5, "broonie", {"api/main.py": "app = 5\n"})
    box.open_pr(API, 6, "broonie", {"api/models.py": "MODELS = [6]\n"})
    box.tick()
    box.advance(31)
    box.hub.fail_next(1, status=401, verb=STATUS_ROUTE)  # the token is refused once, mid-way
    done = cli(box, "tick")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "401" in one_line(done) and "deployment 2 interrupted" in one_line(done)
    record = closed(box)
    assert "401" in record["error"] and record["steps"] == []  # no step ran after it
    other = box.state()["prs"][f"{API}#6"]["sha"]
    for head in (sha, other):  # GitHub answers again: no status is left pending
        states = [s["state"] for s in box.hub.statuses.get(head, [])]
        assert states and states[-1] != "pending", (head, states)
    next_tick_is_clean(box)


def test_a_full_disk_at_the_lock(box: Sandbox) -> None:
    assert box.deploy(full=True).code == 0
    state = box.root / "state" / "state.json"
    before = state.read_bytes()
    done = cli(box, "tick", max_bytes=0)  # the pid cannot be written into the lock file
    assert done.returncode == 2, (done.stdout, done.stderr)
    line = one_line(done)
    assert line == f"kcistage: {state}.lock: cannot write the pid: File too large"
    assert state.read_bytes() == before
    assert cli(box, "tick").returncode == 0


def test_stale_temp_files_are_removed_by_the_next_run_holding_the_lock(box: Sandbox) -> None:
    assert box.deploy(full=True).code == 0
    folder = box.root / "state"
    stale = [folder / ".state.json.k1ll3d_x.tmp", folder / ".state.json.backoff.abc_1234.tmp"]
    kept = [folder / ".state.json.controls.abcd1234.tmp",  # not written under the run lock
            folder / "notes.tmp", folder / ".state.json.lock"]
    for path in stale + kept:
        path.write_text("{")
    assert box.tick(dry_run=True).code == 0  # no lock: touches nothing
    assert all(path.exists() for path in stale)
    result = box.tick(verbose=True)
    assert result.code == 0
    assert not any(path.exists() for path in stale) and all(path.exists() for path in kept)
    assert any("removed 2 temporary file(s) left by a killed run" in line for line in result.lines)


def test_an_error_without_a_class_is_one_line_exit_1_and_a_traceback_only_with_v() -> None:
    @click.group(cls=_Kcistage)
    @click.option("-v", "verbose", is_flag=True)
    @click.pass_context
    def group(ctx: click.Context, verbose: bool) -> None:
        ctx.obj = Env("config.yaml", None, verbose)

    @group.command()
    def boom() -> None:
        {}["missing"]  # a bug

    @group.command()
    def path() -> None:
        Path("/proc/no/such/file").read_text()

    done = CliRunner().invoke(group, ["boom"])
    assert done.exit_code == 1
    assert done.output == ("kcistage: internal error: KeyError: 'missing' "
                           "(run with -v for the traceback)\n")
    done = CliRunner().invoke(group, ["-v", "boom"])
    assert done.exit_code == 1 and "Traceback" in done.output and "KeyError" in done.output
    done = CliRunner().invoke(group, ["path"])
    assert (done.exit_code, done.output) == (2, "kcistage: /proc/no/such/file: No such file or directory\n")

