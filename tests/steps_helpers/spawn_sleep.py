"""Step helper: start a `sleep` grandchild, write its pid to the file given, then hang.

With a second argument "ignore-term" both this process and the grandchild ignore SIGTERM,
so only SIGKILL of the whole group ends them.
"""
import signal
import subprocess
import sys
import time
from pathlib import Path

ignore = len(sys.argv) > 2 and sys.argv[2] == "ignore-term"
if ignore:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child as ignored
child = subprocess.Popen(["sleep", "60"])
Path(sys.argv[1]).write_text(str(child.pid))
print("spawned", child.pid, flush=True)
while True:
    time.sleep(0.05)
