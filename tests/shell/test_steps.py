"""Tests of the step runner: real subprocesses, process groups, and drains over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

import pytest

from kcistage.core.settings import Drain, Step
from kcistage.shell.steps import (
    MARKER_VARIABLE,
    StepRun,
    marked_processes,
    parse_count,
    poll_drain,
    run_step,
    stop_marked,
)

HELPERS = Path(__file__).resolve().parents[1] / "steps_helpers"
PY = sys.executable


def _step(*args: str, timeout: float = 10, retries: int = 0, name: str = "s") -> Step:
    return Step(name=name, run=(PY, str(HELPERS / args[0]), *args[1:]),
                timeout=timedelta(seconds=timeout), retries=retries)


def never() -> None:
    return None


def _alive(pid: int) -> bool:
    """True if the process exists and is not a zombie waiting to be reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def _wait_for(path: Path, seconds: float = 5) -> None:
    end = time.monotonic() + seconds
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < end, f"{path} never written"
        time.sleep(0.02)


def _gone(pid: int, seconds: float = 10) -> bool:  # returns as soon as it is gone
    end = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


# -- run steps -------------------------------------------------------------------------------

def test_ok_step_logs_header_and_output(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "deep" / "s.log"
    step = _step("exit_code.py", "0")
    run = run_step(step, tmp_path, dict(os.environ), log, never)
    assert run == StepRun("ok", run.seconds, 1, "exit 0")
    assert 0 < run.seconds < 5
    text = log.read_text()
    first = text.splitlines()[0]
    assert repr(list(step.run)) in first and repr(str(tmp_path)) in first
    assert "attempt 1/1" in first and "20" in first  # an ISO date (20xx-...)
    assert "to stdout" in text and "to stderr" in text
    assert text.index("to stdout") > text.index(first)


def test_failed_step_reports_exit_code(tmp_path: Path) -> None:
    run = run_step(_step("exit_code.py", "3"), None, dict(os.environ), tmp_path / "l", never)
    assert (run.result, run.attempts, run.detail) == ("failed", 1, "exit 3")


def test_missing_program_fails(tmp_path: Path) -> None:
    step = Step(name="x", run=(str(tmp_path / "no-such-program"),))
    run = run_step(step, None, dict(os.environ), tmp_path / "l", never)
    assert run.result == "failed" and "cannot run" in run.detail


def test_retries_until_success_log_appended(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    log = tmp_path / "l"
    run = run_step(_step("fail_once.py", str(counter), retries=2), None, dict(os.environ), log,
                   never)
    assert (run.result, run.attempts) == ("ok", 2)
    assert counter.read_text() == "2"  # no third run after the success
    text = log.read_text()
    assert "attempt 1/3" in text and "attempt 2/3" in text and "attempt 3/3" not in text
    assert text.index("run 1") < text.index("attempt 2/3") < text.index("run 2")


def test_retries_exhausted(tmp_path: Path) -> None:
    run = run_step(_step("exit_code.py", "4", retries=2), None, dict(os.environ),
                   tmp_path / "l", never)
    assert (run.result, run.attempts, run.detail) == ("failed", 3, "exit 4")
    assert (tmp_path / "l").read_text().count("to stdout") == 3


def test_env_and_cwd_passed_as_given(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "KCISTAGE_CYCLE": "partial", "ODD": "a b;$(x)"}
    run = run_step(_step("show_env.py", "KCISTAGE_CYCLE", "ODD", "HOME"), tmp_path, env,
                   tmp_path / "l", never)
    assert run.result == "ok"
    text = (tmp_path / "l").read_text()
    assert f"cwd={tmp_path}" in text
    assert "KCISTAGE_CYCLE=partial" in text and "ODD=a b;$(x)" in text
    assert "HOME=<unset>" in text  # nothing added to the env given


def test_timeout_kills_whole_group_including_grandchild(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    # 2 s: time for the helper to start its grandchild even on a busy machine
    run = run_step(_step("spawn_sleep.py", str(pidfile), timeout=2, retries=1), None,
                   dict(os.environ), tmp_path / "l", never, grace=0.2)
    assert (run.result, run.attempts) == ("timeout", 2)  # a timeout is retried
    assert run.detail == "timed out after 2s"
    assert time.monotonic() - started < 15
    assert _gone(int(pidfile.read_text()))
    assert "spawned" in (tmp_path / "l").read_text()


def test_sigterm_ignored_escalates_to_sigkill(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    run = run_step(_step("spawn_sleep.py", str(pidfile), "ignore-term", timeout=1.5), None,
                   dict(os.environ), tmp_path / "l", never, grace=0.2)
    assert run.result == "timeout"
    assert _gone(int(pidfile.read_text()))


def test_check_interrupts_and_kills_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    calls = []

    def check() -> str | None:
        calls.append(1)
        return "restart" if pidfile.exists() and pidfile.read_text() else None

    run = run_step(_step("spawn_sleep.py", str(pidfile), timeout=30, retries=3), None,
                   dict(os.environ), tmp_path / "l", check, grace=0.2)
    assert run == StepRun("interrupted", run.seconds, 1, "interrupted: restart")  # no retry
    assert run.seconds < 5 and len(calls) > 1
    assert _gone(int(pidfile.read_text()))


def test_interrupted_before_start_runs_nothing(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    run = run_step(_step("fail_once.py", str(counter)), None, dict(os.environ),
                   tmp_path / "l", lambda: "shutdown")
    assert (run.result, run.attempts, run.detail) == ("interrupted", 0, "interrupted: shutdown")
    assert not counter.exists()


def test_exception_in_kcistage_kills_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def check() -> str | None:
        if pidfile.exists() and pidfile.read_text():
            raise RuntimeError("kcistage broke")
        return None

    with pytest.raises(RuntimeError):
        run_step(_step("spawn_sleep.py", str(pidfile)), None, dict(os.environ),
                 tmp_path / "l", check, grace=0.2)
    assert _gone(int(pidfile.read_text()))


# -- drain steps -----------------------------------------------------------------------------

class _Counts:
    """Answers served in order (the last one repeats) and the queries received."""

    def __init__(self, answers: list[str]):
        self.answers = answers
        self.queries: list[dict[str, str]] = []


@pytest.fixture()
def server() -> Iterator[tuple[str, _Counts]]:
    state = _Counts(["0"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            state.queries.append(dict(parse_qsl(urlparse(self.path).query)))
            body = state.answers.pop(0) if len(state.answers) > 1 else state.answers[0]
            code = 500 if body == "<500>" else 200
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/latest/count", state
    httpd.shutdown()
    httpd.server_close()


def _drain(url: str, timeout: float = 2, on_timeout: str = "fail") -> Step:
    return Step(name="drain-queue", drain=Drain(
        url=url, params=(("state", "running"), ("kind", "job")),
        interval=timedelta(seconds=0.05), timeout=timedelta(seconds=timeout),
        on_timeout=on_timeout))


def test_drain_asked_once_per_check(tmp_path: Path, server: tuple[str, _Counts]) -> None:
    url, state = server
    state.answers = ["2", "1\n", "0"]
    found = [poll_drain(_drain(url), tmp_path / "d.log") for _ in range(3)]
    assert found == [(2, "count 2"), (1, "count 1"), (0, "count 0")]
    assert state.queries == [{"state": "running", "kind": "job"}] * 3
    log = (tmp_path / "d.log").read_text()
    assert [line.split(": ")[-1] for line in log.splitlines()] == ["count 2", "count 1", "count 0"]


def test_drain_json_count_and_bad_answers(tmp_path: Path, server: tuple[str, _Counts]) -> None:
    url, state = server
    state.answers = ['{"count": 3}', "<500>", "not a number", '{"other": 1}', '{"count": 0}']
    found = [poll_drain(_drain(url), tmp_path / "d.log") for _ in range(5)]
    assert [count for count, _ in found] == [3, None, None, None, 0]
    assert found[1][1] == "HTTP 500" and "unparseable" in found[2][1]
    log = (tmp_path / "d.log").read_text()
    assert "count 3" in log and "HTTP 500" in log and "unparseable" in log


def test_drain_unreachable_counts_as_not_drained(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/count"
    count, answer = poll_drain(_drain(url, timeout=0.3), tmp_path / "d.log")
    assert count is None and "unreachable" in answer
    assert "unreachable" in (tmp_path / "d.log").read_text()


def test_a_drain_step_is_not_run_as_a_command(tmp_path: Path, server: tuple[str, _Counts]) -> None:
    url, state = server
    run = run_step(_drain(url), None, {}, tmp_path / "d.log", never)
    assert run.result == "failed" and state.queries == []  # the engine checks drains between runs


@pytest.mark.parametrize("body, count", [
    ("0", 0), (" 12\n", 12), ('{"count": 4}', 4), ("7", 7), ('{"count": "4"}', None),
    ("true", None), ('{"count": true}', None), ("", None), ("[1]", None), ("1.5", None),
])
def test_parse_count(body: str, count: int | None) -> None:
    assert parse_count(body) == count


def _exec_done(pid: int) -> None:
    """Wait until the kernel shows the new program's environment: Popen returns at exec's point of
    no return, a moment before /proc/<pid>/environ is filled in (seen once on a loaded machine)."""
    deadline = time.monotonic() + 10
    while not Path(f"/proc/{pid}/environ").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_processes_are_found_and_stopped_by_the_run_marker_alone(tmp_path: Path) -> None:
    """A step's processes whose process group nobody recorded: found by KCISTAGE_RUN."""
    marker = uuid.uuid4().hex
    env = {**os.environ, MARKER_VARIABLE: marker}
    marked = [subprocess.Popen(["sleep", "60"], env=env, start_new_session=True),
              subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
                               env=env, start_new_session=True)]
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, MARKER_VARIABLE: "other"},
                             start_new_session=True)
    try:
        for proc in [*marked, other]:
            _exec_done(proc.pid)
        assert sorted(marked_processes(marker)) == sorted(p.pid for p in marked)
        assert stop_marked(marker, grace=0.5) == 2
        for proc in marked:
            assert proc.wait(timeout=5) < 0  # stopped by a signal, the stubborn one by SIGKILL
        assert other.poll() is None and marked_processes(marker) == []
        assert stop_marked(marker) == 0
    finally:
        for proc in [*marked, other]:
            proc.kill()
            proc.wait()
