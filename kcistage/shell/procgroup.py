"""Child processes in a process group of their own, stopped as a whole (steps and git alike)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any


def signal_group(pgid: int, sig: int) -> None:
    """Send `sig` to a whole process group; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM the process group `proc` leads, wait up to `grace`, then SIGKILL what is left.

    `proc` must have been started with start_new_session=True (it is its group's leader)."""
    pgid = proc.pid
    signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # Children may ignore SIGTERM or outlive the leader: the group gets SIGKILL regardless.
    signal_group(pgid, signal.SIGKILL)
    proc.wait()
