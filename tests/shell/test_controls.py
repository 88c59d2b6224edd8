"""shell/controls.py: the controls file, its own lock, atomic writes; independent of the run lock."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kcistage.core import controls, paths
from kcistage.errors import StateError
from kcistage.shell import controls as store
from kcistage.shell.statefile import Lock

AT = "2026-11-26T11:00:00+00:00"


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert store.load(tmp_path / "state.json") == controls.empty()


def test_update_writes_atomically_with_mode_0600(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    store.update(state, lambda d: controls.pause(d, "alice", AT, "why"))
    path = paths.controls_file(state)
    assert path.stat().st_mode & 0o777 == 0o600
    assert store.load(state)["paused"] == {"by": "alice", "at": AT, "reason": "why"}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_works_while_the_run_lock_is_held(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Lock(state):
        store.update(state, lambda d: controls.exclude(d, "kernelci-api#3", "bob", AT, ""))
    assert "kernelci-api#3" in store.load(state)["excluded"]


def test_waits_for_its_own_lock_then_gives_up(tmp_path: Path, monkeypatch) -> None:
    state = tmp_path / "state.json"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(30)\n",
         str(paths.controls_lock(state))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(store, "LOCK_WAIT", 0.2)
        with pytest.raises(StateError, match="still locked after 0.2s"):
            store.update(state, controls.resume)
    finally:
        holder.kill()
        holder.wait()
    store.update(state, controls.resume)  # the dead holder's lock died with it


def test_a_broken_file_is_a_one_line_error(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    paths.controls_file(state).write_text("{not json")
    with pytest.raises(StateError, match=r"state.json.controls: not valid JSON"):
        store.load(state)
    paths.controls_file(state).write_text('{"version": 1, "paused": 3}')
    with pytest.raises(StateError, match=r"paused: expected an object"):
        store.load(state)


def test_lock_is_not_the_run_lock(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert paths.controls_lock(state) != paths.lock_file(state)
    fd = os.open(paths.lock_file(state), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        store.update(state, lambda d: controls.pause(d, "a", AT, None))
    finally:
        os.close(fd)
