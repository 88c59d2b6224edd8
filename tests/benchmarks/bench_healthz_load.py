"""Benchmark (not collected by pytest): `/healthz` of a real `kcistage serve` process while
250 connections stay idle and 200 clients send a request one byte a second (goal: every answer
under 1 s, none failing).

Run: python tests/benchmarks/bench_healthz_load.py [SECONDS]
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.web` when run as a script

from tests.benchmarks.bench_serve import start_serve
from tests.web.conftest import NOW, write_site

IDLE, SLOW = 250, 200


def healthz(port: int) -> tuple[float, int]:
    """One GET /healthz on a new connection: (seconds, status; 0 when it failed)."""
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
        conn.close()
    except OSError:
        status = 0
    return time.monotonic() - started, status


def sample(port: int, seconds: float) -> list[tuple[float, int]]:
    """/healthz asked back to back for `seconds`, 10 times a second at most."""
    found = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found.append(healthz(port))
        time.sleep(0.1)
    return found


def figures(name: str, found: list[tuple[float, int]]) -> None:
    times = sorted(t for t, _ in found)
    failed = sum(1 for _, status in found if status != 200)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{name:<44} n={len(found):<4} p50 {statistics.median(times) * 1000:7.1f} ms   "
          f"p99 {p99 * 1000:7.1f} ms   max {times[-1] * 1000:7.1f} ms   not 200: {failed}")


def main(seconds: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="kcistage-bench-healthz-"))
    write_site(root)
    proc, port = start_serve(root / "config.yaml", NOW.isoformat())
    sockets: list[socket.socket] = []
    done = threading.Event()
    try:
        figures("idle server", sample(port, 2))
        for _ in range(IDLE):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        figures(f"+ {IDLE} idle connections", sample(port, 2))
        slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(SLOW)]
        sockets += slow
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 10_000

        def drip() -> None:
            for i in range(len(request)):
                for conn in slow:
                    with contextlib.suppress(OSError):  # closed by serve: counted as it goes
                        conn.send(request[i:i + 1])
                if done.wait(1.0):
                    return

        threading.Thread(target=drip, daemon=True).start()
        figures(f"+ {SLOW} clients sending a byte a second", sample(port, seconds))
        print("(serve closes the idle connections after 30 s of silence; the slow ones, "
              "sending, stay open: a reverse proxy in front cuts them, see docs/web.md)")
    finally:
        done.set()
        for conn in sockets:
            conn.close()
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
