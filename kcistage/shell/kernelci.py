"""The KernelCI API and pipeline over HTTP: submit a checkout, read every node of a tree, the token.

One requests Session per client, a timeout on every call. Failures are typed (`KernelCIError.kind`)
so that the core decides what they mean; the token is sent only as the checkout's Authorization
header and never appears in a message.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from typing import Any

import requests

from kcistage.core.display import printable
from kcistage.core.kernelci_wait import CheckoutAnswer
from kcistage.core.settings import KernelCI
from kcistage.errors import AuthError, ServiceError
from kcistage.shell import neterrors, stopping

TIMEOUT = (5.0, 30.0)  # (connect, read) seconds of one request
PAGE = 250  # nodes asked for per page
MAX_NODES = 100_000  # a tree this big is not one the pipeline made: stop reading


class KernelCIError(ServiceError):
    """The API or the pipeline did not give a usable answer.

    `kind`: unreachable (no answer), server (5xx), refused (4xx), not_found (404), malformed."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def kernelci_token(kc: KernelCI, environ: Mapping[str, str] | None = None) -> str:
    """The KernelCI token: `token_file` wins over `$token_env` (a missing file gives way to the
    variable, so an operator can run by hand); AuthError naming where it was looked for."""
    env = os.environ if environ is None else environ
    from_env = (env.get(kc.token_env) or "").strip() if kc.token_env else ""
    if kc.token_file is not None and not (from_env and not kc.token_file.exists()):
        try:
            value = kc.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise AuthError(f"cannot read the KernelCI token_file {kc.token_file}: {reason}") from None
        if not value:
            raise AuthError(f"the KernelCI token_file {kc.token_file} is empty")
        return value
    if not from_env:
        raise AuthError(f"no KernelCI token: ${kc.token_env} is not set" if kc.token_env
                        else "no KernelCI token")
    return from_env


LS_REMOTE_TIMEOUT = 60.0


def tip_commit(url: str, branch: str, timeout: float = LS_REMOTE_TIMEOUT) -> str:
    """The commit at the tip of the test kernel's branch (`git ls-remote`); KernelCIError if not.

    No credential is offered (the tree is public) and git never prompts."""
    ref = f"refs/heads/{branch}"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        with stopping.cut_short():  # SIGTERM ends the wait (subprocess.run kills git)
            done = subprocess.run(["git", "-c", "credential.helper=", "ls-remote", "--", url, ref],
                                  capture_output=True, text=True, timeout=timeout, env=env,
                                  stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelCIError("unreachable", f"git ls-remote {url}: {type(exc).__name__}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise KernelCIError("unreachable", f"git ls-remote {url}: {printable(last)[:200]}")
    for line in done.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref and len(sha) == 40:
            return sha
    raise KernelCIError("not_found", f"branch {branch!r} not found in {url}")


def _message(answer: requests.Response) -> str:
    """What an error answer says: its JSON `message` or `detail`, else the start of its body."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    said: Any = body.get("message") or body.get("detail") if isinstance(body, dict) else None
    text = said if isinstance(said, str) else json.dumps(said) if said else answer.text[:200]
    return printable(" ".join(str(text).split()))[:200] or f"HTTP {answer.status_code}"


class KernelCIClient:
    """One KernelCI API and pipeline, through one HTTP session."""

    def __init__(self, api: str, pipeline: str, token: str | None = None,
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        self.api = api.rstrip("/")
        self.pipeline = pipeline.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.session = requests.Session()
        self.requests = 0  # HTTP requests made (for the benchmark)

    def close(self) -> None:
        """Release the session's connections."""
        self.session.close()

    def _request(self, method: str, url: str, what: str, **kw: Any) -> requests.Response:
        self.requests += 1
        try:
            with stopping.cut_short():  # SIGTERM ends the wait for a slow answer at once
                answer = self.session.request(method, url, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise KernelCIError("unreachable", f"{what}: {neterrors.describe(exc)}") from None
        if answer.status_code >= 500:
            raise KernelCIError("server", f"{what}: HTTP {answer.status_code} "
                                f"({_message(answer)})", answer.status_code)
        if answer.status_code == 404:
            raise KernelCIError("not_found", f"{what}: 404 ({_message(answer)})", 404)
        if answer.status_code >= 400:
            raise KernelCIError("refused", f"{what}: {answer.status_code} ({_message(answer)})",
                                answer.status_code)
        return answer

    def _json(self, answer: requests.Response, what: str) -> Any:
        try:
            return answer.json()
        except ValueError:
            raise KernelCIError("malformed", f"{what}: not JSON ({printable(answer.text[:60])!r}"
                                f"{'...' if len(answer.text) > 60 else ''})") from None

    def submit_checkout(self, url: str, branch: str, commit: str, jobfilter: tuple[str, ...] = (),
                        platformfilter: tuple[str, ...] = ()) -> CheckoutAnswer:
        """POST <pipeline>/api/checkout; the tree it made, or why not (never raises for an answer)."""
        body: dict[str, Any] = {"url": url, "branch": branch, "commit": commit}
        if jobfilter:
            body["jobfilter"] = list(jobfilter)
        if platformfilter:
            body["platformfilter"] = list(platformfilter)
        # The pipeline reads the whole header as its JWT: no "Bearer" scheme.
        headers = {"Authorization": self._token} if self._token else {}
        what = f"POST {self.pipeline}/api/checkout"
        try:
            answer = self._request("POST", f"{self.pipeline}/api/checkout", what, json=body,
                                   headers=headers)
            data = self._json(answer, what)
        except KernelCIError as exc:
            kind = "refused" if exc.kind == "not_found" else exc.kind
            detail = str(exc).removeprefix(f"{what}: ")
            if exc.kind in ("refused", "not_found"):
                detail = detail.partition(" (")[2].removesuffix(")") or detail
            return CheckoutAnswer(error=kind, detail=detail, status=exc.status)
        node = data.get("node") if isinstance(data, dict) else None
        treeid = node.get("treeid") if isinstance(node, dict) else None
        if not isinstance(treeid, str) or not treeid:
            return CheckoutAnswer(error="malformed", detail="the answer names no node with a treeid")
        node_id = node.get("id") if isinstance(node, dict) else None
        return CheckoutAnswer(treeid=treeid, node=node_id if isinstance(node_id, str) else None)

    def tree_nodes(self, treeid: str, page: int = PAGE) -> list[Any]:
        """Every node of tree `treeid`, reading all pages of <api>/latest/nodes; KernelCIError."""
        items: list[Any] = []
        what = f"GET {self.api}/latest/nodes?treeid={treeid}"
        while True:
            answer = self._request("GET", f"{self.api}/latest/nodes", what,
                                   params={"treeid": treeid, "limit": page, "offset": len(items)})
            data = self._json(answer, what)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list) \
                    or isinstance(data.get("total"), bool) or not isinstance(data.get("total"), int):
                raise KernelCIError("malformed", f"{what}: not a page of {{items, total, limit, "
                                    "offset}")
            batch, total = data["items"], data["total"]
            items.extend(batch)
            if not batch or len(items) >= total:
                return items
            if len(items) > MAX_NODES:
                raise KernelCIError("malformed", f"{what}: more than {MAX_NODES} nodes")

    def answers(self, url: str) -> tuple[bool, str]:
        """Whether a URL answers 2xx (for `check`): (ok, what it said)."""
        try:
            answer = self._request("GET", url, f"GET {url}")
        except KernelCIError as exc:
            return False, str(exc)
        return True, f"{url} answers {answer.status_code}"

    def pipeline_answers(self) -> tuple[bool, str]:
        """Whether the pipeline answers HTTP at all (it has no public page: any status below 500
        shows it is up, as a 404 from its web framework does)."""
        try:
            self._request("GET", f"{self.pipeline}/", f"GET {self.pipeline}/")
        except KernelCIError as exc:
            if exc.kind not in ("refused", "not_found"):
                return False, str(exc)
        return True, f"{self.pipeline} answers"
