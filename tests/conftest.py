"""Shared fixtures: a started offline Sandbox and a helper to run the real CLI as a subprocess."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pytest

from kcistage.sandbox.sandbox import Sandbox


def run_cli(config: Path, *args: str, now: datetime | None = None,
            env: Mapping[str, str] | None = None, timeout: float = 60.0,
            max_bytes: int | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m kcistage --config CONFIG [--now NOW] ARGS...`, captured as text.

    With max_bytes, no file the process writes may grow past it (a full disk, for real)."""
    argv = [sys.executable, "-m", "kcistage", "--config", str(config)]
    if now is not None:
        argv += ["--now", now.isoformat()]
    full_env = {k: v for k, v in os.environ.items() if k not in ("KCISTAGE_CONFIG", "KCISTAGE_NOW")}
    full_env.update(env or {})

    def limit() -> None:
        if max_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return subprocess.run(argv + list(args), capture_output=True, text=True, env=full_env,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False, cwd=cwd,
                          preexec_fn=limit if max_bytes is not None else None)


def deployments(box: Sandbox) -> list[dict]:
    """The deployment records in the sandbox's state file, oldest first."""
    return box.state()["deployments"]


def prime(box: Sandbox) -> dict:
    """The first tick is the first change; settle later the first (full) deployment runs."""
    first = box.tick()
    assert first.code == 0 and not deployments(box), first.lines
    box.advance(5)
    second = box.tick()
    assert second.code == 0, second.lines
    record = deployments(box)[-1]
    assert (record["id"], record["cycle"], record["result"]) == (1, "full", "success"), second.lines
    return record


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: two workers per core, unless PYTEST_XDIST_AUTO_NUM_WORKERS says otherwise.

    An end-to-end test spends most of its time waiting on the processes and loopback servers it
    started, so one worker per core leaves the cores idle half of the time."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return 2 * len(os.sched_getaffinity(0))


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A started Sandbox under tmp_path/sb (3 bare repos, the GitHub stand-in, config.yaml)."""
    box = Sandbox(tmp_path / "sb")
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def box(sandbox: Sandbox) -> Sandbox:
    """The plain sandbox, by the name the end-to-end tests use (a module may define its own)."""
    return sandbox


@pytest.fixture
def cli(sandbox: Sandbox) -> Callable[..., subprocess.CompletedProcess]:
    """run_cli bound to the sandbox's config, with --now at the sandbox clock unless given."""

    def call(*args: str, now: datetime | None = None, env: Mapping[str, str] | None = None,
             timeout: float = 60.0) -> subprocess.CompletedProcess:
        return run_cli(sandbox.config_path, *args, now=now or sandbox.clock(), env=env,
                       timeout=timeout)

    return call


def kill_tick_at(box: Sandbox, route: str) -> None:
    """Run a real `kcistage tick` and SIGKILL it once the stand-in has served `route` to it."""
    argv = [sys.executable, "-m", "kcistage", "--config", str(box.config_path),
            "--now", box.clock().isoformat(), "tick"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def kill(entry: dict) -> None:
        if entry["route"] == route:
            box.hub.on_served = None
            os.kill(proc.pid, signal.SIGKILL)  # the request was carried out; the state never hears

    box.hub.on_served = kill
    assert proc.wait(timeout=60) == -signal.SIGKILL
