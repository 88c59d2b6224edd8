"""A KernelCI API and pipeline stand-in on 127.0.0.1 (real HTTP), for the demo and the tests.

The pipeline's `POST /api/checkout` (JWT in the whole Authorization header, at most 8 job and
platform filters, 40-hex commits, known trees only) makes a tree whose nodes have the API's
fields and whose states progress as it is read (one stage per first-page read, or `advance`):
checkout running → builds → jobs → tests → checkout closing → done. `GET /latest/nodes` pages
`{items, total, limit, offset}` with field filters, `/latest/nodes/fast` a plain list,
`/latest/node/<id>` the node (null when none has that id), `/latest/count` a bare integer. Each
node carries exactly the fields of kernelci-core's `Node` model (tests/contract holds it to them).

Scenarios: tests that fail (by name, or listed in a marker file found in a folder when the
checkout is submitted: the deployed pipeline checkout), a job retried after an infrastructure
error, a stalled tree, refusals and 5xx answers, malformed or truncated JSON, a tree gone
missing, names with markup and control characters.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kcistage.sandbox import loopback

MARKER = "kernelci-breaks"  # a file listing test names that fail, in the watched folder
STAGES = 5  # reads after which a tree is complete: checkout, builds, jobs, tests, closing, done
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
HOSTILE = "<script>alert(1)</script>\x1b[31mred\x07"
_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")
# The pipeline's checkout times out after 300 minutes; any other node after the model's default.
_TIMEOUTS = {"checkout": timedelta(minutes=300), "other": timedelta(hours=6)}


@dataclass(frozen=True)
class Layout:
    """The shape of every tree: builds, the jobs each build runs on each platform, their tests."""

    kbuilds: tuple[str, ...] = ("kbuild-gcc-12-x86",)
    jobs: tuple[str, ...] = ("baseline-x86",)
    platforms: tuple[str, ...] = ("qemu-x86", "minnowboard-turbot-E3826")
    tests: tuple[str, ...] = ("login", "dmesg.crit", "dmesg.emerg", "kselftest-timers")

    @classmethod
    def sized(cls, nodes: int) -> Layout:
        """A layout of about `nodes` nodes (for benchmarks): 2 builds, 2 jobs, 5 platforms."""
        per_job = max(1, (nodes - 3) // 20 - 1)
        return cls(kbuilds=("kbuild-gcc-12-x86", "kbuild-gcc-12-arm64"),
                   jobs=("baseline-x86", "kselftest"),
                   platforms=("qemu", "rpi4", "juno", "odroid", "hifive"),
                   tests=tuple(f"case-{i:04}" for i in range(per_job)))


@dataclass
class _Tree:
    treeid: str
    commit: str
    url: str
    branch: str
    created: str
    failing: frozenset[str]
    jobfilter: tuple[str, ...]
    platformfilter: tuple[str, ...] = ()
    stage: int = 0
    stalled: bool = False
    hostile: bool = False
    nodes: list[dict[str, Any]] = field(default_factory=list)


class FakeKernelCI:
    """The API (`/latest/...`) and the pipeline (`/api/checkout`) on one loopback port."""

    def __init__(self, token: str = "kci-test-token", trees: tuple[tuple[str, str], ...] = (),
                 layout: Layout | None = None, watch: Path | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.token = token
        self.known_trees = set(trees)  # (url, branch) the pipeline knows; empty: any
        self.layout = layout or Layout()
        self.watch = watch  # folder whose MARKER file lists failing tests at checkout time
        self.clock = clock or (lambda: datetime.now(UTC))
        self.failing: set[str] = set()  # test names failing in every new tree
        self.retried: set[str] = set()  # jobs whose first attempt is incomplete, then retried
        self.stall = False  # new trees never complete
        self.hostile = False  # new trees carry a test named with markup and control characters
        self.auto_advance = True  # a first-page read advances its tree
        self.stages_per_read = 1  # ... by this many stages (STAGES: complete at the first read)
        self.trees: dict[str, _Tree] = {}
        self.checkouts: list[dict[str, Any]] = []  # bodies of accepted checkouts, in order
        self.requests: list[tuple[str, str]] = []
        self._faults: list[tuple[str, str, Any]] = []  # (route, kind, detail)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- lifecycle and scenario switches -----------------------------------------------------
    def start(self) -> str:
        """Listen on a free 127.0.0.1 port; returns the base URL (API and pipeline alike)."""
        self._server, self.url = loopback.serve(type("Handler", (_Handler,), {"kci": self}))
        return self.url

    def stop(self) -> None:
        """Stop listening."""
        loopback.close(self._server)
        self._server = None

    def __enter__(self) -> FakeKernelCI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fault(self, route: str, kind: str, detail: Any = None, times: int = 1) -> None:
        """The next `times` requests to `route` ("checkout" | "nodes" | "any") answer `kind`:
        "status" (detail: the code), "malformed" (not JSON), "truncated" (JSON cut short),
        "missing" (nodes: an empty page, as for an unknown treeid), "drop" (connection closed)."""
        self._faults.extend([(route, kind, detail)] * times)

    def advance(self, treeid: str, stages: int = STAGES) -> None:
        """Move a tree on by `stages` (to complete it: the default)."""
        with self._lock:
            tree = self.trees[treeid]
            tree.stage = min(tree.stage + stages, STAGES)
            self._build(tree)

    def complete_all(self) -> None:
        """Every tree complete (a stalled one stays stalled)."""
        for treeid in list(self.trees):
            self.advance(treeid)

    # -- the tree ---------------------------------------------------------------------------
    def _now(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")

    def _node(self, tree: _Tree, kind: str, path: list[str], parent: str | None, state: str,
              result: str | None, platform: str | None = None, error: str | None = None,
              retry: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = {"kernel_revision": {
            "tree": "kernelci", "url": tree.url, "branch": tree.branch, "commit": tree.commit,
            "describe": f"v6.12-{tree.commit[:12]}"}}
        if kind != "checkout":
            data.update({"arch": "x86_64", "error_code": error, "error_msg": None})
            if platform:
                data["platform"] = platform
        node_id = f"{next(self._ids):024x}"
        timeout = datetime.fromisoformat(tree.created) + _TIMEOUTS.get(kind, _TIMEOUTS["other"])
        root = kind == "checkout"
        return {"id": node_id, "kind": kind, "name": path[-1], "path": path,
                "group": path[-2] if len(path) > 1 else None, "parent": parent, "state": state,
                "result": result, "artifacts": {}, "data": data, "debug": {},
                "jobfilter": list(tree.jobfilter) if root and tree.jobfilter else None,
                "platform_filter": list(tree.platformfilter) if root else [],
                "created": tree.created, "updated": self._now(),
                "timeout": timeout.strftime("%Y-%m-%dT%H:%M:%S.%f"), "holdoff": None,
                "owner": "staging", "submitter": "user:kcistage", "treeid": tree.treeid,
                "user_groups": [], "processed_by_kcidb_bridge": False, "retry_counter": retry}

    def _build(self, tree: _Tree) -> None:
        """(Re)make a tree's nodes as they are at its stage (ids stay stable per identity)."""
        old = {(n["kind"], tuple(n["path"]), n["data"].get("platform"), n["retry_counter"]): n["id"]
               for n in tree.nodes}
        stage = min(tree.stage, 2) if tree.stalled else tree.stage
        nodes: list[dict[str, Any]] = []
        root_state = ("running", "available", "available", "available", "closing", "done")[stage]
        root = self._node(tree, "checkout", ["checkout"], None, root_state,
                          None if stage == 0 else "pass")
        nodes.append(root)
        layout = self.layout
        jobs = [j for j in layout.jobs if not tree.jobfilter or any(
            j == f.rstrip("+") for f in tree.jobfilter)] or list(layout.jobs)
        for kbuild in layout.kbuilds if stage >= 1 else ():
            kb_path = ["checkout", kbuild]
            kb = self._node(tree, "kbuild", kb_path, root["id"],
                            "done" if stage >= 2 else "running", "pass" if stage >= 2 else None)
            nodes.append(kb)
            for job, platform in itertools.product(jobs, layout.platforms) if stage >= 2 else ():
                job_path = [*kb_path, job]
                running = stage < 3 or tree.stalled
                if job in self.retried:
                    nodes.append(self._node(tree, "job", job_path, kb["id"], "done", "incomplete",
                                            platform, error="Infrastructure"))
                jb = self._node(tree, "job", job_path, kb["id"], "running" if running else "done",
                                None if running else "pass", platform,
                                retry=1 if job in self.retried else 0)
                nodes.append(jb)
                tests = list(layout.tests) + ([HOSTILE] if tree.hostile else [])
                for test in tests if not running else ():
                    result = "fail" if test in tree.failing else "pass"
                    nodes.append(self._node(tree, "test", [*job_path, test], jb["id"], "done",
                                            result, platform))
        for node in nodes:  # the same node keeps its id as the tree progresses
            key = (node["kind"], tuple(node["path"]), node["data"].get("platform"),
                   node["retry_counter"])
            node["id"] = old.get(key, node["id"])
        tree.nodes = nodes

    def _failing_now(self) -> frozenset[str]:
        names = set(self.failing)
        if self.watch is not None:
            try:
                text = (self.watch / MARKER).read_text(encoding="utf-8")
            except OSError:
                text = ""
            names |= {line.strip() for line in text.splitlines() if line.strip()}
        return frozenset(names)

    # -- HTTP -------------------------------------------------------------------------------
    def handle(self, verb: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, bytes | None]:
        """One request: (status, body), body None to drop the connection."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        route = "checkout" if path == "/api/checkout" else "nodes" if path == "/latest/nodes" \
            else "other"
        with self._lock:
            self.requests.append((verb, target))
            fault = next((f for f in self._faults if f[0] in (route, "any")), None)
            if fault is not None:
                self._faults.remove(fault)
                return _faulty(fault[1], fault[2])
            if verb == "POST" and path == "/api/checkout":
                status, out = self._checkout(headers, body)
            elif verb == "GET" and path in ("/latest", "/"):
                status, out = 200, {"message": "KernelCI API"}
            elif verb == "GET" and path == "/latest/nodes":
                status, out = self._nodes(query)
            elif verb == "GET" and path == "/latest/nodes/fast":
                status, out = 200, self._select(query)
            elif verb == "GET" and path == "/latest/count":
                status, out = 200, len(self._select(query))
            elif verb == "GET" and path.startswith("/latest/node/"):
                status, out = self._node_by_id(path.rsplit("/", 1)[1])
            else:
                status, out = 404, {"detail": "Not Found"}
        return status, json.dumps(out).encode()

    def _checkout(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if headers.get("authorization") != self.token:
            return 401, {"message": "Unauthorized"}
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return 422, {"detail": [{"type": "json_invalid", "msg": "JSON decode error"}]}
        if not isinstance(data, dict):
            return 422, {"detail": [{"type": "model_attributes_type", "msg": "expected an object"}]}
        url, branch, commit = data.get("url"), data.get("branch"), data.get("commit")
        if not url or not branch or not commit:
            return 400, {"message": "Missing tree URL, branch or commit"}
        if not isinstance(commit, str) or not _COMMIT_RE.match(commit):
            return 400, {"message": "Invalid commit format"}
        if self.known_trees and (url, branch) not in self.known_trees:
            return 404, {"message": "Tree not found"}
        jobfilter = data.get("jobfilter") or []
        platformfilter = data.get("platformfilter") or []
        if len(jobfilter) > 8:
            return 400, {"message": "Too many jobs in jobfilter"}
        if len(platformfilter) > 8:
            return 400, {"message": "Too many platforms in platformfilter"}
        for job in jobfilter:
            if str(job).rstrip("+") not in (*self.layout.jobs, *self.layout.kbuilds):
                return 404, {"message": f"Job {job} not found"}
        for platform in platformfilter:
            if platform not in self.layout.platforms:
                return 404, {"message": f"Platform {platform} not found"}
        treeid = hashlib.sha256(f"{url}{branch}{len(self.trees)}".encode()).hexdigest()
        tree = _Tree(treeid=treeid, commit=commit, url=url, branch=branch, created=self._now(),
                     failing=self._failing_now(), jobfilter=tuple(jobfilter),
                     platformfilter=tuple(platformfilter), stalled=self.stall,
                     hostile=self.hostile)
        self._build(tree)
        self.trees[treeid] = tree
        self.checkouts.append(data)
        return 200, {"message": "OK", "node": tree.nodes[0]}

    def _node_by_id(self, node_id: str) -> tuple[int, Any]:
        """The node, null when none has that id, 400 when the id is not an ObjectId (the API's
        handler of bson's InvalidId)."""
        if not _OBJECT_ID_RE.match(node_id):
            return 400, {"detail": f"'{node_id}' is not a valid ObjectId, it must be a 12-byte "
                         "input or a 24-character hex string"}
        return 200, next((n for t in self.trees.values() for n in t.nodes if n["id"] == node_id),
                         None)

    def _select(self, query: dict[str, str]) -> list[dict[str, Any]]:
        fields = {k: v for k, v in query.items() if k not in ("limit", "offset")}
        treeid = fields.get("treeid")
        trees = [self.trees[treeid]] if treeid in self.trees else [] if treeid else \
            list(self.trees.values())
        out = []
        for node in (n for t in trees for n in t.nodes):
            if all(str(node.get(k)) == v if k in node else False for k, v in fields.items()):
                out.append(node)
        return out

    def _nodes(self, query: dict[str, str]) -> tuple[int, Any]:
        try:
            limit = int(query.get("limit", 50))
            offset = int(query.get("offset", 0))
        except ValueError:
            return 422, {"detail": [{"type": "int_parsing", "msg": "Input should be an integer"}]}
        tree = self.trees.get(query.get("treeid", ""))
        if tree is not None and offset == 0 and self.auto_advance and tree.stage < STAGES:
            tree.stage = min(tree.stage + self.stages_per_read, STAGES)
            self._build(tree)
        nodes = self._select(query)
        return 200, {"items": nodes[offset:offset + limit], "total": len(nodes), "limit": limit,
                     "offset": offset}


def _faulty(kind: str, detail: Any) -> tuple[int, bytes | None]:
    if kind == "status":
        code = int(detail or 500)
        message = {401: "Unauthorized", 400: "Invalid commit format"}.get(code, "Internal Server Error")
        return code, json.dumps({"message": message}).encode()
    if kind == "malformed":
        return 200, b"<html>502 Bad Gateway</html>"
    if kind == "truncated":
        return 200, b'{"items": [{"id": "65a1", "kind": "test", "sta'
    if kind == "missing":
        return 200, json.dumps({"items": [], "total": 0, "limit": 50, "offset": 0}).encode()
    return 0, None  # drop


class _Handler(BaseHTTPRequestHandler):
    """Glue from http.server to FakeKernelCI.handle."""

    kci: FakeKernelCI
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload = self.kci.handle(self.command, self.path, headers, body)
        if payload is None:
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass
