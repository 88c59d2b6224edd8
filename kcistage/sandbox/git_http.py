"""A smart-HTTP git server on 127.0.0.1 that wants a token: `git http-backend` behind http.server.

Every request needs HTTP Basic authentication whose password is one of the accepted tokens (any
user name, as on GitHub); without it the answer is 401 with a WWW-Authenticate challenge, so git
asks its credential helper exactly as it does against github.com. A server's bad days, on demand:
a repository that stops answering (`hang`), refuses pushes (`read_only`: 403; `protect`: GitHub's
protected-branch refusal), or a server presenting a certificate no client trusts (`tls=True`).
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kcistage.sandbox import loopback


def _backend() -> str:
    """The path of git's http-backend CGI program."""
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                               check=True).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


class GitHttpServer:
    """Serves the bare repositories under `root` at http://127.0.0.1:<port>/<name>.git."""

    def __init__(self, root: Path, tokens: Callable[[], set[str]] | set[str], tls: bool = False):
        """`tokens`: the passwords accepted (a set, or a function asked at each request);
        `tls`: serve https with a self-signed certificate (git refuses it, as a bad one)."""
        self.root = Path(root)
        self._tokens = tokens
        self.url = ""
        self.log: list[dict[str, Any]] = []  # {"method", "path", "status", "user"} per request
        self.read_only: set[str] = set()  # repositories whose pushes are refused (403)
        # repository -> the git service whose requests get no answer ("" for every request):
        # the connection stays open and silent until the server stops.
        self.hang: dict[str, str] = {}
        self.hung = threading.Event()  # set when a request was left hanging
        self._released = threading.Event()
        self.tls = tls
        self._backend = _backend()
        self._server: ThreadingHTTPServer | None = None

    def accepted(self) -> set[str]:
        """The tokens accepted right now."""
        return set(self._tokens() if callable(self._tokens) else self._tokens)

    def repo_url(self, name: str) -> str:
        """The clone URL of a bare repository `root/<name>.git`."""
        return f"{self.url}/{name}.git"

    def start(self) -> str:
        """Listen on a free loopback port in a daemon thread; returns the base URL."""
        tls = loopback.self_signed(self.root / ".tls") if self.tls else None
        self._released.clear()
        self._server, self.url = loopback.serve(type("Handler", (_Handler,), {"git": self}), tls)
        return self.url

    def stop(self) -> None:
        """Stop listening (hanging requests are let go)."""
        self._released.set()
        loopback.close(self._server)
        self._server = None

    def protect(self, name: str, branch: str) -> None:
        """Refuse every update of `branch` in repository `name` as GitHub refuses a push to a
        protected branch (a pre-receive hook printing GitHub's GH006 error)."""
        hook = self.root / f"{name}.git" / "hooks" / "pre-receive"
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text("#!/bin/sh\nstatus=0\nwhile read old new ref; do\n"
                        f"  if [ \"$ref\" = refs/heads/{branch} ]; then\n"
                        "    echo \"error: GH006: Protected branch update failed for $ref.\" >&2\n"
                        "    echo \"error: Cannot force-push to this branch\" >&2\n"
                        "    status=1\n  fi\ndone\nexit $status\n")
        hook.chmod(0o755)

    def __enter__(self) -> GitHttpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pushes(self) -> int:
        """How many pushes (receive-pack POSTs) were accepted."""
        return sum(1 for e in self.log if e["path"].endswith("/git-receive-pack")
                   and e["method"] == "POST" and e["status"] == 200)


class _Handler(BaseHTTPRequestHandler):
    """One request: check Basic auth, then run git http-backend as a CGI program."""

    git: GitHttpServer

    def _user(self) -> str | None:
        kind, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if kind.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except ValueError:
            return None
        return user if password and password in self.git.accepted() else None

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        entry = {"method": self.command, "path": parts.path, "status": 401, "user": None}
        self.git.log.append(entry)
        body = self._body()
        name = parts.path.strip("/").split("/")[0].removesuffix(".git")
        if name in self.git.hang and self.git.hang[name] in parts.path + parts.query:
            entry["status"] = 0  # no answer at all: the connection stays open and silent
            self.git.hung.set()
            self.git._released.wait(300)
            self.close_connection = True
            return
        user = self._user()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="kcistage test git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        entry["user"] = user
        if name in self.git.read_only and "git-receive-pack" in parts.path + parts.query:
            entry["status"] = 403  # as GitHub answers a credential without write access
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "GIT_PROJECT_ROOT": str(self.git.root), "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": parts.path,
               "QUERY_STRING": parts.query, "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": self.headers.get("Content-Type") or "",
               "CONTENT_LENGTH": str(len(body)), "GIT_CONFIG_NOSYSTEM": "1",
               "HOME": str(self.git.root)}
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run([self.git._backend], input=body, capture_output=True, env=env,
                              check=False, timeout=60)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        entry["status"] = status
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass
