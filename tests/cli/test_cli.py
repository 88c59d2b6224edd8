"""The command line: help, version, exit codes, light imports, status and log on recorded states."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kcistage import __version__
from kcistage.cli.main import main
from kcistage.shell import statefile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def write_config(folder: Path, extra: str = "") -> Path:
    """A minimal valid config under `folder`."""
    path = folder / "config.yaml"
    path.write_text(
        "github: {api_url: 'http://127.0.0.1:9', token_env: KCISTAGE_TEST_TOKEN}\n"
        "state_file: state.json\nworkdir: work\n"
        "repos:\n  - {name: kernelci-api, github: kernelci/kernelci-api}\n"
        "steps:\n  - {name: api, run: [\"true\"], cwd: kernelci-api}\n" + extra)
    return path


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "kcistage", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=60)


@pytest.mark.parametrize("command", [[], ["tick"], ["deploy"], ["status"], ["demo"], ["log"]])
def test_help_works_for_every_command(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_help_names_options_and_exit_codes() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    for word in ("--config", "--now", "--verbose", "--version", "tick", "deploy", "status", "demo"):
        assert word in out
    assert "75" in out
    assert "--dry-run" in CliRunner().invoke(main, ["tick", "--help"]).output
    deploy_help = CliRunner().invoke(main, ["deploy", "--help"]).output
    assert "--full" in deploy_help and "--dry-run" in deploy_help
    assert "--json" in CliRunner().invoke(main, ["status", "--help"]).output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_and_status_do_not_import_pygithub(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    probe = ("import sys\nfrom kcistage.cli.main import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('GITHUB' if 'github' in sys.modules else 'NO-GITHUB')\n"
             "print('REQUESTS' if 'requests' in sys.modules else 'NO-REQUESTS')\n")
    for args in (["--help"], ["--config", str(cfg), "status"], ["--config", str(cfg), "status", "--json"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True,
                             timeout=60).stdout
        assert "NO-GITHUB" in out, args
        assert "NO-REQUESTS" in out, args


def test_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "schedule: {settle: soon}\n")
    result = run_cli("--config", str(cfg), "status")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.yaml" in lines[0] and "schedule.settle" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_config_exit_2(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "nope.yaml"), "tick")
    assert result.returncode == 2 and "nope.yaml" in result.stderr


def test_bad_now_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("--config", str(write_config(tmp_path)), "--now", "yesterday", "status")
    assert result.returncode == 2 and "--now" in result.stderr


def test_missing_token_exit_2_for_tick_but_status_needs_none(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "KCISTAGE_TEST_TOKEN"}
    tick = subprocess.run([sys.executable, "-m", "kcistage", "--config", str(cfg), "tick"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert tick.returncode == 2 and "token" in tick.stderr
    assert run_cli("--config", str(cfg), "status").returncode == 0


def test_corrupt_state_exit_2_moved_aside_by_tick_not_by_status(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    (tmp_path / "state.json").write_text("{not json")
    status = run_cli("--config", str(cfg), "status")
    assert status.returncode == 2 and "state.json" in status.stderr
    assert (tmp_path / "state.json").exists()
    tick = run_cli("--config", str(cfg), "tick", env={"KCISTAGE_TEST_TOKEN": "x"})
    assert tick.returncode == 2 and "corrupt" in tick.stderr
    assert not (tmp_path / "state.json").exists()
    assert len(list(tmp_path.glob("state.json.corrupt.*"))) == 1


def test_newer_state_refused_untouched(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    (tmp_path / "state.json").write_text('{"version": 99}')
    result = run_cli("--config", str(cfg), "tick", env={"KCISTAGE_TEST_TOKEN": "x"})
    assert result.returncode == 2 and "newer" in result.stderr
    assert (tmp_path / "state.json").read_text() == '{"version": 99}'


def test_lock_held_exit_75(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    with statefile.Lock(tmp_path / "state.json"):
        result = run_cli("--config", str(cfg), "tick", env={"KCISTAGE_TEST_TOKEN": "x"})
        assert result.returncode == 75 and str(os.getpid()) in result.stderr
        # status never takes the lock
        assert run_cli("--config", str(cfg), "status").returncode == 0


def test_unreachable_github_exit_3(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    result = run_cli("--config", str(cfg), "tick", env={"KCISTAGE_TEST_TOKEN": "x"})
    assert result.returncode == 3, result.stderr
    assert "GitHub" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state.json").exists()


def recorded_state(tmp_path: Path) -> Path:
    """The recorded state fixture copied next to a config."""
    state = json.loads((FIXTURES / "state_v1.json").read_text())
    (tmp_path / "state.json").write_text(json.dumps(state))
    return write_config(tmp_path)


def test_status_json_on_recorded_state(tmp_path: Path) -> None:
    cfg = recorded_state(tmp_path)
    result = run_cli("--config", str(cfg), "--now", "2026-01-05T12:00:00+00:00", "status", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"running", "paused", "next", "last", "prs"}
    assert doc["paused"] is None
    assert set(doc["next"]) == {"action", "at", "reason"}
    assert doc["next"]["action"] in ("none", "wait", "partial", "full")
    ids = [d["id"] for d in doc["last"]]
    assert ids == sorted(ids, reverse=True)
    for dep in doc["last"]:
        assert set(dep) == {"id", "cycle", "trigger", "result", "reason", "started", "finished", "prs",
                            "steps"}
        for ref in dep["prs"]:
            assert "#" in ref and len(ref.split("@")[1]) == 40
    for pr in doc["prs"]:
        assert set(pr) == {"repo", "number", "author", "sha", "state", "reason"}
        assert pr["state"] in ("deployed", "pending", "excluded", "skipped")


def test_status_plain_has_no_colour_codes(tmp_path: Path) -> None:
    cfg = recorded_state(tmp_path)
    result = run_cli("--config", str(cfg), "status")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "Next" in result.stdout


def test_log_shows_step_logs(tmp_path: Path) -> None:
    cfg = recorded_state(tmp_path)
    state = json.loads((tmp_path / "state.json").read_text())
    last = state["deployments"][-1]
    step = next(s["name"] for s in last["steps"] if s["result"] != "skipped")
    log = tmp_path / "work" / "logs" / str(last["id"]) / f"{step}.log"
    log.parent.mkdir(parents=True)
    log.write_text("hello from the step\n")
    result = run_cli("--config", str(cfg), "log")
    assert result.returncode == 0, result.stderr
    assert "hello from the step" in result.stdout
    result = run_cli("--config", str(cfg), "log", str(last["id"]), step)
    assert "hello from the step" in result.stdout
    missing = run_cli("--config", str(cfg), "log", "99999")
    assert missing.returncode == 2 and "99999" in missing.stderr
