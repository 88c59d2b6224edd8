"""SIGTERM through the real CLI: the run ends within 5 s whatever it waits for (a GitHub that
answers in 8 s included), and a deployment that received it is never recorded a success."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kcistage.sandbox.sandbox import Sandbox
from kcistage.shell.statefile import pid_alive
from tests.app.test_e2e_deploy import API, base_deploy, cli_argv, started, step_results, wait_for

HELPER = Path(__file__).resolve().parents[1] / "steps_helpers" / "hold_until_term.py"
SLOW_GITHUB = 8.0  # seconds each answer takes once GitHub is slowed (the issue saw 3-12 s)
LIMIT = 5.0  # seconds from SIGTERM to the end of the run


def start(box: Sandbox, *args: str) -> subprocess.Popen:
    return subprocess.Popen(cli_argv(box, *args), cwd=box.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def term_while_github_is_slow(box: Sandbox, proc: subprocess.Popen, timeout: float,
                              what: str) -> tuple[float, str, str]:
    """Make every GitHub answer take SLOW_GITHUB seconds, wait until the run sends a request
    (now held by the slow GitHub), then SIGTERM it: `term_and_time`'s answer. GitHub is fast
    again afterwards, whatever happened."""
    seen = len(box.hub.requests)
    box.hub.slow_next(1000, SLOW_GITHUB)
    try:
        wait_for(lambda: len(box.hub.requests) > seen, timeout=timeout, what=what)
        return term_and_time(proc)
    finally:
        box.hub.clear_faults()


def term_and_time(proc: subprocess.Popen) -> tuple[float, str, str]:
    """SIGTERM the run; (seconds until it ended, stdout, stderr). Killed after 30 s."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return time.monotonic() - sent, out, err


def test_sigterm_while_a_running_deployment_repolls_a_slow_github(box: Sandbox) -> None:
    base_deploy(box)
    box.open_pr(API, 8, "broonie", {".demo/slow-restart-api": "30\n", "api/models.py": "M = 8\n"})
    box.tick()
    box.advance(31)
    proc = start(box, "tick")
    step = wait_for(lambda: started(box, 2, "restart-api"), timeout=30, what="the slow step")[0]
    try:
        # the watch re-polls every 0.3 s: its request is then held by the slow GitHub
        seconds, out, err = term_while_github_is_slow(box, proc, 10, "a re-poll of GitHub")
    finally:
        if pid_alive(step["pid"]):
            os.killpg(step["pid"], signal.SIGKILL)
            pytest.fail("the step outlived SIGTERM to kcistage")
    assert seconds < LIMIT, f"SIGTERM took {seconds:.1f}s to end the run: {out} {err}"
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    record = box.state()["deployments"][-1]
    assert record["id"] == 2 and record["result"] == "interrupted", record
    assert step_results(record)["restart-api"] == "interrupted"
    # the next run ends the commit status the stopping run could not write
    assert box.tick().code == 0
    for _number, head in record["target"][API]["prs"]:
        assert box.hub.statuses[head][-1]["state"] != "pending", box.hub.statuses[head]


def test_sigterm_while_a_tick_polls_a_slow_github(box: Sandbox) -> None:
    base_deploy(box)
    box.open_pr(API, 8, "broonie", {"api/models.py": "M = 8\n"})
    before = (box.root / "state" / "state.json").read_bytes()
    proc = start(box, "tick")
    seconds, out, err = term_while_github_is_slow(box, proc, 20, "the tick's poll")
    assert seconds < LIMIT, f"SIGTERM took {seconds:.1f}s to end the run: {out} {err}"
    assert proc.returncode == 1, (out, err)
    assert err.strip() == "kcistage: stopped by SIGTERM", err
    assert (box.root / "state" / "state.json").read_bytes() == before  # nothing half-saved
    assert box.tick().code == 0  # the next tick does the work


@pytest.mark.parametrize("mode", ["exit0", "die"])
def test_sigterm_to_the_whole_group_as_the_last_step_ends_is_never_a_success(
        tmp_path: Path, mode: str) -> None:
    """systemd's KillMode=control-group (or a terminal's Ctrl-C) signals kcistage and its step
    at once: a step that exits 0 on SIGTERM, or dies of it, made the deployment a success or a
    failure (starting a culprit search); it was interrupted."""
    hold, marker = tmp_path / "hold", tmp_path / "marker"
    steps: list[dict[str, Any]] = [{"name": "restart-api", "cwd": "kernelci-api",
                                    "run": [sys.executable, str(HELPER), str(hold), str(marker), mode]}]
    with Sandbox(tmp_path / "sb", overrides={"steps": steps}) as sandbox:
        _whole_group_stopped(sandbox, hold, marker)


def _whole_group_stopped(sandbox: Sandbox, hold: Path, marker: Path) -> None:
    base_deploy(sandbox)
    hold.touch()
    proc = start(sandbox, "deploy")
    try:
        pgid = int(wait_for(lambda: marker.exists() and marker.read_text(), timeout=30,
                            what="the step holding").split()[0])
        os.killpg(pgid, signal.SIGTERM)  # the step first, then kcistage: the step's end races
        seconds, out, err = term_and_time(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seconds < LIMIT
    record = sandbox.state()["deployments"][-1]
    assert record["id"] == 2 and record["result"] == "interrupted", (record, out, err)
    assert step_results(record)["restart-api"] in ("ok", "interrupted")
    assert "search" not in record and not sandbox.state().get("search"), "a culprit search began"
    assert proc.returncode == 1 and "Traceback" not in err


# -- SIGKILL the instant a step appears: the recovery still finds and stops it ----------------

KILLS = int(os.environ.get("KCISTAGE_TEST_KILLS", "9"))  # 60 by hand: all recovered
# The step kills kcistage (its parent) as it starts, after a delay of 0 to a few milliseconds,
# then becomes a long sleep: the kill lands before, during or after kcistage records the
# step's process group. The sleep's pid is left in a file named by the deployment.
KILLER = ('echo $$ > "$KCISTAGE_WORKDIR/orphan-$KCISTAGE_DEPLOY_ID"; '
          'd=$((KCISTAGE_DEPLOY_ID % 3)); [ "$d" -gt 0 ] && sleep "0.00$d"; '
          'kill -9 "$PPID"; exec sleep 120')


def running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's reaper may take its time)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False


def test_sigkill_the_instant_a_step_appears_never_leaves_it_running(tmp_path: Path) -> None:
    """Each `kcistage deploy` recovers the previous one (killed by its step) and is killed in
    turn; after each recovery the previous step must be gone (it was left running 3 of 60)."""
    steps = [{"name": "restart-api", "cwd": "kernelci-api", "run": ["sh", "-c", KILLER]}]
    with Sandbox(tmp_path / "sb", overrides={"steps": steps}) as sandbox:
        work = sandbox.root / "work"
        left: list[int] = []
        try:
            for n in range(1, KILLS + 2):
                proc = subprocess.run(cli_argv(sandbox, "deploy"), cwd=sandbox.root, timeout=60,
                                      capture_output=True, text=True, stdin=subprocess.DEVNULL)
                if n > 1:  # this run recovered deployment n - 1 before being killed itself
                    orphan = int((work / f"orphan-{n - 1}").read_text())
                    if running(orphan):
                        left.append(n - 1)
                        os.kill(orphan, signal.SIGKILL)
                if n <= KILLS:
                    assert proc.returncode == -signal.SIGKILL, (proc.stdout, proc.stderr)
            assert left == [], f"steps of deployments {left} outlived the recovery"
        finally:
            for path in work.glob("orphan-*"):
                pid = int(path.read_text() or 0)
                if pid and pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_sigterm_while_notify_on_failure_runs(tmp_path: Path) -> None:
    """notify.on_failure may take up to 5 minutes: SIGTERM ends it and the run at once."""
    hold, marker = tmp_path / "hold", tmp_path / "marker"
    failing = Path(__file__).resolve().parents[1] / "steps_helpers" / "exit_code.py"
    overrides: dict[str, Any] = {
        "steps": [{"name": "restart-api", "cwd": "kernelci-api",
                   "run": [sys.executable, str(failing), "0"]}],
        "notify": {"on_failure": [sys.executable, str(HELPER), str(hold), str(marker), "die"]}}
    with Sandbox(tmp_path / "sb", overrides=overrides) as sandbox:
        base_deploy(sandbox)
        overrides["steps"][0]["run"][-1] = "3"  # the step fails from now on
        sandbox.overrides = overrides
        sandbox.write_config()
        hold.touch()
        proc = start(sandbox, "deploy")
        try:
            pid = int(wait_for(lambda: marker.exists() and marker.read_text(), timeout=30,
                               what="notify.on_failure running").split()[1])
            seconds, out, err = term_and_time(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        alive = running(pid)  # (in kcistage's process group: only the process itself is killed)
        if alive:
            os.kill(pid, signal.SIGKILL)
        assert seconds < LIMIT, f"SIGTERM took {seconds:.1f}s to end the run: {out} {err}"
        assert not alive, "notify.on_failure outlived kcistage"
        assert sandbox.state()["deployments"][-1]["result"] == "failed"  # it had failed already
        assert "Traceback" not in err
