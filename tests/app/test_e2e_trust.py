"""End to end: trust and state under real conditions (SPEC 4, 6, 9) on the Sandbox.

Real git repos, the GitHub stand-in over HTTP on 127.0.0.1 (with its own clock), real PyGithub
and, where the process matters (clock skew, a state file that cannot be saved), the real CLI.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from kcistage.sandbox.sandbox import Sandbox
from tests.conftest import deployments, prime, run_cli

API, PIPE, CORE = "kernelci-api", "kernelci-pipeline", "kernelci-core"


def state_path(box: Sandbox) -> Path:
    return box.root / "state" / "state.json"


# -- an idle tick writes nothing --------------------------------------------------------------
def test_an_idle_tick_writes_no_byte_and_marks_the_poll_by_mtime(sandbox: Sandbox) -> None:
    box = sandbox
    box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 1\n"})
    prime(box)
    for _ in range(2):  # the deployment's own comments come back through the comment listing,
        box.advance(1)  # and the poll after records the watermark it asked with
        box.tick()
    path = state_path(box)
    for _ in range(3):
        before, data = path.stat(), path.read_bytes()
        now = box.advance(1)
        result = box.tick()
        assert result.code == 0 and "nothing changed" in result.lines[-1], result.lines
        after = path.stat()
        assert after.st_ino == before.st_ino and path.read_bytes() == data
        # the poll is marked by the mtime alone (the sandbox clock is years away from the real one)
        assert abs(after.st_mtime - now.timestamp()) < 5
    # a change is still written, compactly
    box.open_pr(API, 2, "JenySadadia", {"api/models.py": "MODELS = [2]\n"})
    box.advance(1)
    box.tick()
    assert path.stat().st_ino != before.st_ino
    assert path.read_bytes().count(b"\n") == 1
    assert f"{API}#2" in box.state()["prs"]


def test_a_dry_run_does_not_mark_the_poll(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    path = state_path(box)
    before = path.stat()
    box.advance(timedelta(hours=1).total_seconds() / 60)
    box.tick(dry_run=True)
    assert path.stat().st_mtime_ns == before.st_mtime_ns


# -- no reply storm when the state cannot be saved --------------------------------------------
def run_limited(box: Sandbox, max_bytes: int | None, *args: str) -> subprocess.CompletedProcess:
    """The real CLI at the sandbox clock; with max_bytes, no file it writes may grow past that."""
    return run_cli(box.config_path, *args, now=box.clock(), max_bytes=max_bytes)


def test_a_state_that_cannot_be_saved_stops_the_tick_before_any_answer(sandbox: Sandbox) -> None:
    box = sandbox
    box.open_pr(API, 3, "octo-dev", {"api/main.py": "app = 3\n"})
    prime(box)
    box.advance(1)
    box.tick()
    box.advance(1)
    refused = box.comment(API, 3, "random-person", "@kcibot deploy")
    approved = box.comment(API, 3, "a-wai", "@kcibot deploy")
    path = state_path(box)
    size = path.stat().st_size  # the next state is larger (two more comment ids): it cannot be written
    for _ in range(4):
        box.advance(1)
        done = run_limited(box, size, "tick")
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert f"{path}: cannot write" in done.stderr and "too large" in done.stderr.lower()
        assert box.state()["prs"][f"{API}#3"]["approval"] is None
    mine = [c for c in box.hub.comments(f"kernelci/{API}", 3) if c["user"]["login"] == "kcibot"]
    assert mine == [] and box.hub.reactions(approved) == []
    # once the disk has room again, each command is answered exactly once
    for _ in range(2):
        box.advance(1)
        done = run_limited(box, None, "tick")
        assert done.returncode == 0, (done.stdout, done.stderr)
    replies = [c["body"] for c in box.hub.comments(f"kernelci/{API}", 3)
               if c["user"]["login"] == "kcibot" and "kcistage:reply" in c["body"]]
    assert len(replies) == 1 and "@random-person is not allowed" in replies[0]
    assert box.hub.reactions(approved) == ["eyes"] and box.hub.reactions(refused) == []
    assert box.state()["prs"][f"{API}#3"]["approval"]["by"] == "a-wai"


# -- deleted accounts: `user: null` on a PR or a comment ---------------------------------------
def bot_comments(box: Sandbox, repo: str, number: int) -> list[str]:
    """The bodies of every comment kcistage wrote on a PR."""
    return [c["body"] for c in box.hub.comments(f"kernelci/{repo}", number)
            if (c["user"] or {}).get("login") == "kcibot"]


def test_deleted_accounts_are_unknown_untrusted_authors(sandbox: Sandbox) -> None:
    box = sandbox
    sha = box.repos[API].open_pr(4, {"api/models.py": "MODELS = [4]\n"}, "PR 4")
    box.hub.add_pr(f"kernelci/{API}", 4, None, sha)  # the PR's author deleted their account
    assert box.hub.comments(f"kernelci/{API}", 4) == []
    prime(box)  # the tick does not crash on the PR list
    record = box.state()["prs"][f"{API}#4"]
    assert (record["author"], record["state"]) == ("", "skipped")
    assert "author not trusted and no approval" in record["reason"]
    # a command from a deleted account does nothing and gets no "@ is not allowed" reply
    box.advance(1)
    ghost = box.hub.add_comment(f"kernelci/{API}", 4, None, "@kcibot deploy")
    box.advance(1)
    result = box.tick()
    assert result.code == 0, result.lines
    assert box.state()["prs"][f"{API}#4"]["approval"] is None
    assert not any("kcistage:reply" in body for body in bot_comments(box, API, 4))
    assert box.hub.reactions(ghost) == []
    # a maintainer can still approve it like any untrusted author's PR
    box.advance(1)
    box.comment(API, 4, "a-wai", "@kcibot deploy")
    box.advance(1)
    box.tick()
    record = box.state()["prs"][f"{API}#4"]
    assert record["state"] == "pending" and record["approval"]["sha"] == sha


# -- "before" the comment is judged on GitHub's clock -----------------------------------------
@pytest.mark.parametrize("skew", [timedelta(hours=-1), timedelta(hours=1)], ids=["behind", "ahead"])
def test_a_skewed_local_clock_approves_no_unseen_push(sandbox: Sandbox, skew: timedelta) -> None:
    """Our clock an hour behind or ahead of GitHub's (the stand-in keeps its own)."""
    box = sandbox
    reviewed = box.open_pr(API, 5, "octo-dev", {"api/main.py": "app = 5\n"})
    box.open_pr(API, 6, "octo-dev", {"api/models.py": "MODELS = [6]\n"})

    def tick() -> None:
        done = run_cli(box.config_path, "tick", now=box.clock() + skew)
        assert done.returncode == 0, (done.stdout, done.stderr)

    tick()  # kcistage sees both heads
    box.advance(1)
    ok = box.comment(API, 5, "a-wai", "Reviewed, fine.\n@kcibot deploy")
    box.comment(API, 6, "a-wai", "@kcibot deploy")
    box.advance(0.5)
    pushed = box.push(API, 6, {"api/models.py": "MODELS = ['unreviewed']\n"})  # after the review
    box.advance(1)
    tick()
    prs = box.state()["prs"]
    # the head seen before the comment is approved...
    assert prs[f"{API}#5"]["approval"]["sha"] == reviewed and prs[f"{API}#5"]["state"] == "pending"
    assert box.hub.reactions(ok) == ["eyes"]
    # ...and the push after it is not: the reply asks for the sha
    assert prs[f"{API}#6"]["approval"] is None and prs[f"{API}#6"]["state"] == "skipped"
    [reply] = [b for b in bot_comments(box, API, 6) if "kcistage:reply" in b]
    assert "changed around your comment" in reply and f"@kcibot deploy {pushed[:12]}" in reply
    assert not any("kcistage:reply" in b for b in bot_comments(box, API, 5))


def test_an_approval_written_before_the_first_poll_asks_for_the_sha(sandbox: Sandbox) -> None:
    """Opened and approved between two polls: no head was known before the comment, so the
    reply asks for `@kcibot deploy <sha>` (nothing "changed around" it)."""
    box = sandbox
    box.tick()
    box.advance(1)
    head = box.open_pr(API, 11, "octo-dev", {"api/main.py": "app = 11\n"})
    box.advance(0.5)
    box.comment(API, 11, "a-wai", "@kcibot deploy")
    box.advance(0.5)
    box.tick()
    [reply] = [b for b in bot_comments(box, API, 11) if "kcistage:reply" in b]
    assert "had not seen this pull request before your comment" in reply, reply
    assert f"`@kcibot deploy {head[:12]}`" in reply and "changed around" not in reply
    assert box.state()["prs"][f"{API}#11"]["approval"] is None


# -- closing and reopening keeps what kcistage knew -------------------------------------------
def test_close_and_reopen_keep_exclusion_approval_and_comment(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    bad = box.open_pr(API, 9, "broonie", {"BREAKS_STAGING": "x\n"})
    approved = box.open_pr(PIPE, 10, "octo-dev", {"src/trigger.py": "T = 10\n"})
    box.advance(1)
    box.tick()  # the change is seen; settle and throttle run from here
    box.advance(1)
    box.comment(PIPE, 10, "a-wai", "@kcibot deploy")
    box.advance(1)
    box.tick()
    assert box.state()["prs"][f"{PIPE}#10"]["approval"]["sha"] == approved
    box.advance(31)
    box.tick()
    failed = deployments(box)[-1]
    assert failed["result"] == "failed"
    for _ in range(4):  # the culprit search: one deployment per tick
        box.advance(1)
        box.tick()
        if box.state()["bisect"] is None and deployments(box)[-1]["result"] == "success":
            break
    state = box.state()
    excluded = state["prs"][f"{API}#9"]["excluded"]
    assert (excluded["sha"], excluded["cause"]) == (bad, "culprit")
    assert deployments(box)[-1]["result"] == "success" and state["bisect"] is None
    comment_ids = {key: state["prs"][key]["comments"] for key in (f"{API}#9", f"{PIPE}#10")}
    assert comment_ids[f"{API}#9"]
    last_id = deployments(box)[-1]["id"]

    # close both (a common way to re-run CI), then reopen them
    box.hub.update_pr(f"kernelci/{API}", 9, state="closed")
    box.hub.update_pr(f"kernelci/{PIPE}", 10, state="closed")
    box.advance(1)
    box.tick()
    state = box.state()
    assert f"{API}#9" not in state["prs"] and f"{API}#9" in state["closed"]
    box.hub.update_pr(f"kernelci/{API}", 9, state="open")
    box.hub.update_pr(f"kernelci/{PIPE}", 10, state="open")
    for _ in range(3):
        box.advance(31)
        box.tick()
    state = box.state()
    assert state["closed"] == {}
    pr9, pr10 = state["prs"][f"{API}#9"], state["prs"][f"{PIPE}#10"]
    assert pr9["state"] == "excluded" and pr9["reason"].startswith("culprit")  # still out
    assert pr10["approval"]["sha"] == approved and pr10["state"] == "pending"  # still approved
    assert {f"{API}#9": pr9["comments"], f"{PIPE}#10": pr10["comments"]} == comment_ids
    # staging did not break again: no new deployment with the culprit, no new search
    last = deployments(box)[-1]
    assert last["result"] == "success" and state["bisect"] is None
    assert last["target"][PIPE]["prs"] == [[10, approved]] and last["target"][API]["prs"] == []
    assert all(d["result"] == "success" for d in deployments(box) if d["id"] > last_id)


# -- a conflict is remembered against what it conflicted with ----------------------------------
def test_a_conflict_names_only_the_prs_touching_the_same_file(sandbox: Sandbox) -> None:
    """Three PRs merged before it; one of them edits the same line: only that one is named,
    in the reason, on the PR, and in what would change it."""
    box = sandbox
    prime(box)
    box.open_pr(API, 1, "JenySadadia", {"README.md": "one\n"})
    box.open_pr(API, 2, "JenySadadia", {"api/main.py": "app = 'two'\n"})
    box.open_pr(API, 3, "JenySadadia", {"api/models.py": "MODELS = [3]\n"})
    box.open_pr(API, 4, "broonie", {"api/main.py": "app = 'four'\n", "api/x.py": "x = 4\n"})
    box.advance(1)
    box.tick()
    box.advance(31)
    box.tick()
    base = deployments(box)[-1]["target"][API]["base"]
    record = box.state()["prs"][f"{API}#4"]
    assert (record["excluded"]["conflict_files"], record["excluded"]["conflict_with"]) == \
        (["api/main.py"], [2])
    assert record["reason"] == f"conflict with #2 in api/main.py (on main at {base[:7]})"
    assert any(record["reason"] in body for body in bot_comments(box, API, 4))
    done = run_cli(box.config_path, "status", "--json", now=box.clock())
    row = next(r for r in json.loads(done.stdout)["prs"] if r["number"] == 4)
    assert row["reason"] == record["reason"]
    from kcistage.app.status_document import status_document
    doc = status_document(box.config(), box.state(), box.clock())
    assert next(r for r in doc["prs"] if r["number"] == 4)["change"] == \
        f"rebase on {API}#2 (or a change to it)"



def test_a_conflict_with_an_earlier_pr_is_retried_when_that_pr_closes(sandbox: Sandbox) -> None:
    box = sandbox
    prime(box)
    base = box.repos[API].head("main")
    first = box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 'one'\n"})
    second = box.open_pr(API, 2, "broonie", {"api/main.py": "app = 'two'\n"})  # same line as #1
    box.advance(1)
    box.tick()
    box.advance(31)
    box.tick()
    record = deployments(box)[-1]
    assert record["target"][API]["prs"] == [[1, first]]
    pr2 = box.state()["prs"][f"{API}#2"]
    assert pr2["excluded"] == {"sha": second, "cause": "conflict", "base": base,
                               "merged_before": [[1, first]], "conflict_files": ["api/main.py"],
                               "conflict_with": [1]}
    assert pr2["reason"] == f"conflict with #1 in api/main.py (on main at {base[:7]})"
    assert any(f"conflict with #1 in api/main.py (on main at {base[:7]})" in body
               for body in bot_comments(box, API, 2))
    # the same composition: it stays out, nothing is redeployed
    box.advance(31)
    box.tick()
    assert deployments(box)[-1]["id"] == record["id"]
    # #1 closes: #2 no longer conflicts with anything and is tried (and merged) again
    box.hub.update_pr(f"kernelci/{API}", 1, state="closed")
    box.advance(1)
    box.tick()
    assert box.state()["prs"][f"{API}#2"]["state"] == "pending"
    box.advance(31)
    box.tick()
    record = deployments(box)[-1]
    assert record["result"] == "success" and record["target"][API]["prs"] == [[2, second]]
    assert record["left_out"] == []
