"""POST /webhook over real HTTP: only signed, well-formed, new deliveries of wanted events poke."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kcistage.shell import pokes
from kcistage.web.server import stop
from kcistage.web.webhook import MAX_BODY, Receiver, check_headers, signature_ok, wanted
from tests.web.conftest import SECRET, Site, sign, start_site, write_site

PR_EVENT = {"action": "synchronize", "number": 12,
            "repository": {"full_name": "kernelci/kernelci-api"}}


def test_a_signed_delivery_is_accepted_fast_and_leaves_one_poke(site: Site) -> None:
    elapsed = []
    for n in range(1, 6):
        started = time.perf_counter()
        status, text = site.deliver("pull_request", PR_EVENT, f"d-{n}")
        elapsed.append(time.perf_counter() - started)
        assert (status, text) == (202, b"accepted: the next tick polls GitHub\n")
    # within 100 ms: the fastest of five, so that a busy machine's pauses do not decide it
    assert min(elapsed) < 0.1, elapsed
    assert site.pokes() == [f"d-{n}" for n in range(1, 6)]


def test_ping_and_issue_comment_are_accepted(site: Site) -> None:
    assert site.deliver("ping", {"zen": "Keep it logically awesome."}, "p-1")[0] == 202
    assert site.deliver("issue_comment", {"action": "created"}, "c-1")[0] == 202
    assert site.pokes() == ["c-1", "p-1"]


def test_a_replayed_delivery_is_a_duplicate_and_does_nothing(site: Site) -> None:
    assert site.deliver("pull_request", PR_EVENT, "same")[0] == 202
    pokes.remove(site.cfg.serve.poke_dir, ["same"])  # a tick consumed it
    assert site.deliver("pull_request", PR_EVENT, "same") == (200, b"duplicate\n")
    assert site.pokes() == []


def test_bad_signatures_are_401_and_leave_nothing(site: Site) -> None:
    body = json.dumps(PR_EVENT).encode()
    cases = {
        "missing": None,
        "garbage": "sha256=nothex",
        "wrong secret": sign(body, b"not the secret"),
        "other body": sign(body + b" "),
        "no prefix": sign(body).removeprefix("sha256="),
        "uppercase hex": "sha256=" + sign(body).removeprefix("sha256=").upper(),
    }
    for i, signature in enumerate(cases.values()):
        assert site.deliver("pull_request", body, f"bad-{i}", signature=signature)[0] == 401
    # SHA-1 only (GitHub's legacy X-Hub-Signature) is not enough
    import hashlib
    import hmac
    sha1 = "sha1=" + hmac.new(SECRET, body, hashlib.sha1).hexdigest()
    status, text = site.deliver("pull_request", body, "sha1", signature=None,
                                extra={"X-Hub-Signature": sha1})
    assert status == 401 and b"SHA-1" in text
    assert site.pokes() == []
    # a refused delivery is not remembered: the genuine one with that id still goes through
    assert site.deliver("pull_request", body, "bad-0")[0] == 202


def test_malformed_requests_are_refused_before_any_effect(site: Site) -> None:
    body = json.dumps(PR_EVENT).encode()
    assert site.deliver("pull_request", b"not json{", "nj")[0] == 400
    assert site.deliver("pull_request", b"[1, 2]", "list")[0] == 400
    assert site.deliver("pull_request", body, "form",
                        extra={"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
    status, _, _ = site.request("POST", "/webhook", body, {
        "Content-Type": "application/json", "X-GitHub-Delivery": "no-event",
        "X-Hub-Signature-256": sign(body)})
    assert status == 400
    assert site.deliver("pull_request", body, "../../etc/passwd")[0] == 400
    assert site.deliver("pull_request", body, "x" * 200)[0] == 400
    assert site.pokes() == []


def test_an_oversized_body_is_413_and_never_read(site: Site) -> None:
    # Headers announcing 1 MiB + 1 and only the start of the body: the answer comes anyway,
    # so the body was never waited for nor read.
    body = json.dumps(PR_EVENT).encode()
    head = (f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: big\r\n"
            f"X-Hub-Signature-256: {sign(body)}\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n")
    with socket.create_connection((site.host, site.port), timeout=5) as conn:
        conn.sendall(head.encode() + b"{" + b" " * 1000)
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ")
    # the application's own check, for a server that would let it through
    assert check_headers({"content-type": "application/json", "x-github-event": "push",
                          "x-github-delivery": "d"}, str(MAX_BODY + 1)).status == 413
    assert check_headers({"content-type": "application/json", "x-github-event": "push",
                          "x-github-delivery": "d"}, str(MAX_BODY)) is None
    assert site.pokes() == []
    assert site.deliver("pull_request", PR_EVENT, "small")[0] == 202


def test_unknown_events_answer_204_and_pushes_count_only_on_a_base_branch(site: Site) -> None:
    assert site.deliver("star", {"action": "created"}, "s-1") == (204, b"")
    push = {"ref": "refs/heads/main", "repository": {"full_name": "KernelCI/kernelci-api"}}
    assert site.deliver("push", push, "push-main")[0] == 202
    staging = dict(push, ref="refs/heads/staging.kernelci.org")
    assert site.deliver("push", staging, "push-staging")[0] == 204
    other = dict(push, repository={"full_name": "someone/else"})
    assert site.deliver("push", other, "push-other")[0] == 204
    assert site.deliver("push", {"ref": 5, "repository": "x"}, "push-odd")[0] == 204
    assert site.pokes() == ["push-main"]


def test_fifty_concurrent_deliveries_all_accepted_none_lost(site: Site) -> None:
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda i: site.deliver("pull_request", PR_EVENT, f"c-{i:02d}"),
                                range(50)))
    assert [status for status, _ in results] == [202] * 50
    assert site.pokes() == sorted(f"c-{i:02d}" for i in range(50))
    # and the same 50 again, concurrently: all duplicates
    with ThreadPoolExecutor(max_workers=50) as pool:
        again = list(pool.map(lambda i: site.deliver("pull_request", PR_EVENT, f"c-{i:02d}"),
                              range(50)))
    assert {status for status, _ in again} == {200}


def test_without_a_secret_the_endpoint_is_404(tmp_path: Path) -> None:
    running, server, thread = start_site(write_site(tmp_path, secret=None))
    try:
        assert running.deliver("ping", {}, "p")[0] == 404
        assert running.pokes() == []
        assert running.request("GET", "/healthz")[0] == 200  # the rest still works
    finally:
        stop(server)
        thread.join(5)


def test_other_methods_are_405(site: Site) -> None:
    status, headers, _ = site.request("GET", "/webhook")
    assert status == 405 and headers["allow"] == "POST"


def test_a_restarted_receiver_still_knows_the_waiting_deliveries(tmp_path: Path) -> None:
    folder = tmp_path / "pokes"
    pokes.write(folder, "before-restart")
    receiver = Receiver(SECRET, folder, ())
    body = b"{}"
    headers = {"content-type": "application/json", "x-github-event": "ping",
               "x-github-delivery": "before-restart", "x-hub-signature-256": sign(body)}
    assert receiver.receive(headers, "2", lambda n: body).status == 200
    assert receiver.receive(dict(headers, **{"x-github-delivery": "new"}), "2",
                            lambda n: body).status == 202


def test_memory_of_delivery_ids_is_bounded(tmp_path: Path) -> None:
    receiver = Receiver(SECRET, tmp_path / "pokes", (), remembered=3)
    body = b"{}"
    for i in range(5):
        headers = {"content-type": "application/json", "x-github-event": "star",
                   "x-github-delivery": f"id-{i}", "x-hub-signature-256": sign(body)}
        assert receiver.receive(headers, "2", lambda n: body).status == 204
    assert list(receiver._seen) == ["id-2", "id-3", "id-4"]


def test_a_poke_that_cannot_be_written_is_503_and_can_be_redelivered(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    receiver = Receiver(SECRET, blocker / "pokes", ())
    body = b"{}"
    headers = {"content-type": "application/json", "x-github-event": "ping",
               "x-github-delivery": "d", "x-hub-signature-256": sign(body)}
    assert receiver.receive(headers, "2", lambda n: body).status == 503
    receiver.poke_dir = tmp_path / "pokes"
    assert receiver.receive(headers, "2", lambda n: body).status == 202


def test_pure_checks() -> None:
    assert signature_ok(SECRET, b"x", sign(b"x"))
    assert not signature_ok(SECRET, b"x", None)
    assert not signature_ok(SECRET, b"x", "sha256=\u00e9")
    assert wanted("pull_request", {}, ())
    assert not wanted("workflow_run", {}, ())
