"""An offline KernelCI in miniature: bare repos, the GitHub stand-in, a count API and a config.

`kcistage demo` and the end-to-end tests drive real ticks against it: real git, real PyGithub
over HTTP on 127.0.0.1, real step processes (kcistage.sandbox.harmless_step in place of docker).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from kcistage.app.context import Output
from kcistage.app.engine import deploy_now, run, tick
from kcistage.core.settings import Config
from kcistage.core.state import State
from kcistage.sandbox.git_http import GitHttpServer
from kcistage.sandbox.github_standin import FakeGitHub
from kcistage.sandbox.harmless_step import HOLD_LIMIT, TOKEN, release
from kcistage.sandbox.kernelci_standin import FakeKernelCI
from kcistage.sandbox.localrepo import LocalRepo
from kcistage.shell import statefile
from kcistage.shell.clock import Clock
from kcistage.shell.config import load_config

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OWNER = "kernelci"
SECRET_FILE = "webhook-secret"  # serve.webhook_secret_file
APP_ID, APP_SLUG, APP_INSTALLATION = 4242, "kci-staging", 77


def write_app_key(path: Path) -> bytes:
    """Write a new RSA private key (PEM, mode 600) for a sandbox GitHub App; return its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)

TREES: dict[str, dict[str, str]] = {
    "kernelci-core": {
        "kci": "#!/usr/bin/env python3\n", "pyproject.toml": "[project]\nname='kernelci'\n",
        "requirements.txt": "requests\n", "kernelci/__init__.py": "", "kernelci/api.py": "API = 1\n",
        "config/core/build-configs.yaml": "builds: {}\n", "config/runtime/base.jinja2": "{# #}\n",
        "config/docker/kernelci.jinja2": "FROM debian\n", "config/rootfs/debos.yaml": "rootfs: {}\n",
        "doc/index.md": "# KernelCI core\n", "tests/test_api.py": "def test(): pass\n",
    },
    "kernelci-api": {
        "api/main.py": "app = None\n", "api/models.py": "MODELS = []\n",
        "migrations/0001_init.py": "\n", "docker/api/Dockerfile": "FROM python\n",
        "docker-compose.yaml": "services: {}\n", "pyproject.toml": "[project]\nname='api'\n",
        "doc/api.md": "# API\n", "kube/api.yaml": "kind: Deployment\n", "tests/test_main.py": "\n",
    },
    "kernelci-pipeline": {
        "config/pipeline.yaml": "jobs: {}\n", "config/scheduler.yaml": "runtimes: {}\n",
        "src/scheduler.py": "RUN = 1\n", "src/trigger.py": "TRIGGER = 1\n",
        "docker/pipeline/Dockerfile": "FROM python\n", "docker-compose.yaml": "services: {}\n",
        "docker-compose-lava.yaml": "services: {}\n", "requirements.txt": "requests\n",
        "doc/pipeline.md": "# Pipeline\n", "tools/example.py": "\n", "kube/pipeline.yaml": "\n",
    },
}
KERNELCI = ["kernelci/**", "config/core/**", "config/runtime/**", "requirements*.txt",
            "pyproject.toml"]


def sandbox_steps(records: Path, count_url: str) -> list[dict[str, Any]]:
    """The shipped config's step layout, with kcistage.sandbox.harmless_step in place of docker."""

    def fake(name: str) -> list[str]:
        return [sys.executable, "-m", "kcistage.sandbox.harmless_step", str(records), name]

    return [
        {"name": "drain-queue", "drain": {"url": count_url, "params": {"kind": "job", "state": "running"},
                                          "interval": "0.1s", "timeout": "5s", "on_timeout": "proceed"}},
        {"name": "build-kernelci-images", "run": fake("build-kernelci-images"), "cwd": "kernelci-core",
         "paths": {"kernelci-core": KERNELCI + ["config/docker/**"]}},
        {"name": "build-api-image", "run": fake("build-api-image"), "cwd": "kernelci-api",
         "paths": {"kernelci-api": ["api/**", "migrations/**", "docker/**", "pyproject.toml"]}},
        {"name": "build-pipeline-images", "run": fake("build-pipeline-images"),
         "cwd": "kernelci-pipeline",
         "paths": {"kernelci-pipeline": ["src/**", "docker/**", "requirements*.txt", "pyproject.toml"]}},
        {"name": "restart-api", "run": fake("restart-api"), "cwd": "kernelci-api",
         "paths": {"kernelci-core": KERNELCI,
                   "kernelci-api": ["api/**", "migrations/**", "docker/**", "pyproject.toml",
                                    "docker-compose.yaml", ".demo/**", "BREAKS_STAGING"]}},
        {"name": "restart-pipeline", "run": fake("restart-pipeline"), "cwd": "kernelci-pipeline",
         "paths": {"kernelci-core": KERNELCI,
                   "kernelci-pipeline": ["config/**", "src/**", "docker/**", "docker-compose*.yaml",
                                         "requirements*.txt", "pyproject.toml", ".demo/**",
                                         "BREAKS_STAGING"]}},
        {"name": "test-kernel", "run": fake("test-kernel"), "cycles": ["full"], "timeout": "1m"},
    ]


KCI_TOKEN = "kci-sandbox-token"  # the KernelCI stand-in's pipeline token (file kci-token)


def kernelci_step(url: str, tree: str) -> dict[str, Any]:
    """The test kernel as the shipped config has it, against the KernelCI stand-in at `url`."""
    return {"name": "test-kernel", "cycles": ["full"], "kernelci": {
        "api": url, "pipeline": url, "token_file": "kci-token",
        "tree": {"url": tree, "branch": "staging-next"}, "jobfilter": ["baseline-x86"],
        "kernel": "pinned", "interval": "1m", "timeout": "2h", "max_regressions": 0}}


class _CountHandler(BaseHTTPRequestHandler):
    """A KernelCI API count endpoint that answers the sandbox's queue length."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = str(self.server.queue).encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class TickResult:
    """What one in-process run printed and returned."""

    code: int
    lines: list[str] = field(default_factory=list)


class Sandbox:
    """Three bare repos, the GitHub stand-in and a KernelCI count API under `root`."""

    def __init__(self, root: Path, start: datetime = START, overrides: dict[str, Any] | None = None,
                 trees: dict[str, dict[str, str]] | None = None, git_http: bool = False,
                 app: bool = False, kernelci: bool = False) -> None:
        """`git_http`: serve the repos over authenticated smart HTTP (pushes need the token);
        `app`: act as a GitHub App (id APP_ID, key in app.pem) instead of with the token;
        `kernelci`: the test kernel through a `kernelci` step against the KernelCI stand-in."""
        self.root = Path(root)
        self.git_http: GitHttpServer | None = None
        self.use_git_http, self.use_app = git_http, app
        self.clock = Clock(start)
        self.hub = FakeGitHub(token=TOKEN, clock=self.clock)
        self.overrides = overrides or {}
        self.trees = trees or TREES
        self.repos: dict[str, LocalRepo] = {}
        self.records = self.root / "step-records.jsonl"
        self.config_path = self.root / "config.yaml"
        self._count: ThreadingHTTPServer | None = None
        self.kci: FakeKernelCI | None = None
        self.linux: LocalRepo | None = None  # the test kernel's tree (with `kernelci`)
        if kernelci:
            # Tests listed in the deployed pipeline checkout's MARKER file fail in new trees.
            self.kci = FakeKernelCI(token=KCI_TOKEN, clock=self.clock,
                                    watch=self.root / "work" / "repos" / "kernelci-pipeline")

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Create the repos and config, start the servers."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.hub.start()
        self._count = ThreadingHTTPServer(("127.0.0.1", 0), _CountHandler)
        self._count.queue = 0  # type: ignore[attr-defined]
        threading.Thread(target=self._count.serve_forever, daemon=True).start()
        for name, files in self.trees.items():
            self.repos[name] = LocalRepo.create(self.root / "remotes" / f"{name}.git", files)
            # the stand-in reads branch heads from the bare repo: pushes and commits show at once
            self.hub.add_repo(f"{OWNER}/{name}", heads=self.repos[name].branch_head)
        (self.root / "token").write_text(TOKEN + "\n")
        (self.root / "token").chmod(0o600)
        (self.root / SECRET_FILE).write_text(secrets.token_hex(16) + "\n")
        (self.root / SECRET_FILE).chmod(0o600)
        if self.use_git_http:
            self.git_http = GitHttpServer(self.root / "remotes", self.hub.valid_tokens)
            self.git_http.start()
        if self.use_app:
            self.hub.register_app(APP_ID, APP_SLUG, write_app_key(self.root / "app.pem"))
            self.hub.install_app(OWNER, APP_INSTALLATION)
        if self.kci is not None:
            self.kci.start()
            self.linux = LocalRepo.create(self.root / "remotes" / "linux.git",
                                          {"Makefile": "VERSION = 6\n"}, branch="staging-next")
            (self.root / "kci-token").write_text(KCI_TOKEN + "\n")
            (self.root / "kci-token").chmod(0o600)
        self.write_config()

    def stop(self) -> None:
        """Stop the servers (files stay under root)."""
        self.hub.stop()
        if self.kci is not None:
            self.kci.stop()
        if self.git_http is not None:
            self.git_http.stop()
        if self._count is not None:
            self._count.shutdown()
            self._count.server_close()

    def write_config(self) -> None:
        """Write config.yaml for this sandbox (overrides merged over the top-level keys)."""
        data: dict[str, Any] = {
            "github": {"api_url": self.hub.url, "token_file": "token", "bot": "kcibot"},
            "state_file": "state/state.json",
            "workdir": "work",
            "schedule": {"full_interval": "6h", "throttle": "30m", "settle": "5m",
                         "max_restarts": 1, "watch_interval": "0.3s"},
            "trust": {"users": ["nuclearcat", "JenySadadia", "broonie"],
                      "maintainers": ["a-wai"], "admins": ["nuclearcat"],
                      "skip_label": "staging-skip"},
            "repos": [{"name": name, "github": f"{OWNER}/{name}", "base": "main",
                       "url": self.git_http.repo_url(name) if self.git_http
                       else f"remotes/{name}.git", "staging_branch": "staging.kernelci.org",
                       "push": True} for name in self.trees],
            "serve": {"listen": "127.0.0.1:8080", "webhook_secret_file": SECRET_FILE,
                      "poke_dir": "pokes"},
            "steps": sandbox_steps(self.records, self.count_url),
        }
        if self.use_app:
            data["github"]["app"] = {"id": APP_ID, "private_key_file": "app.pem"}
        if self.kci is not None and self.linux is not None:
            data["steps"] = [s for s in data["steps"] if s["name"] != "test-kernel"] + [
                kernelci_step(self.kci.url, str(self.linux.path))]
        for key, value in self.overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False))

    @property
    def count_url(self) -> str:
        """The KernelCI count endpoint the drain step asks."""
        port = self._count.server_address[1] if self._count else 0
        return f"http://127.0.0.1:{port}/latest/count"

    def set_queue(self, count: int) -> None:
        """What the count endpoint answers from now on (jobs still running)."""
        assert self._count is not None
        self._count.queue = count  # type: ignore[attr-defined]

    def config(self) -> Config:
        """The sandbox's loaded configuration."""
        return load_config(self.config_path)

    # -- activity ---------------------------------------------------------------------------
    def open_pr(self, repo: str, number: int, author: str, files: dict[str, str | None],
                title: str = "", draft: bool = False, labels: tuple[str, ...] = (),
                base: str = "main", body: str = "") -> str:
        """A PR in the bare repo (refs/pull/N/head) and on the stand-in (`body`: its
        description); returns its head."""
        sha = self.repos[repo].open_pr(number, files, title or f"PR {number}")
        self.hub.add_pr(f"{OWNER}/{repo}", number, author, sha, base=base, draft=draft,
                        labels=labels, title=title or f"PR {number}", body=body)
        return sha

    def push(self, repo: str, number: int, files: dict[str, str | None]) -> str:
        """A new commit on a PR; returns the new head."""
        sha = self.repos[repo].push_pr(number, files, f"update PR {number}")
        self.hub.push_pr(f"{OWNER}/{repo}", number, sha)
        return sha

    def force_push(self, repo: str, number: int, sha: str) -> None:
        """A PR's head forced to an existing commit (back to an older one)."""
        self.repos[repo].force_pr(number, sha)
        self.hub.push_pr(f"{OWNER}/{repo}", number, sha)

    def comment(self, repo: str, number: int, author: str, body: str) -> int:
        """A PR comment written now."""
        return self.hub.add_comment(f"{OWNER}/{repo}", number, author, body)

    def advance(self, minutes: float) -> datetime:
        """Let simulated time pass."""
        return self.clock.advance(timedelta(minutes=minutes))

    def run(self, action: Any, dry_run: bool = False, verbose: bool = False) -> TickResult:
        """One in-process run of the engine (as the CLI would), capturing its lines."""
        result = TickResult(code=0)
        out = Output(write=result.lines.append, verbose=verbose)
        result.code = run(self.config(), self.clock, action, dry_run=dry_run, out=out)
        return result

    def tick(self, dry_run: bool = False, verbose: bool = False) -> TickResult:
        """`kcistage tick` in process."""
        return self.run(tick, dry_run, verbose)

    def deploy(self, full: bool = False, dry_run: bool = False) -> TickResult:
        """`kcistage deploy [--full]` in process."""
        return self.run(lambda ctx: deploy_now(ctx, full), dry_run)

    def state(self) -> State:
        """The current state, with the deployments of the history file beside it."""
        return statefile.load_full(self.root / "state" / "state.json", self.clock())

    def step_records(self) -> list[dict[str, Any]]:
        """What every fake step saw, in order."""
        if not self.records.exists():
            return []
        return [json.loads(line) for line in self.records.read_text().splitlines() if line]

    def wait_for_step(self, step: str, deploy_id: int, count: int = 1,
                      timeout: float = HOLD_LIMIT) -> dict[str, Any]:
        """Wait until `step` has started `count` times in deployment `deploy_id`; its last record.

        An event to wait on (the step writes its record first thing), not a guess of how long
        a tick takes on a busy machine."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = [r for r in self.step_records() if r["step"] == step
                    and r["env"].get("KCISTAGE_DEPLOY_ID") == str(deploy_id)]
            if len(seen) >= count:
                return seen[count - 1]
            time.sleep(0.02)
        raise TimeoutError(f"step {step} of deployment {deploy_id} did not start {count} time(s)")

    def release(self, step: str) -> None:
        """Let a step held by `.demo/slow-<step>` = `hold` go on (now and in later runs)."""
        release(self.records, step).touch()
