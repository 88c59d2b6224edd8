"""The GitHub stand-in: pagination, ETags, auth, rate-limit headers, fault injection, PyGithub shapes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from github import Auth, Github

from kcistage.sandbox.github_standin import FakeGitHub

AUTH = {"Authorization": "Bearer test-token"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def hub():
    clock = Clock()
    with FakeGitHub(clock=clock, rate_limit=50) as fake:
        fake.clock_ = clock
        fake.add_repo("kernelci/api")
        for n in range(1, 36):
            fake.add_pr("kernelci/api", n, "alice", f"{n:040x}")
            clock.now += timedelta(seconds=1)
        yield fake


def get(hub: FakeGitHub, path: str, headers: dict | None = None, **params) -> requests.Response:
    return requests.get(hub.url + path, params=params, headers={**AUTH, **(headers or {})}, timeout=5)


def test_pagination_follows_link_headers(hub):
    first = get(hub, "/repos/kernelci/api/pulls", state="open")
    assert len(first.json()) == 30  # GitHub's default page size
    assert first.links["next"]["url"].endswith("page=2") and "last" in first.links
    second = requests.get(first.links["next"]["url"], headers=AUTH, timeout=5)
    assert len(second.json()) == 5 and "next" not in second.links and "prev" in second.links
    numbers = [pr["number"] for pr in first.json() + second.json()]
    assert sorted(numbers) == list(range(1, 36)) and numbers[0] == 35  # newest first by default
    big = get(hub, "/repos/kernelci/api/pulls", per_page=500, sort="created", direction="asc")
    assert len(big.json()) == 35 and big.json()[0]["number"] == 1 and "next" not in big.links


def test_etag_304_costs_nothing_and_changes_with_content(hub):
    first = get(hub, "/repos/kernelci/api/pulls", per_page=100)
    etag = first.headers["etag"]
    again = get(hub, "/repos/kernelci/api/pulls", {"If-None-Match": etag}, per_page=100)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"] == "49"
    assert [e["counted"] for e in hub.requests] == [True, False]
    hub.push_pr("kernelci/api", 7, "f" * 40)
    moved = get(hub, "/repos/kernelci/api/pulls", {"If-None-Match": etag}, per_page=100)
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    assert moved.headers["x-ratelimit-used"] == "2"
    assert hub.counts() == {"requests": 3, "counted": 2,
                            "by_route": {"GET /repos/{o}/{r}/pulls": 3}}


def test_auth_wrong_or_missing_token_is_401(hub):
    wrong = requests.get(hub.url + "/user", headers={"Authorization": "token nope"}, timeout=5)
    missing = requests.get(hub.url + "/user", timeout=5)
    assert wrong.status_code == missing.status_code == 401
    assert wrong.json() == {"message": "Bad credentials"}
    assert get(hub, "/user").json()["login"] == "kcibot"
    assert [e["counted"] for e in hub.requests] == [False, False, True]


def test_fault_injection(hub):
    hub.fail_next(1)
    assert get(hub, "/user").status_code == 502
    hub.fail_next(1, status=0)
    with pytest.raises(requests.ConnectionError):
        get(hub, "/user")
    hub.rate_limit_next(1, reset_in=90)
    limited = get(hub, "/user")
    assert limited.status_code == 403 and limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) == int(hub.clock_.now.timestamp()) + 90
    hub.rate_limit_next(1, status=429, retry_after=7)
    assert get(hub, "/user").headers["retry-after"] == "7"
    hub.slow_next(1, 0.3)
    began = time.monotonic()
    assert get(hub, "/user").status_code == 200 and time.monotonic() - began >= 0.3
    assert [e["status"] for e in hub.requests] == [502, 0, 403, 429, 200]
    hub.reset_log()
    assert hub.counts()["requests"] == 0


def test_exhausted_rate_limit_answers_403():
    with FakeGitHub(rate_limit=2) as hub:
        assert [get(hub, "/user").status_code for _ in range(3)] == [200, 200, 403]
        assert "rate limit" in get(hub, "/user").json()["message"]


def test_comments_since_sorting_edits_and_writes(hub):
    clock = hub.clock_
    old = hub.add_comment("kernelci/api", 3, "bob", "old")
    clock.now += timedelta(minutes=1)
    since = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    new = hub.add_comment("kernelci/api", 4, "carol", "new")
    clock.now += timedelta(minutes=1)
    hub.edit_comment("kernelci/api", old, "edited")
    listed = get(hub, "/repos/kernelci/api/issues/comments", since=since, sort="updated").json()
    assert [c["id"] for c in listed] == [new, old]
    assert listed[0]["issue_url"].endswith("/repos/kernelci/api/issues/4")
    assert listed[1]["updated_at"] > listed[1]["created_at"]
    made = requests.post(hub.url + "/repos/kernelci/api/issues/4/comments", json={"body": "hi"},
                         headers=AUTH, timeout=5)
    assert made.status_code == 201 and made.json()["user"]["login"] == "kcibot"
    assert [c["body"] for c in hub.comments("kernelci/api", 4)] == ["new", "hi"]
    url = f"{hub.url}/repos/kernelci/api/issues/comments/{new}/reactions"
    codes = [requests.post(url, json={"content": "eyes"}, headers=AUTH, timeout=5).status_code
             for _ in range(2)]
    assert codes == [201, 200] and hub.reactions(new) == ["eyes"]
    bad = requests.post(hub.url + "/repos/kernelci/api/statuses/" + "a" * 40,
                        json={"state": "weird"}, headers=AUTH, timeout=5)
    assert bad.status_code == 422 and "a" * 40 not in hub.statuses


def test_pygithub_parses_the_shapes(hub):
    hub.set_permission("kernelci/api", "Maint", "maintain")
    gh = Github(auth=Auth.Token("test-token"), base_url=hub.url, retry=None,
                seconds_between_requests=None, seconds_between_writes=None)
    repo = gh.get_repo("kernelci/api")
    pulls = list(repo.get_pulls(state="open", sort="created", direction="asc"))
    assert [p.number for p in pulls] == list(range(1, 36))
    assert pulls[0].head.sha == "1".rjust(40, "0") and pulls[0].user.login == "alice"
    assert pulls[0].base.ref == "main" and pulls[0].draft is False
    assert repo.get_collaborator_role_name("maint") == "maintain"
    assert repo.get_collaborator_permission("maint") == "write"
    comment = repo.get_pull(2).create_issue_comment("hello")
    assert comment.user.login == "kcibot" and comment.body == "hello"


def test_branch_endpoint_with_etags_and_linked_git_repo(hub, tmp_path):
    from kcistage.sandbox.localrepo import LocalRepo

    made_up = get(hub, "/repos/kernelci/api/branches/main")
    assert made_up.status_code == 200 and made_up.json()["name"] == "main"
    hub.set_branch("kernelci/api", "main", "b" * 40)
    moved = get(hub, "/repos/kernelci/api/branches/main", {"If-None-Match": made_up.headers["etag"]})
    assert moved.status_code == 200 and moved.json()["commit"]["sha"] == "b" * 40
    assert get(hub, "/repos/kernelci/api/branches/nope").status_code == 404

    git = LocalRepo.create(tmp_path / "linked.git", {"a": "1\n"})
    hub.add_repo("kernelci/linked", heads=git.branch_head)
    first = get(hub, "/repos/kernelci/linked/branches/main")
    assert first.json()["commit"]["sha"] == git.head("main")
    same = get(hub, "/repos/kernelci/linked/branches/main", {"If-None-Match": first.headers["etag"]})
    assert same.status_code == 304 and same.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]
    new = git.commit("main", {"a": "2\n"}, "main moves")
    after = get(hub, "/repos/kernelci/linked/branches/main", {"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and after.json()["commit"]["sha"] == new
    git.commit("feature/x", {"b": "1\n"}, "a branch with a slash")
    assert get(hub, "/repos/kernelci/linked/branches/feature/x").json()["name"] == "feature/x"
    assert get(hub, "/repos/kernelci/linked/pulls").status_code == 200
    hub.add_pr("kernelci/linked", 1, "alice", "c" * 40)
    assert get(hub, "/repos/kernelci/linked/pulls/1").json()["base"]["sha"] == new
    assert {e["route"] for e in hub.requests} >= {"GET /repos/{o}/{r}/branches/{branch}"}


def test_create_then_drop_the_answer(hub):
    """The lost-answer fault: the comment exists, the client sees a reset or a 502."""
    url = hub.url + "/repos/kernelci/api/issues/4/comments"
    hub.drop_answer_next(1, status=0, verb="POST /repos/{o}/{r}/issues/{n}/comments")
    assert get(hub, "/user").status_code == 200  # a fault for one route waits for it
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json={"body": "one"}, headers=AUTH, timeout=5)
    hub.drop_answer_next(1, status=502)
    assert requests.post(url, json={"body": "two"}, headers=AUTH, timeout=5).status_code == 502
    assert [c["body"] for c in hub.comments("kernelci/api", 4)] == ["one", "two"]
    assert [(e["status"], e.get("lost")) for e in hub.requests] == [(200, None), (0, 201), (502, 201)]
    hub.fail_next(1, status=502, verb="POST")
    assert requests.post(url, json={"body": "three"}, headers=AUTH, timeout=5).status_code == 502
    assert len(hub.comments("kernelci/api", 4)) == 2  # refused before anything was done
