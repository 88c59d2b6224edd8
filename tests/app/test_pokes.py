"""A run consumes the webhook pokes that were waiting when it started, and only those."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kcistage.app.engine import run
from kcistage.core.settings import Config
from kcistage.errors import LockHeld
from kcistage.shell import pokes, statefile
from kcistage.shell.clock import Clock
from kcistage.shell.config import load_config

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def config(tmp_path: Path) -> Config:
    (tmp_path / "config.yaml").write_text(
        "state_file: state.json\nworkdir: work\nserve: {poke_dir: pokes}\n"
        "repos:\n  - {name: kernelci-api, github: kernelci/kernelci-api}\n")
    return load_config(tmp_path / "config.yaml")


def test_a_run_removes_the_pokes_of_before_and_keeps_those_that_came_during(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    folder = cfg.serve.poke_dir
    pokes.write(folder, "before-1")
    pokes.write(folder, "before-2")

    def action(ctx) -> int:
        pokes.write(folder, "during")  # a webhook while the tick runs: the next tick is wanted
        return 0

    assert run(cfg, Clock(NOW), action) == 0
    assert pokes.waiting(folder) == ["during"]


def test_pokes_are_consumed_when_another_run_holds_the_lock(tmp_path: Path) -> None:
    # the running deployment polls GitHub itself; a poke left here would restart ticks forever
    cfg = config(tmp_path)
    pokes.write(cfg.serve.poke_dir, "while-deploying")
    with statefile.Lock(cfg.state_file), pytest.raises(LockHeld):
        run(cfg, Clock(NOW), lambda ctx: 0)
    assert pokes.waiting(cfg.serve.poke_dir) == []


def test_a_dry_run_leaves_the_pokes(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    pokes.write(cfg.serve.poke_dir, "waiting")
    run(cfg, Clock(NOW), lambda ctx: 0, dry_run=True)
    assert pokes.waiting(cfg.serve.poke_dir) == ["waiting"]


def test_a_temp_file_of_a_killed_writer_goes_once_it_is_stale(tmp_path: Path) -> None:
    folder = tmp_path / "pokes"
    folder.mkdir()
    (folder / ".poke-fresh").write_text("")
    (folder / ".poke-stale").write_text("")
    old = time.time() - 3600
    os.utime(folder / ".poke-stale", (old, old))
    pokes.remove(folder, pokes.waiting(folder))
    assert pokes.waiting(folder) == [".poke-fresh"]
    assert pokes.delivered(folder) == []


def test_a_missing_poke_folder_is_nothing_to_consume(tmp_path: Path) -> None:
    assert pokes.waiting(tmp_path / "absent") == []
    pokes.remove(tmp_path / "absent", ["x"])
    with pytest.raises(ValueError):
        pokes.write(tmp_path, "../escape")
