"""A git remote's bad day through the real CLI: silent, refusing the push, a bad certificate.

The sandbox serves its repositories through `git http-backend` on 127.0.0.1 (sandbox/git_http.py)
and the GitHub stand-in answers the API; kcistage runs as a subprocess, as systemd runs it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcistage.sandbox.sandbox import Sandbox
from kcistage.shell.git_text import remote_host
from tests.conftest import run_cli
from tests.shell.test_git_remote_failures import _gone

API = "kernelci-api"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sb", git_http=True) as sandbox:
        sandbox.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
        yield sandbox


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    """The run's one stderr line (no traceback, nothing else), which stdout does not repeat."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert lines[0].startswith("kcistage: ")
    message = lines[0].removeprefix("kcistage: ")
    assert message not in done.stdout, done.stdout  # said once
    return message


def _closed(box: Sandbox) -> dict:
    record = box.state()["deployments"][-1]
    assert record["result"] == "interrupted" and record["finished"], record
    return record


@pytest.mark.parametrize("refusal", ["403", "protected", "certificate", "network"])
def test_a_refused_push_ends_the_run_with_one_line_exit_3(box: Sandbox, refusal: str) -> None:
    git = box.git_http
    assert git is not None
    if refusal == "403":
        git.read_only = {API}
    elif refusal == "protected":
        git.protect(API, "staging.kernelci.org")
    elif refusal == "certificate":  # the server now presents a certificate no client trusts
        git.stop()
        git.tls = True
        git.start()
        box.write_config()
    else:  # the git server is down (GitHub's API still answers)
        git.stop()
    done = run_cli(box.config_path, "deploy", now=box.clock(), timeout=120)
    assert done.returncode == 3, (done.stdout, done.stderr)
    message = _one_error_line(done)
    host = remote_host(git.url)
    # a certificate or an outage is the server's: the first repository built meets it
    repo = next(iter(box.trees)) if refusal in ("certificate", "network") else API
    assert message.startswith(f"{repo}: git "), message
    assert f"failed: {host}" in message, message
    reason = {"403": "answered 403: the credential may not write to kernelci/kernelci-api",
              "protected": "GH006: Protected branch update failed for "
                           "refs/heads/staging.kernelci.org",
              "certificate": "certificate",
              "network": "Failed to connect"}[refusal]
    assert reason in message, message
    assert git.url not in message
    assert _closed(box)["error"] == message  # the deployment says the same, closed


def test_a_silent_remote_ends_the_run_at_git_timeout(box: Sandbox) -> None:
    assert box.git_http is not None
    box.overrides = {"git_timeout": "2s"}
    box.write_config()
    box.git_http.hang[API] = ""
    started = time.monotonic()
    done = run_cli(box.config_path, "deploy", now=box.clock(), timeout=120)
    assert time.monotonic() - started < 60  # two 2 s bounds, on a busy machine
    assert done.returncode == 3, (done.stdout, done.stderr)
    message = _one_error_line(done)
    assert message.startswith(f"{API}: git ") and "timed out after 2s" in message, message
    assert remote_host(box.git_http.url) in message
    _closed(box)
    assert _gone(box.git_http.url)


def test_sigterm_ends_the_run_while_a_push_hangs(box: Sandbox) -> None:
    """The default git_timeout (minutes) is running out: SIGTERM still ends the run at once."""
    assert box.git_http is not None
    box.git_http.hang[API] = "git-receive-pack"
    argv = [sys.executable, "-m", "kcistage", "--config", str(box.config_path),
            "--now", box.clock().isoformat(), "deploy"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert box.git_http.hung.wait(60), "the push never reached the server"
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < 5, f"the run took {took:.1f}s to end after SIGTERM"
    assert proc.returncode == 1, (out, err)  # interrupted: this run's deployment did not succeed
    assert "Traceback" not in out + err
    assert "git push stopped: stopped by SIGTERM" in out
    record = _closed(box)
    assert record["steps"] == []
    assert _gone(box.git_http.url), "git outlived the run"
