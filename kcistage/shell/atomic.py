"""Durable file writes beside the state file: whole-file replacement and appends, with fsync."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from kcistage.errors import StateError


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` durably: 0600 temp file, fsync, rename, fsync of the folder.

    Unchanged content writes nothing (an idle tick: no write, no fsync, mtime unchanged)."""
    path = Path(path)
    folder = path.parent
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    tmp: str | None = None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        tmp = None
        fsync_dir(folder)
    except OSError as exc:
        raise StateError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def append_durably(path: Path, data: bytes) -> None:
    """Append `data` to `path` (created 0600) and fsync it; a torn last line left by a killed
    append (no final newline) is cut off first, so the new lines start on a line of their own."""
    path = Path(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                whole = os.pread(fd, size, 0)
                os.ftruncate(fd, whole.rfind(b"\n") + 1)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(path.parent)
    except OSError as exc:
        raise StateError(f"{path}: cannot append: {exc.strerror or exc}") from exc
