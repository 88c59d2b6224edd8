"""The state file: versioned JSON, atomic durable writes, a corrupt-file guard and the run lock;
finished deployments that decisions no longer read move to the history file (shell/historyfile.py)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kcistage.core import paths
from kcistage.core.history import hot
from kcistage.core.state import DeploymentRecord, State
from kcistage.errors import LockHeld, StateError
from kcistage.shell import historyfile
from kcistage.shell.atomic import fsync_dir, write_atomic

SCHEMA_VERSION = 1

# Expected JSON type of each top-level key (None is also accepted where the default is None).
_TYPES: dict[str, type] = {
    "version": int, "next_id": int, "deployments": list, "observed": dict,
    "changed_since": str, "commands": list, "bisect": dict, "prs": dict, "github": dict,
    "closed": dict,
}


_RECORD = ("id", "cycle", "trigger", "result", "started", "finished", "target", "steps")


def empty() -> State:
    """A fresh state: no deployments, nothing observed."""
    return {
        "version": SCHEMA_VERSION, "next_id": 1, "deployments": [], "observed": None,
        "changed_since": None, "commands": [], "bisect": None, "prs": {}, "github": {},
        "closed": {},  # records of closed PRs (most recently closed first to stay), for a reopen
    }


def _problem(data: Any) -> str | None:
    """Why parsed JSON is not a usable state (None when it is)."""
    if not isinstance(data, dict):
        return "not a JSON object"
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return 'no integer "version"'
    if version > SCHEMA_VERSION:
        return None  # reported separately: refused, never moved
    defaults: dict[str, Any] = dict(empty())
    for key, kind in _TYPES.items():
        if key not in data:
            continue
        value = data[key]
        if value is None and defaults[key] is None:
            continue
        # bool is an int subclass; a boolean id or version is still wrong
        if not isinstance(value, kind) or isinstance(value, bool):
            return f'"{key}" is not a JSON {kind.__name__.replace("dict", "object")}'
    for i, record in enumerate(data.get("deployments") or []):
        missing = [k for k in _RECORD if not isinstance(record, dict) or k not in record]
        if missing:
            return f'deployments[{i}] lacks "{missing[0]}"'
    return None


def _move_aside(path: Path, now: datetime) -> Path:
    """Rename an unusable state file to `<name>.corrupt.<UTC timestamp>` next to it."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt.{stamp}")
    n = 1
    while target.exists():  # two corrupt files within one second: never overwrite evidence
        target = path.with_name(f"{path.name}.corrupt.{stamp}.{n}")
        n += 1
    try:
        os.rename(path, target)
        fsync_dir(path.parent)
    except OSError as exc:
        raise StateError(f"{path}: unusable and cannot be moved aside: {exc.strerror}") from exc
    return target


def load(path: Path, now: datetime, readonly: bool = False) -> State:
    """Read the state file (missing: empty state); a corrupt one is moved aside, a newer one refused.

    `readonly=True` (status, log, --dry-run: no lock held) reports a corrupt file without touching it.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return empty()
    except OSError as exc:
        raise StateError(f"{path}: cannot read: {exc.strerror}") from exc
    what: str | None
    try:
        data = json.loads(raw)
        what = _problem(data)
    except json.JSONDecodeError as exc:
        data, what = None, f"not valid JSON (line {exc.lineno})"
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        data, what = None, f"not valid JSON (line {line})"
    if what is not None:
        if readonly:
            raise StateError(f"{path}: {what}; the next tick or deploy moves it aside")
        moved = _move_aside(path, now)
        raise StateError(f"{path}: {what}: moved aside to {moved.name}; starting fresh on the next run")
    if data["version"] > SCHEMA_VERSION:
        raise StateError(
            f"{path}: schema version {data['version']} is newer than this kcistage supports "
            f"({SCHEMA_VERSION}); refusing to touch it")
    # checked by _problem above: the known keys hold the right JSON types
    return cast(State, {**empty(), **data})


def dumps(state: State) -> bytes:
    """Deterministic, compact JSON bytes of a state (same state, same bytes), newline-terminated.

    Compact on purpose: without `indent` the json module uses its C encoder (several times
    faster on a large history), and the file is read by programs, not people."""
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.encode("utf-8") + b"\n"


@dataclass
class Saved:
    """What a save did to the history: the deployments that left it (their step logs go), every
    deployment still recorded (state and history file), and lines for the operator."""

    gone: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def save(path: Path, state: State, history: int, now: datetime | None = None) -> Saved:
    """Write the state file atomically, keeping in it only the deployments decisions read.

    The others (`core/history.hot` says which) are appended to the history file first, so a
    run killed in between leaves a record in both (readers take the state's) and never in
    neither; the history file then keeps the newest deployments up to `history` in all.
    `state["deployments"]` is cut in memory too.
    """
    path = Path(path)
    deployments = state.get("deployments") or []
    keep = hot(state)
    moving = [d for d in deployments if d["id"] not in keep]
    saved = Saved()
    if moving:
        where = paths.history_file(path)
        historyfile.append(where, moving)
        state["deployments"] = [d for d in deployments if d["id"] in keep]
        trimmed = historyfile.trim(where, history - len(state["deployments"]),
                                   now or datetime.now(UTC), keep, amortized=True)
        saved = Saved(trimmed.gone, sorted(trimmed.kept + [d["id"] for d in state["deployments"]]),
                      trimmed.notes)
    write_atomic(path, dumps(state))
    return saved


def holds_past(state: State) -> bool:
    """Whether the state holds deployments that belong in the history file (the next save moves them)."""
    return len(state["deployments"]) > len(hot(state))


def load_full(path: Path, now: datetime, warn: Callable[[str], None] | None = None,
              newest: int | None = None) -> State:
    """The state with every recorded deployment (history file and state, oldest first), read
    only: for `status`, `log` and `serve`; with `newest`, only that many from the history file
    (its end: what `status` shows) besides the state's. Unreadable history lines are skipped,
    each told to `warn` in one line naming the file and the line."""
    state = load(path, now, readonly=True)
    where = paths.history_file(Path(path))
    past = historyfile.read(where) if newest is None else historyfile.read_newest(where, newest)
    for problem in past.problems:
        if warn is not None:
            warn(problem)
    return merged(state, past.records)


def merged(state: State, past: list[DeploymentRecord]) -> State:
    """`state` with the history's records added (the state's copy of a record wins)."""
    if not past:
        return state
    current = {d["id"] for d in state["deployments"]}
    records = [r for r in past if r["id"] not in current] + state["deployments"]
    return cast(State, {**state, "deployments": sorted(records, key=lambda d: int(d["id"]))})


def mark_polled(path: Path, now: datetime) -> None:
    """Set the state file's mtime to `now`: a lock-holding run polled GitHub (no byte written).

    An idle tick leaves the file's content alone, so its mtime is how a reader (the web
    service's health check) tells when the last successful poll was."""
    stamp = now.timestamp()
    try:
        os.utime(path, (stamp, stamp))
    except FileNotFoundError:
        pass  # no state yet: the run's save creates it
    except OSError as exc:
        raise StateError(f"{path}: cannot set its time: {exc.strerror or exc}") from exc


def _backoff_path(state_path: Path) -> Path:
    """`state.json.backoff`: GitHub's rate-limit reset time, kept outside the state document."""
    return paths.backoff_file(Path(state_path))


def read_backoff(state_path: Path) -> datetime | None:
    """When GitHub said to come back (None if never, or if the file is unreadable)."""
    try:
        text = _backoff_path(state_path).read_text(encoding="ascii").strip()
        value = datetime.fromisoformat(text)
    except (OSError, ValueError):
        return None  # a lost backoff only costs one early poll
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def write_backoff(state_path: Path, until: datetime | None) -> None:
    """Remember a rate-limit reset time atomically (None forgets it)."""
    path = _backoff_path(state_path)
    if until is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StateError(f"{path}: cannot remove: {exc.strerror}") from exc
        return
    stamp = until.astimezone(UTC).isoformat(timespec="seconds")
    write_atomic(path, (stamp + "\n").encode("ascii"))


def read_rate(state_path: Path) -> dict[str, Any] | None:
    """The last recorded rate-limit figures ({"remaining", "limit", "reset"}), None if unknown."""
    try:
        data = json.loads(paths.rate_file(Path(state_path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_rate(state_path: Path, rate: dict[str, Any]) -> None:
    """Record rate-limit figures beside the state file (unchanged figures write nothing)."""
    text = json.dumps(rate, sort_keys=True) + "\n"
    write_atomic(paths.rate_file(Path(state_path)), text.encode("utf-8"))


# The files written atomically by lock holders only: their temporary files can be left by a
# killed run and removed by the next holder. (The controls file is written without the run lock:
# its temporary files may belong to a command running now, so they are never touched.)
_LOCKED_WRITES = ("", ".history", ".backoff", ".rate")
_TEMP_NAME = re.compile(r"[a-z0-9_]{8}")  # tempfile.mkstemp's random part


def remove_stale_temps(state_path: Path) -> list[Path]:
    """Remove `.state.json.<random>.tmp` files (and the backoff's and rate's) left by a killed
    run; the caller holds the run lock, so no run is writing them. Returns what was removed."""
    state_path = Path(state_path)
    removed = []
    try:
        names = os.listdir(state_path.parent)
    except OSError:
        return []
    for suffix in _LOCKED_WRITES:
        prefix = f".{state_path.name}{suffix}."
        for name in names:
            middle = name[len(prefix):-len(".tmp")]
            if name.startswith(prefix) and name.endswith(".tmp") and _TEMP_NAME.fullmatch(middle):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(state_path.parent / name)
                    removed.append(state_path.parent / name)
    return removed


class Lock:
    """The exclusive, non-blocking run lock beside the state file (`state.json.lock`).

    flock belongs to the open file, so a killed holder frees it; the pid inside is informational.
    """

    def __init__(self, state_path: Path):
        self.state_path = Path(state_path)
        self.path = paths.lock_file(self.state_path)
        self._fd: int | None = None
        self.removed: list[Path] = []  # stale temporary files removed on entry

    def _holder(self, fd: int) -> str:
        """The pid written by the current holder ("unknown" if it has not written it yet)."""
        for _ in range(5):  # the holder writes its pid just after locking: give it a moment
            try:
                text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            except OSError:
                return "unknown"
            if text.isdigit():
                return text
            time.sleep(0.01)
        return "unknown"

    def __enter__(self) -> Lock:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot open the lock file: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = self._holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockHeld(f"another kcistage run (pid {pid}) holds {self.path}") from None
            raise StateError(f"{self.path}: cannot lock: {exc.strerror}") from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:  # a full disk: stop before anything else is written
            os.close(fd)
            raise StateError(f"{self.path}: cannot write the pid: {exc.strerror}") from exc
        self._fd = fd
        self.removed = remove_stale_temps(self.state_path)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no stale pid left for the next reader
        os.close(fd)  # closing the last descriptor releases the flock


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (signal 0; EPERM still means it exists)."""
    if not isinstance(pid, int) or pid <= 0:
        return False  # kill(0) or negative pids would address whole process groups
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
