"""Step helper: count runs in the file given; fail (exit 1) on the first run, succeed after."""
import sys
from pathlib import Path

counter = Path(sys.argv[1])
runs = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(runs))
print(f"run {runs}")
sys.exit(1 if runs == 1 else 0)
