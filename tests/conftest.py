"""Shared fixtures: a started offline Sandbox and a helper to run the real CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pytest

from kcistage.sandbox.sandbox import Sandbox


def run_cli(config: Path, *args: str, now: datetime | None = None,
            env: Mapping[str, str] | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """`python -m kcistage.cli.main --config CONFIG [--now NOW] ARGS...`, captured as text."""
    argv = [sys.executable, "-m", "kcistage", "--config", str(config)]
    if now is not None:
        argv += ["--now", now.isoformat()]
    full_env = {k: v for k, v in os.environ.items() if k not in ("KCISTAGE_CONFIG", "KCISTAGE_NOW")}
    full_env.update(env or {})
    return subprocess.run(argv + list(args), capture_output=True, text=True, env=full_env,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


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
def cli(sandbox: Sandbox) -> Callable[..., subprocess.CompletedProcess]:
    """run_cli bound to the sandbox's config, with --now at the sandbox clock unless given."""

    def call(*args: str, now: datetime | None = None, env: Mapping[str, str] | None = None,
             timeout: float = 60.0) -> subprocess.CompletedProcess:
        return run_cli(sandbox.config_path, *args, now=now or sandbox.clock(), env=env,
                       timeout=timeout)

    return call
