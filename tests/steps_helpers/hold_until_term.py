"""Step helper: when the file HOLD exists, write "<process group id> <pid>" to MARKER and wait for
SIGTERM; then exit 0 ("graceful": as a daemon does) or die of it ("die"). Else exit 0 at once.

`python hold_until_term.py HOLD MARKER exit0|die`
"""
import os
import signal
import sys
import time
from pathlib import Path

hold, marker, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if not hold.exists():
    sys.exit(0)
if mode == "exit0":
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
tmp = marker.with_suffix(".tmp")
tmp.write_text(f"{os.getpgid(0)} {os.getpid()}")
tmp.rename(marker)  # whole or absent: the test reads it as soon as it appears
while True:
    time.sleep(0.05)
