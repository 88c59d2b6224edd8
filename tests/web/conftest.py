"""A running `serve` on 127.0.0.1 (waitress in a thread) over a recorded state, and a client."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kcistage.core.settings import Config
from kcistage.shell import statefile
from kcistage.shell.clock import Clock
from kcistage.shell.config import load_config
from kcistage.web.application import Application
from kcistage.web.server import make_server, stop

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = b"It's a Secret to Everybody"
SHA = "a" * 40
HOSTILE_TITLE = '<script>alert("x")</script> "quoted" \'single\' \x1b[31mred\x1b[0m & more'
HOSTILE_LOGIN = '"><img src=x onerror=alert(1)>'


def iso(delta_minutes: float = 0) -> str:
    return (NOW + timedelta(minutes=delta_minutes)).isoformat()


def deployment(ident: int, cycle: str, result: str, started: float, minutes: float,
               prs: list | None = None) -> dict[str, Any]:
    """A deployment record as the engine writes it (times in minutes relative to NOW)."""
    return {"id": ident, "cycle": cycle, "trigger": "change", "result": result,
            "started": iso(started), "finished": None if result == "running" else iso(started + minutes),
            "pid": None, "restarts": 0, "step": "api" if result == "running" else None,
            "heads": {}, "left_out": [],
            "target": {"kernelci-api": {"base": "e" * 40, "prs": prs or []}},
            "steps": [{"name": "api", "result": "ok" if result == "success" else "failed",
                       "seconds": minutes * 60, "reason": ""}]}


def pr(number: int, author: str, state: str, reason: str, title: str) -> dict[str, Any]:
    return {"repo": "kernelci-api", "number": number, "author": author, "sha": SHA,
            "base": "main", "draft": False, "labels": [], "updated_at": iso(-30), "title": title,
            "state": state, "reason": reason}


def recorded_state(prs: int = 0, deployments: int = 0) -> dict[str, Any]:
    """A state with a success, a failure, hostile PR titles and logins; optionally bigger."""
    state = statefile.empty()
    records = [deployment(1, "full", "success", -300, 95),
               deployment(2, "partial", "failed", -120, 6, [[12, SHA]]),
               deployment(3, "partial", "success", -60, 4, [[13, SHA]])]
    for i in range(deployments):
        records.append(deployment(4 + i, ("partial", "full")[i % 7 == 0],
                                  ("success", "failed", "interrupted")[i % 5 % 3], -50 + i * 0.05,
                                  3 + i % 40))
    state["deployments"] = records
    state["next_id"] = len(records) + 1
    state["observed"] = {"at": iso(-1), "target": {"kernelci-api": {"base": "e" * 40,
                                                                     "prs": [[13, SHA]]}}}
    state["prs"] = {
        "kernelci-api#12": pr(12, HOSTILE_LOGIN, "excluded", "culprit of deployment 2 <b>", HOSTILE_TITLE),
        "kernelci-api#13": pr(13, "nuclearcat", "pending", "trusted author", "api: models"),
    }
    state["prs"]["kernelci-api#12"]["cause"] = "culprit"
    for n in range(prs):
        state["prs"][f"kernelci-api#{100 + n}"] = pr(100 + n, "JenySadadia", "pending",
                                                    "trusted author", f"change {n}")
    return state


def write_site(root: Path, secret: bytes | None = SECRET, state: dict | None = None) -> Config:
    """config.yaml, the secret file and the state file under root; the loaded config."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["state_file: state/state.json", "workdir: work",
             "repos:", "  - {name: kernelci-api, github: kernelci/kernelci-api, base: main}",
             "serve:", "  listen: 127.0.0.1:0", "  poke_dir: pokes"]
    if secret is not None:
        (root / "secret").write_bytes(secret + b"\n")
        lines.append("  webhook_secret_file: secret")
    (root / "config.yaml").write_text("\n".join(lines) + "\n")
    cfg = load_config(root / "config.yaml")
    statefile.save(cfg.state_file, state if state is not None else recorded_state(), 500)
    return cfg


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass
class Site:
    """A serving site: its config, application, address and a small HTTP client."""

    cfg: Config
    app: Application
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def deliver(self, event: str, payload: Any, delivery: str, signature: str | None = "auto",
                extra: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST /webhook as GitHub does (signature 'auto': correct for SECRET; None: absent)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": event,
                   "X-GitHub-Delivery": delivery, "User-Agent": "GitHub-Hookshot/test"}
        if signature == "auto":
            headers["X-Hub-Signature-256"] = sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        headers.update(extra or {})
        status, _, text = self.request("POST", "/webhook", body, headers)
        return status, text

    def pokes(self) -> list[str]:
        folder = self.cfg.serve.poke_dir
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def start_site(cfg: Config, clock=None) -> tuple[Site, Any, threading.Thread]:
    server, app = make_server(cfg, clock or Clock(NOW))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return Site(cfg, app, "127.0.0.1", server.effective_port), server, thread


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """`serve` with a webhook secret over the recorded state, clock at NOW."""
    running, server, thread = start_site(write_site(tmp_path / "site"))
    try:
        yield running
    finally:
        stop(server)
        thread.join(5)
        assert not thread.is_alive()
