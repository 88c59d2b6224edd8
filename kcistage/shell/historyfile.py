"""The history file beside the state file: finished deployments, one JSON record a line.

The state file keeps the deployments a run decides on (`core/history.hot`); the others are
appended here, oldest first, by the run holding the lock, and read by `status`, `log` and
`serve`. Appends are durable (fsync); a torn last line (a run killed while appending) is ignored
by readers and cut by the next append, and its record is still in the state file, which is
written after the append. A line that cannot be read is reported (file and line) and skipped;
the next trim moves it aside to `<name>.corrupt.<UTC time>`, so nothing is lost.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kcistage.core.state import DeploymentRecord
from kcistage.errors import StateError
from kcistage.shell.atomic import append_durably, write_atomic

_RECORD = ("id", "cycle", "trigger", "result", "started", "finished", "target", "steps")


def encode(record: DeploymentRecord) -> bytes:
    """One line: compact JSON with `id` first (a reader can find a record without parsing all)."""
    data = {"id": record["id"], **{k: v for k, v in sorted(record.items()) if k != "id"}}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8") + b"\n"


@dataclass
class History:
    """What the history file holds: its records (oldest first, one per id) and what could not
    be read (one line each, naming the file and the line)."""

    records: list[DeploymentRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)  # 1-based numbers of unreadable lines


def _parse(line: bytes) -> DeploymentRecord | str:
    """A line's record, or why it is not one."""
    try:
        data: Any = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return "not valid JSON"
    if not isinstance(data, dict):
        return "not a JSON object"
    missing = [key for key in _RECORD if key not in data]
    if missing:
        return f'a record without "{missing[0]}"'
    if not isinstance(data["id"], int) or isinstance(data["id"], bool):
        return 'a record whose "id" is not an integer'
    return cast(DeploymentRecord, data)


def parse(path: Path, raw: bytes) -> History:
    """The history in `raw` (the bytes of the file at `path`, named in problems)."""
    history = History()
    by_id: dict[int, DeploymentRecord] = {}
    lines = raw.split(b"\n")
    for number, line in enumerate(lines[:-1], 1):  # the piece after the last newline is torn
        if not line.strip():
            continue
        record = _parse(line)
        if isinstance(record, str):
            history.problems.append(f"{path} line {number}: {record}: skipped "
                                    "(the next trim moves it aside)")
            history.bad_lines.append(number)
            continue
        by_id[record["id"]] = record  # a record appended twice (a killed run): the last wins
    history.records = [by_id[key] for key in sorted(by_id)]
    return history


def read(path: Path) -> History:
    """Read the whole history file (missing: empty)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return History()
    except OSError as exc:
        raise StateError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse(path, raw)


_ID = re.compile(rb'\{"id":(-?[0-9]+),')
_BLOCK = 1 << 16


def read_newest(path: Path, count: int) -> History:
    """The newest `count` records, read from the end of the file (what `status` shows, without
    parsing years of history). The trim keeps the file in id order; when its last lines are not
    (a run killed between an append and the trim), the whole file is read instead."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, read from its end
    except FileNotFoundError:
        return History()
    except OSError as exc:
        raise StateError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        end = start = os.fstat(handle.fileno()).st_size
        tail = b""
        while start > 0 and tail.count(b"\n") <= count:
            start = max(0, start - _BLOCK)
            handle.seek(start)
            tail = handle.read(end - start)
    if start > 0:  # the first line is cut: whole lines only
        tail = tail[tail.find(b"\n") + 1:]
    lines = [line for line in tail.split(b"\n")[:-1] if line.strip()][-count:] if count > 0 else []
    ids = [int(m.group(1)) for line in lines if (m := _ID.match(line))]
    records = [r for line in lines if not isinstance(r := _parse(line), str)]
    if len(records) < len(lines) or ids != sorted(set(ids)) or len(ids) < len(lines):
        whole = read(path)  # unreadable or out of order: the slow, exact way (lines named)
        whole.records = whole.records[-count:] if count > 0 else []
        return whole
    return History(records=records)


def append(path: Path, records: list[DeploymentRecord]) -> None:
    """Append finished deployments durably (the caller holds the run lock)."""
    if records:
        append_durably(Path(path), b"".join(encode(r) for r in records))


@dataclass
class Trimmed:
    """What a trim did: the ids that left the history, the ids it still holds, and lines for
    the operator (unreadable lines moved aside)."""

    gone: list[int]
    kept: list[int]
    notes: list[str]


def _move_aside(path: Path, lines: list[bytes], now: datetime) -> Path:
    """Keep unreadable lines in `<name>.corrupt.<UTC time>` next to the history file."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt.{stamp}")
    n = 1
    while target.exists():  # never overwrite evidence
        target = path.with_name(f"{path.name}.corrupt.{stamp}.{n}")
        n += 1
    write_atomic(target, b"".join(line + b"\n" for line in lines))
    return target


def slack(capacity: int) -> int:
    """How many records over `capacity` the file may hold before a trim rewrites it (10%): a
    deployment that ends appends its line, and the whole file is rewritten once every so many
    deployments instead of at each."""
    return max(capacity, 0) // 10


def _untrimmed(raw: bytes, capacity: int, hot: set[int]) -> list[int] | None:
    """The ids of a file a trim may leave as it is (at most `capacity` plus its slack records,
    one line each, ids ascending, none held by the state file), found without parsing the
    records; None when it needs the full trim."""
    lines = raw.split(b"\n")
    if len(lines) - 1 > max(capacity, 0) + slack(capacity) or lines[-1]:
        return None
    ids = []
    for line in lines[:-1]:
        match = _ID.match(line)
        if match is None or not line.endswith(b"}"):
            return None
        ids.append(int(match.group(1)))
    if any(a >= b for a, b in zip(ids, ids[1:], strict=False)) or not hot.isdisjoint(ids):
        return None
    return ids


def trim(path: Path, capacity: int, now: datetime, hot: set[int], *, amortized: bool = False) -> Trimmed:
    """Keep the newest `capacity` records (one line per id, ids in `hot` dropped: the state
    file holds them) and rewrite the file atomically when anything changes; unreadable lines go
    to a file of their own. `amortized`: leave a file that holds no more than `slack` records
    over `capacity`, in order, as it is (an unreadable line waits for the next real trim;
    readers skip it meanwhile). The caller holds the run lock."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Trimmed([], [], [])
    except OSError as exc:
        raise StateError(f"{path}: cannot read: {exc.strerror}") from exc
    if amortized and (ids := _untrimmed(raw, capacity, hot)) is not None:
        return Trimmed([], ids, [])
    history = parse(path, raw)
    lines = raw.split(b"\n")
    notes: list[str] = []
    if history.bad_lines:
        moved = _move_aside(path, [lines[n - 1] for n in history.bad_lines], now)
        notes.append(f"{path}: {len(history.bad_lines)} unreadable line(s) "
                     f"({', '.join(map(str, history.bad_lines[:5]))}) moved aside to {moved.name}")
    records = [r for r in history.records if r["id"] not in hot]
    cut = max(len(records) - max(capacity, 0), 0)
    gone, records = [r["id"] for r in records[:cut]], records[cut:]
    data = b"".join(encode(r) for r in records)
    if data != raw:
        write_atomic(path, data)
    return Trimmed(gone, [r["id"] for r in records], notes)

