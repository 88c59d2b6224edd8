"""Benchmark (not collected by pytest): `kcistage serve` on loopback.

1. webhook accept latency (p50/p99) with 50 concurrent senders against a real `kcistage serve`
   process (goal: <= 20 ms / <= 100 ms);
2. status page with 300 open PRs and 500 deployments: building it in process, and GET / over
   HTTP (goal: <= 100 ms);
3. from an accepted delivery to the start of the tick it causes, kcistage-poke.path emulated by
   a watcher that starts `kcistage tick` when the poke folder is not empty (goal: <= 2 s).

Run: python tests/benchmarks/bench_serve.py [DELIVERIES_PER_SENDER]
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.web` when run as a script

from kcistage.app.status_document import status_document
from kcistage.sandbox.sandbox import Sandbox
from kcistage.sandbox.webhooks import SandboxServe, pull_request_event
from kcistage.shell import pokes, statefile
from kcistage.web import page
from tests.web.conftest import NOW, recorded_state, sign, write_site

SENDERS = 50


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def start_serve(config: Path, now: str | None = None) -> tuple[subprocess.Popen, int]:
    """`kcistage serve --listen 127.0.0.1:0` as its own process; its port."""
    argv = [sys.executable, "-m", "kcistage", "--config", str(config)]
    if now:
        argv += ["--now", now]
    proc = subprocess.Popen(argv + ["serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    line = proc.stdout.readline() if proc.stdout else ""
    port = int(line.split("listening on http://127.0.0.1:")[1].split("/")[0])
    return proc, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def webhook_latency(per_sender: int, bursts: bool) -> None:
    """50 sender threads posting deliveries on a new connection each (as GitHub does), as raw
    bytes so that the senders' own Python costs little. `bursts`: 50 deliveries at the same
    instant, then a pause, `per_sender` times; else each sender posts back to back (saturation).
    The site lives on tmpfs when there is one, as /run/kcistage/pokes does on a server."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        cfg = write_site(Path(tmp))
        proc, port = start_serve(cfg.path)
        body = b'{"action": "synchronize", "number": 1}'
        signature = sign(body)

        def request(delivery: str) -> bytes:
            return (f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Type: application/json\r\nX-GitHub-Event: pull_request\r\n"
                    f"X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {signature}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body

        barrier = threading.Barrier(SENDERS)

        def send(n: int) -> list[float]:
            wires = [request(f"bench-{n}-{k}") for k in range(per_sender)]
            times = []
            barrier.wait()
            for wire in wires:
                if bursts:
                    barrier.wait()
                started = time.perf_counter()
                with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                    conn.sendall(wire)
                    answer = conn.recv(4096)
                times.append(time.perf_counter() - started)
                assert answer.startswith(b"HTTP/1.1 202 "), answer[:40]
                if bursts:
                    barrier.wait()
                    time.sleep(0.1)
            return times

        try:
            cpu = cpu_seconds(proc.pid)
            with ThreadPoolExecutor(max_workers=SENDERS) as pool:
                wall = time.perf_counter()
                samples = sorted(t for chunk in pool.map(send, range(SENDERS)) for t in chunk)
                wall = time.perf_counter() - wall
            cpu = cpu_seconds(proc.pid) - cpu
        finally:
            proc.terminate()
            proc.wait(10)
        left = len(pokes.delivered(cfg.serve.poke_dir))
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    how = (f"{per_sender} bursts of {SENDERS} simultaneous deliveries" if bursts else
           f"{SENDERS} senders back to back, {len(samples)} deliveries, "
           f"{len(samples) / wall:.0f}/s")
    print(f"webhook accept, {how}: p50 {ms(statistics.median(samples))}, p99 {ms(p99)}, "
          f"max {ms(samples[-1])}; serve's CPU {ms(cpu / len(samples))} per delivery; "
          f"{left} of {len(samples)} pokes there (none lost)")


def page_render() -> None:
    """status_document + page.render in process, then GET / from a real serve process."""
    state = recorded_state(prs=300, deployments=500)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_site(Path(tmp), state=state)
        loaded = statefile.load_full(cfg.state_file, NOW)
        rounds = 20
        started = time.perf_counter()
        for _ in range(rounds):
            html = page.render(status_document(cfg, loaded, NOW), loaded["deployments"])
        build = (time.perf_counter() - started) / rounds
        proc, port = start_serve(cfg.path, NOW.isoformat())
        try:
            samples = []
            for i in range(rounds + 1):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                started = time.perf_counter()
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - started
                conn.close()
                assert resp.status == 200
                if i:  # the first request parses the state file; the others hit the cache
                    samples.append(elapsed)
                else:
                    first = elapsed
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"status page, 300 PRs + 500 deployments ({len(html) // 1024} KiB): built in "
          f"{ms(build)}; GET / {ms(statistics.median(samples))} median, first (state parsed) "
          f"{ms(first)}; {len(body) // 1024} KiB")


def delivery_to_tick(rounds: int) -> None:
    """A real serve (in process) and sandbox, a watcher playing kcistage-poke.path."""
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "sb") as box, \
            SandboxServe(box) as web:
        box.tick()  # the first, slow poll is not what is measured
        lock = box.config().state_file.with_name("state.json.lock")
        spawned: list[float] = []
        locked: list[float] = []
        stop = threading.Event()

        def watcher() -> None:
            while not stop.is_set():
                if pokes.waiting(web.cfg.serve.poke_dir):
                    spawned.append(time.perf_counter())
                    tick = subprocess.Popen(
                        [sys.executable, "-m", "kcistage", "--config", str(box.config_path),
                         "--now", box.clock().isoformat(), "tick"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    while tick.poll() is None:  # the lock file gets the tick's pid once it runs
                        try:
                            if lock.read_text().strip() == str(tick.pid):
                                locked.append(time.perf_counter())
                                break
                        except OSError:
                            pass
                        time.sleep(0.002)
                    tick.wait()
                time.sleep(0.005)

        thread = threading.Thread(target=watcher, daemon=True)
        thread.start()
        sent_at = []
        for i in range(rounds):
            box.advance(2)
            delivery = web.deliver("pull_request", pull_request_event("kernelci-api", 1, "opened"))
            assert delivery.status == 202
            sent_at.append(delivery.started)
            deadline = time.monotonic() + 20
            while len(locked) <= i and time.monotonic() < deadline:
                time.sleep(0.01)
            while web.pokes() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.3)
        stop.set()
        thread.join(30)
    to_spawn = [s - t for s, t in zip(spawned, sent_at, strict=False)]
    to_lock = [s - t for s, t in zip(locked, sent_at, strict=False)]
    print(f"delivery -> tick, {rounds} rounds: watcher starts `kcistage tick` after "
          f"{ms(statistics.median(to_spawn))} (median), the tick holds the state lock after "
          f"{ms(statistics.median(to_lock))} median, {ms(max(to_lock))} max")


def main() -> None:
    per_sender = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    # 50 sender threads in one interpreter take turns holding the GIL, 5 ms each by default:
    # shorter turns so that what is measured is serve, not the senders waiting for each other.
    sys.setswitchinterval(0.0002)
    print(f"bench_serve on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    webhook_latency(per_sender, bursts=True)
    webhook_latency(per_sender, bursts=False)
    page_render()
    delivery_to_tick(5)


if __name__ == "__main__":
    main()
