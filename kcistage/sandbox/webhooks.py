"""The sandbox's web side: a real `serve` on 127.0.0.1 and GitHub's side of a webhook delivery.

`deliver` signs and posts a delivery the way GitHub does; `wait_for_poke` plays the part of
kcistage-poke.path (a poke folder that is not empty starts a tick).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kcistage.sandbox.sandbox import OWNER, SECRET_FILE, Sandbox
from kcistage.shell import pokes
from kcistage.web.server import address, make_server, stop


@dataclass
class Delivery:
    """What serve answered to one delivery, and how long it took."""

    id: str
    status: int
    text: str
    seconds: float
    started: float  # time.perf_counter() when it was sent


class SandboxServe:
    """`kcistage serve` for the sandbox, in a thread, on a free port of 127.0.0.1."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.cfg = box.config()
        self.server, self.app = make_server(self.cfg, box.clock, "127.0.0.1:0")
        self.port = int(self.server.effective_port)
        self.url = address(self.server)
        self.secret = (box.root / SECRET_FILE).read_bytes().strip()
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> SandboxServe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.server)
        self._thread.join(5)

    def deliver(self, event: str, payload: dict[str, Any], delivery: str | None = None) -> Delivery:
        """Sign and POST a delivery as GitHub does (a new id unless redelivering one)."""
        body = json.dumps(payload).encode()
        delivery = delivery or str(uuid.uuid4())
        headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/sandbox",
                   "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
                   "X-Hub-Signature-256": "sha256=" + hmac.new(self.secret, body,
                                                               hashlib.sha256).hexdigest()}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        started = time.perf_counter()
        try:
            conn.request("POST", "/webhook", body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode().strip()
        finally:
            conn.close()
        return Delivery(delivery, resp.status, text, time.perf_counter() - started, started)

    def wait_for_poke(self, timeout: float = 5.0, interval: float = 0.01) -> list[str]:
        """What kcistage-poke.path does: wait until the poke folder is not empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = pokes.delivered(self.cfg.serve.poke_dir)
            if waiting:
                return waiting
            time.sleep(interval)
        return []

    def pokes(self) -> list[str]:
        """The pokes waiting now."""
        return pokes.delivered(self.cfg.serve.poke_dir)


def pull_request_event(repo: str, number: int, action: str) -> dict[str, Any]:
    """A pull_request payload shaped like GitHub's (serve reads nothing in it but its shape)."""
    return {"action": action, "number": number, "pull_request": {"number": number},
            "repository": {"full_name": f"{OWNER}/{repo}"}}
