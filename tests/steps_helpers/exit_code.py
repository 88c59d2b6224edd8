"""Step helper: print to stdout and stderr, then exit with the code given (default 0)."""
import sys

print("to stdout", flush=True)
print("to stderr", file=sys.stderr, flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
