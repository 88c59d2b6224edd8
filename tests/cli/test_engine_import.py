"""The engine is imported once per process with the garbage collector paused, its objects then
frozen out of later passes (cli/run.py's _engine), and the collector left as it was found."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc, sys
from kcistage.cli import run
enabled = {enabled}
if not enabled:
    gc.disable()
before = gc.get_freeze_count()
engine = run._engine()
frozen = gc.get_freeze_count() - before
assert engine is sys.modules["kcistage.app.engine"]
assert gc.isenabled() is enabled, "the collector is left as it was"
assert frozen > 10_000, f"only {{frozen}} objects frozen"
assert run._engine() is engine and gc.get_freeze_count() - before == frozen, "frozen once"
print(frozen)
"""


def probe(enabled: bool) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE.format(enabled=enabled)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_the_engine_s_objects_are_frozen_once_and_the_collector_restored() -> None:
    assert probe(True) > 10_000
    assert probe(False) > 10_000
