"""One comment per PR head SHA, across a killed run, lost answers and a lost state file (SPEC 8).

Real ticks on the Sandbox: real git, PyGithub over HTTP to the stand-in, the CLI as a subprocess.
"""

from __future__ import annotations

from kcistage.sandbox.sandbox import OWNER, Sandbox
from tests.conftest import kill_tick_at

API, PIPE = "kernelci-api", "kernelci-pipeline"
COMMENTS = "POST /repos/{o}/{r}/issues/{n}/comments"


def sha_comments(box: Sandbox, repo: str, number: int, sha: str) -> list[dict]:
    return [c for c in box.hub.comments(f"{OWNER}/{repo}", number)
            if c["user"]["login"] == "kcibot" and f"<!-- kcistage:sha={sha} -->" in c["body"]]


def replies(box: Sandbox, repo: str, number: int) -> list[dict]:
    return [c for c in box.hub.comments(f"{OWNER}/{repo}", number)
            if c["user"]["login"] == "kcibot" and "<!-- kcistage:reply" in c["body"]]


def open_two(box: Sandbox) -> dict[tuple[str, int], str]:
    return {(API, 1): box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 1\n"}),
            (PIPE, 2): box.open_pr(PIPE, 2, "broonie", {"src/trigger.py": "T = 2\n"})}


def test_lost_answers_to_comment_posts_leave_one_comment(sandbox: Sandbox) -> None:
    box = sandbox
    heads = open_two(box)
    box.tick()
    box.advance(5)
    box.hub.drop_answer_next(1, status=0, verb=COMMENTS)  # created, the answer reset
    box.hub.drop_answer_next(1, status=502, verb=COMMENTS)  # created, answered 502
    assert box.tick().code == 0
    assert box.state()["deployments"][-1]["result"] == "success"
    lost = [r for r in box.hub.requests if r["route"] == COMMENTS and "lost" in r]
    assert len(lost) == 2
    for (repo, number), sha in heads.items():
        assert len(sha_comments(box, repo, number, sha)) == 1
    assert sum(1 for r in box.hub.requests if r["route"] == COMMENTS) == 2  # never re-posted


def test_a_lost_reply_is_found_not_repeated(sandbox: Sandbox) -> None:
    box = sandbox
    open_two(box)
    box.tick()
    box.advance(1)
    box.comment(API, 1, "octo-dev", "@kcibot deploy")  # not a maintainer: a reply says so
    box.hub.drop_answer_next(1, status=502, verb=COMMENTS)
    box.tick()
    assert len(replies(box, API, 1)) == 1
    assert sum(1 for r in box.hub.requests if r["route"] == COMMENTS) == 1


def test_a_run_killed_after_posting_and_a_lost_state_file_leave_one_comment(sandbox: Sandbox,
                                                                            ) -> None:
    box = sandbox
    heads = open_two(box)
    box.tick()
    box.advance(5)
    kill_tick_at(box, COMMENTS)
    assert [r["route"] for r in box.hub.requests].count(COMMENTS) == 1
    box.advance(40)
    assert box.deploy().code == 0  # deploys again: finds its comment instead of a second one
    assert box.state()["deployments"][-1]["result"] == "success"
    for (repo, number), sha in heads.items():
        assert len(sha_comments(box, repo, number, sha)) == 1, (repo, number)

    (box.root / "state" / "state.json").unlink()  # the state file is lost
    box.tick()
    box.advance(6)
    assert box.tick().code == 0
    assert box.state()["deployments"][-1]["result"] == "success"
    for (repo, number), sha in heads.items():
        assert len(sha_comments(box, repo, number, sha)) == 1, (repo, number)
