"""A `probe` step: read a URL every interval until it answers steadily (a short wait within the run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import requests

from kcistage.core.model import format_time
from kcistage.core.progress import ProbeSeen, probe_check
from kcistage.core.settings import Step
from kcistage.shell import neterrors, stopping

REQUEST_TIMEOUT = 10.0  # seconds per probe request (bounded further by the interval)
POLL = 0.05  # seconds between looks at check() while waiting for the next read

Check = Callable[[], "str | None"]


def ask(url: str, timeout: float) -> tuple[int | None, str]:
    """Read `url` once: (HTTP status or None, the answer in words)."""
    try:
        with stopping.cut_short():  # SIGTERM ends the wait for a slow answer at once
            answer = requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return None, neterrors.describe(exc)
    answer.close()
    return answer.status_code, f"HTTP {answer.status_code}"


def run_probe(step: Step, log_path: Path, check: Check,
              clock: Callable[[], datetime]) -> tuple[str, ProbeSeen]:
    """Read the probe's URL until it is over; (result, what it showed). check() non-None
    interrupts it (result "interrupted")."""
    probe = step.probe
    assert probe is not None
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = clock()
    since: datetime | None = None
    timeout = max(0.5, min(REQUEST_TIMEOUT, probe.interval.total_seconds()))
    with open(log_path, "ab") as log:
        while True:
            status, answer = ask(probe.url, timeout)
            seen = probe_check(probe, started, since, clock(), status, answer)
            log.write(f"{format_time(clock())} probe {probe.url}: {answer}\n".encode())
            log.flush()
            if seen.result is not None:
                log.write(f"=== step {step.name}: {seen.result} ({seen.summary})\n".encode())
                return str(seen.result), seen
            since = seen.stable_since
            wake = time.monotonic() + probe.interval.total_seconds()
            while time.monotonic() < wake:
                reason = check()
                if reason is not None:
                    return "interrupted", ProbeSeen(None, since, f"interrupted: {reason}")
                time.sleep(min(POLL, max(0.0, wake - time.monotonic())))
