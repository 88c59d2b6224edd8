"""Runs one deployment step: an argv in its own process group (timeout, retries, log); asks a drain URL once."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import requests

from kcistage.core import paths
from kcistage.core.durations import human
from kcistage.core.model import format_time
from kcistage.core.settings import Drain, Step
from kcistage.shell import neterrors, stopping
from kcistage.shell.procgroup import signal_group, stop_group

GRACE = 5.0  # seconds between SIGTERM and SIGKILL of a step's process group
STOP_GRACE = 2.0  # the same when kcistage itself is stopping: the run ends within 5 s
POLL = 0.05  # seconds between checks of a running step
REQUEST_TIMEOUT = 10.0  # seconds per drain HTTP request

Check = Callable[[], "str | None"]


@dataclass(frozen=True)
class StepRun:
    """The outcome of one step."""

    result: str  # "ok" | "failed" | "timeout" | "interrupted"
    seconds: float
    attempts: int
    detail: str  # "exit 3", "timed out after 20m", "interrupted: restart", "drained", ...


def _wall() -> datetime:
    """The wall clock: log lines' time when the caller gives no clock."""
    return datetime.now(UTC)


def _note(log: IO[bytes], text: str) -> None:
    """Append one line to the step log, flushed so it precedes the child's output."""
    log.write(f"{text}\n".encode())
    log.flush()


def _attempt(step: Step, cwd: Path | None, env: dict[str, str], log: IO[bytes], check: Check,
             grace: float, on_start: Callable[[int], None] | None = None) -> tuple[str, str]:
    """One run of the step's argv; returns (result, detail)."""
    assert step.run is not None
    limit = step.timeout.total_seconds()
    try:
        proc = subprocess.Popen(list(step.run), cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError as exc:
        return "failed", f"cannot run {step.run[0]!r}: {exc.strerror or exc}"
    if on_start is not None:
        on_start(proc.pid)
    deadline = time.monotonic() + limit
    try:
        while True:
            code = proc.poll()
            if code is not None:
                if code == 0:
                    return "ok", "exit 0"
                if code < 0:
                    return "failed", f"killed by signal {-code}"
                return "failed", f"exit {code}"
            reason = check()
            if reason is not None:
                stop_group(proc, grace if stopping.reason() is None else min(grace, STOP_GRACE))
                return "interrupted", f"interrupted: {reason}"
            if time.monotonic() >= deadline:
                stop_group(proc, grace)
                return "timeout", f"timed out after {human(limit)}"
            time.sleep(POLL)
    finally:
        # kcistage itself failed (exception, KeyboardInterrupt): never leave the step running.
        if proc.poll() is None:
            stop_group(proc, min(grace, 1.0))


def _run_argv(step: Step, cwd: Path | None, env: dict[str, str], log: IO[bytes], check: Check,
              grace: float, on_start: Callable[[int], None] | None,
              clock: Callable[[], datetime]) -> tuple[str, int, str]:
    """Run the argv with retries; returns (result, attempts, detail)."""
    total = step.retries + 1
    result, detail, attempt = "failed", "not run", 0
    for attempt in range(1, total + 1):
        reason = check()
        if reason is not None:
            return "interrupted", attempt - 1, f"interrupted: {reason}"
        _note(log, f"=== {format_time(clock())} step {step.name} attempt {attempt}/{total}: "
                   f"argv={list(step.run or ())!r} cwd={str(cwd) if cwd else None!r}")
        started = time.monotonic()
        result, detail = _attempt(step, cwd, log=log, env=env, check=check, grace=grace,
                                  on_start=on_start)
        _note(log, f"=== {format_time(clock())} attempt {attempt}: {result} ({detail}) "
                   f"after {time.monotonic() - started:.1f}s")
        if result in ("ok", "interrupted"):
            break
    return result, attempt, detail


def parse_count(body: str) -> int | None:
    """The queue count in a drain answer (bare integer or {"count": N}); None if unparseable."""
    text = body.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict):
        data = data.get("count")
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    return None


def _poll_count(drain: Drain) -> tuple[int | None, str]:
    """Ask the drain URL once: (count or None, what to log)."""
    try:
        with stopping.cut_short():  # SIGTERM ends the wait for a slow answer at once
            answer = requests.get(drain.url, params=list(drain.params), timeout=REQUEST_TIMEOUT)
    except requests.RequestException as exc:
        return None, f"unreachable ({neterrors.describe(exc)})"
    if answer.status_code != 200:
        return None, f"HTTP {answer.status_code}"
    count = parse_count(answer.text)
    if count is None:
        return None, f"unparseable answer {answer.text[:80]!r}"
    return count, f"count {count}"


def probe_count(drain: Drain, timeout: float = REQUEST_TIMEOUT) -> tuple[int | None, bool, str]:
    """Ask a drain URL once (for `check`): (count or None, whether it answered, what it said)."""
    try:
        answer = requests.get(drain.url, params=list(drain.params), timeout=timeout)
    except requests.RequestException as exc:
        return None, False, f"unreachable ({neterrors.describe(exc)})"
    if answer.status_code != 200:
        return None, True, f"HTTP {answer.status_code}"
    count = parse_count(answer.text)
    if count is None:
        return None, True, f"unparseable answer {answer.text[:80]!r}"
    return count, True, f"count {count}"


def poll_drain(step: Step, log_path: Path, clock: Callable[[], datetime] = _wall
               ) -> tuple[int | None, str]:
    """Ask a drain step's URL once, noting the answer in the step log: (count or None, answer).

    A drain waits between runs (the engine records the wait): one question per check."""
    drain = step.drain
    assert drain is not None
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    count, note = _poll_count(drain)
    with open(log_path, "ab") as log:
        _note(log, f"{format_time(clock())} step {step.name}: drain {drain.url} params={list(drain.params)!r}: "
                   f"{note}")
    return count, note


def run_step(step: Step, cwd: Path | None, env: dict[str, str], log_path: Path, check: Check,
             *, grace: float = GRACE, on_start: Callable[[int], None] | None = None,
             clock: Callable[[], datetime] = _wall) -> StepRun:
    """Run a step's argv (with retries), logging to log_path; check() non-None interrupts it.

    on_start(pid) is told each attempt's process group id, so that a later run can stop a group
    whose kcistage was killed (SIGKILL cannot be caught). Log lines carry clock()'s time."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "ab") as log:
        if step.run:
            result, attempts, detail = _run_argv(step, cwd, env, log, check, grace, on_start,
                                                  clock)
        else:
            result, attempts, detail = "failed", 0, "the step has no command to run"
        _note(log, f"=== {format_time(clock())} step {step.name}: {result} ({detail})")
    return StepRun(result=result, seconds=round(time.monotonic() - started, 3),
                   attempts=attempts, detail=detail)


def boot_id() -> str:
    """This boot's id: a process group id recorded before a reboot means nothing after it."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def stop_orphan(pgid: int, grace: float = GRACE) -> bool:
    """Stop a step's process group left behind by a killed kcistage; True if one was there."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(POLL)
    signal_group(pgid, signal.SIGKILL)
    return True


MARKER_VARIABLE = "KCISTAGE_RUN"  # in every step's environment: the deployment's run marker


def marked_processes(marker: str, proc: Path = Path("/proc")) -> list[int]:
    """The processes whose environment holds KCISTAGE_RUN=<marker> (this user's: others' are
    unreadable), found without any record of their process group."""
    wanted = f"{MARKER_VARIABLE}={marker}".encode()
    found = []
    for entry in os.scandir(proc):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = Path(entry.path, "environ").read_bytes()
            except OSError:  # gone meanwhile, or another user's
                continue
            if wanted in environ.split(b"\0"):
                found.append(int(entry.name))
    return found


def stop_marked(marker: str, grace: float = GRACE) -> int:
    """Stop every process a killed kcistage's steps left behind, found by the run marker in
    their environment, each with its process group; returns how many were found."""
    found = marked_processes(marker)
    own = os.getpgid(0)  # never ours, even if a marked process sits in it
    for pid in found:
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if pgid != own:
            signal_group(pgid, signal.SIGTERM)
        else:
            _signal_pid(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while found and time.monotonic() < deadline and marked_processes(marker):
        time.sleep(POLL)
    for pid in marked_processes(marker):  # what ignored SIGTERM
        _signal_pid(pid, signal.SIGKILL)
    return len(found)


def _signal_pid(pid: int, sig: int) -> None:
    """Send `sig` to one process; one already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def remove_logs(workdir: Path, gone: list[int], kept: list[int]) -> list[int]:
    """Remove the step logs of deployments that left the history; returns the ids removed.

    Every log folder numbered at most the newest id in `gone` and not in `kept` goes, so a run
    killed between saving the state and removing the logs leaves nothing for ever: the next
    trim takes its leftovers too. A folder that cannot be removed is tried again then.
    """
    if not gone:
        return []
    newest_gone, keep = max(gone), set(kept)
    folder = paths.logs(Path(workdir))
    try:
        names = os.listdir(folder)
    except OSError:
        return []  # no logs at all (every deployment skipped its steps, or none ran)
    removed = []
    for name in names:
        if name.isdigit() and int(name) <= newest_gone and int(name) not in keep:
            shutil.rmtree(folder / name, ignore_errors=True)
            if not (folder / name).exists():
                removed.append(int(name))
    return sorted(removed)
