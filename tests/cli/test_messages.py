"""What a new operator reads: a missing config, an empty state, a bad --now, help summaries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kcistage.core import paths
from kcistage.sandbox.sandbox import Sandbox


def kcistage(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("KCISTAGE_CONFIG", "KCISTAGE_NOW")}
    return subprocess.run([sys.executable, "-m", "kcistage", *args], cwd=cwd, capture_output=True,
                          text=True, env={**clean, **(env or {})}, timeout=60)


@pytest.mark.parametrize("option, environ, local, expected", [
    ("x.yaml", {"KCISTAGE_CONFIG": "/e.yaml"}, True, (Path("x.yaml"), "--config")),
    (None, {"KCISTAGE_CONFIG": "/e.yaml"}, True, (Path("/e.yaml"), "$KCISTAGE_CONFIG")),
    (None, {"KCISTAGE_CONFIG": ""}, True, (Path("config.yaml"), "./config.yaml")),
    (None, {}, False, (Path("/etc/kcistage/config.yaml"), "the default")),
])
def test_config_path_choice(option, environ, local, expected) -> None:
    assert paths.config_path(option, environ, local) == expected


def test_missing_config_names_the_absolute_path_and_the_default(tmp_path: Path) -> None:
    done = kcistage("--config", "nothere.yaml", "status", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (f"kcistage: {tmp_path / 'nothere.yaml'}: no such file (given with "
                           "--config; without it kcistage reads ./config.yaml when it exists, "
                           "else /etc/kcistage/config.yaml)\n")
    done = kcistage("status", cwd=tmp_path, env={"KCISTAGE_CONFIG": "env.yaml"})
    assert f"{tmp_path / 'env.yaml'}: no such file (from $KCISTAGE_CONFIG;" in done.stderr


def test_without_any_config_the_etc_default_is_tried(tmp_path: Path) -> None:
    if paths.DEFAULT_CONFIG.exists():
        pytest.skip(f"{paths.DEFAULT_CONFIG} exists on this machine")
    done = kcistage("status", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("kcistage: /etc/kcistage/config.yaml: no such file (the default")


def test_local_config_yaml_is_found(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb") as box:
        done = kcistage("status", "--json", cwd=box.root)  # box.root holds config.yaml
        assert done.returncode == 0, done.stderr


def test_empty_state_log_and_status_say_so(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb") as box:
        state_file = box.config().state_file
        done = kcistage("log", cwd=box.root)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"no deployment yet (state file {state_file}), so no step logs\n"
        done = kcistage("status", cwd=box.root)
        assert done.returncode == 0 and f"no poll recorded in {state_file} yet" in done.stdout
        assert kcistage("log", "3", cwd=box.root).returncode == 2  # a named one that is not there


def test_bad_now_names_the_option(tmp_path: Path) -> None:
    done = kcistage("--now", "yesterday", "tick", cwd=tmp_path)
    assert done.returncode == 2 and "--now" in done.stderr and "'yesterday'" in done.stderr
