"""serve reads the history file beside the state file, cached like the state by (mtime, size, inode)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kcistage.core import paths
from kcistage.shell import historyfile
from kcistage.web.application import StateReader
from tests.web.conftest import NOW, deployment, recorded_state, write_site


def test_the_reader_sees_the_history_and_rereads_it_only_when_it_changes(tmp_path: Path) -> None:
    cfg = write_site(tmp_path / "site", state=recorded_state(deployments=40))
    history = paths.history_file(cfg.state_file)
    on_disk = json.loads(cfg.state_file.read_text())["deployments"]
    assert history.exists() and len(on_disk) < 10  # the write split it
    reader = StateReader(cfg.state_file, lambda: NOW)
    first = reader.read()
    assert first.state is not None
    assert [d["id"] for d in first.state["deployments"]] == list(range(1, 44))
    assert reader.read() is first  # nothing changed: not parsed again
    historyfile.append(history, [deployment(90, "partial", "success", 10, 1)])  # as a run would
    again = reader.read()
    assert again is not first and again.state is not None
    assert again.state["deployments"][-1]["id"] == 90


def test_a_polling_tick_marking_the_state_file_does_not_reparse_the_history(
        tmp_path: Path, monkeypatch) -> None:
    cfg = write_site(tmp_path / "site", state=recorded_state(deployments=40))
    reads = []
    real_read = historyfile.read
    monkeypatch.setattr(historyfile, "read", lambda path: reads.append(path) or real_read(path))
    reader = StateReader(cfg.state_file, lambda: NOW)
    first = reader.read()
    stamp = cfg.state_file.stat().st_mtime + 60
    os.utime(cfg.state_file, (stamp, stamp))  # what a polling tick does every minute
    again = reader.read()
    assert again is not first and again.state == first.state
    assert reads == [paths.history_file(cfg.state_file)]  # the history was read once
    historyfile.append(paths.history_file(cfg.state_file), [deployment(90, "partial", "success", 10, 1)])
    assert reader.read().state["deployments"][-1]["id"] == 90
    assert len(reads) == 2
