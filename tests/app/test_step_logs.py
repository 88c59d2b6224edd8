"""Step logs live exactly as long as their deployments: the run that trims the history removes them."""

from __future__ import annotations

import re
from pathlib import Path

from kcistage.core import paths
from kcistage.sandbox.sandbox import Sandbox
from kcistage.shell.steps import remove_logs


def log_ids(workdir: Path) -> list[int]:
    return sorted(int(p.name) for p in paths.logs(workdir).iterdir())


def test_logs_of_trimmed_deployments_are_removed(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", overrides={"history": 2}) as box:
        workdir = box.config().workdir
        for n in (1, 2):
            assert box.deploy(full=True).code == 0
            assert log_ids(workdir) == list(range(1, n + 1))
        assert box.deploy(full=True).code == 0  # deployment 3 pushes 1 out of the history
        assert [d["id"] for d in box.state()["deployments"]] == [2, 3]
        assert log_ids(workdir) == [2, 3]
        assert (paths.log_folder(workdir, 3) / "restart-api.log").is_file()


def test_a_dry_run_removes_nothing(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", overrides={"history": 1}) as box:
        assert box.deploy(full=True).code == 0
        workdir = box.config().workdir
        assert box.deploy(full=True, dry_run=True).code == 0
        assert log_ids(workdir) == [1]


def test_leftovers_of_an_interrupted_trim_go_with_the_next_one(tmp_path: Path) -> None:
    for n in (1, 2, 3, 5, 6):
        paths.log_folder(tmp_path, n).mkdir(parents=True)
        paths.log_path(tmp_path, n, "api").write_text("output\n")
    (paths.logs(tmp_path) / "notes").mkdir()  # not a deployment's folder: left alone
    # 1 and 2 left the history earlier but a killed run never removed them; now 3 leaves.
    assert remove_logs(tmp_path, gone=[3], kept=[5, 6]) == [1, 2, 3]
    assert sorted(p.name for p in paths.logs(tmp_path).iterdir()) == ["5", "6", "notes"]
    assert remove_logs(tmp_path, gone=[], kept=[5, 6]) == []
    assert remove_logs(tmp_path / "nowhere", gone=[4], kept=[]) == []


def test_step_log_lines_carry_the_runs_clock(tmp_path: Path) -> None:
    # `--now` (the sandbox, the demo) sets the time of every line kcistage writes, so a step's
    # lines sit with the test kernel's and the probes' in one time line under `kcistage log`.
    with Sandbox(tmp_path / "sb") as box:
        assert box.deploy(full=True).code == 0
        log = (paths.log_folder(box.config().workdir, 1) / "restart-api.log").read_text()
        stamps = re.findall(r"^=== (\S+) ", log, re.MULTILINE)
        assert len(stamps) == 3, log  # the attempt begins, the attempt ends, the step's result
        day = box.clock().date().isoformat()  # 2026-01-05: never this machine's date
        assert all(stamp.startswith(day) for stamp in stamps), log
