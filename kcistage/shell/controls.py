"""The operator controls file beside the state file: read it, or change it under its own short lock.

Never the run lock: `pause`, `exclude` and the others must work while a deployment holds that
one. Writes are atomic (temporary file, fsync, rename), so a reader sees the old or the new
document, never half of one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kcistage.core import controls, paths
from kcistage.errors import StateError
from kcistage.shell.atomic import write_atomic

LOCK_WAIT = 5.0  # seconds: the lock is only ever held for one read-modify-write


def load(state_file: Path) -> dict[str, Any]:
    """The controls next to `state_file` (none yet: the empty document)."""
    path = paths.controls_file(Path(state_file))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return controls.empty()
    except OSError as exc:
        raise StateError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return controls.validate(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StateError(f"{path}: not valid JSON; fix or remove it (it holds only pause and "
                         "exclusions by hand)") from None
    except controls.ControlsProblem as exc:
        raise StateError(f"{path}: {exc}") from None


def _lock(path: Path) -> int:
    """Take the controls lock (waiting at most LOCK_WAIT seconds); returns its descriptor."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"{path}: cannot open the lock file: {exc.strerror}") from exc
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise StateError(f"{path}: cannot lock: {exc.strerror}") from exc
            if time.monotonic() > deadline:
                os.close(fd)
                raise StateError(f"{path}: still locked after {LOCK_WAIT:g}s; try again") from None
            time.sleep(0.02)


def update(state_file: Path, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Read, change and write the controls under their lock; returns the new document."""
    state_file = Path(state_file)
    fd = _lock(paths.controls_lock(state_file))
    try:
        new = change(load(state_file))
        data = json.dumps(new, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
        write_atomic(paths.controls_file(state_file), data)
        _same_owner_as_folder(state_file)
        return new
    finally:
        os.close(fd)  # releases the flock


def _same_owner_as_folder(state_file: Path) -> None:
    """Run as root (`sudo kcistage pause`), hand the files to the state folder's owner, so the
    service (user kcistage) can still read them."""
    if os.geteuid() != 0:
        return
    try:
        folder = os.stat(state_file.parent)
        for path in (paths.controls_file(state_file), paths.controls_lock(state_file)):
            os.chown(path, folder.st_uid, folder.st_gid)
    except OSError as exc:
        raise StateError(f"{state_file.parent}: cannot hand the controls file to its owner: "
                         f"{exc.strerror}") from exc
