"""kcistage.shell.github driving the real PyGithub against the stand-in over HTTP: request counts and faults."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta

import pytest

from kcistage.core.settings import GitHubSettings, Repo
from kcistage.errors import AuthError, ConfigError, RateLimited, ServiceError
from kcistage.sandbox.github_standin import FakeGitHub
from kcistage.shell.github import GitHub

REPOS = tuple(Repo(name=f"r{i}", github=f"kernelci/r{i}") for i in range(3))
API = REPOS[0]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


def sha(n: int) -> str:
    return f"{n:040x}"


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def hub(clock):
    with FakeGitHub(clock=clock) as fake:
        for repo in REPOS:
            fake.add_repo(repo.github)
            for n in range(1, 101):
                fake.add_pr(repo.github, n, "alice", sha(n))
        yield fake


def client(hub: FakeGitHub, clock: Clock, cache: dict | None = None, token: str = "test-token",
           **kw) -> GitHub:
    settings = GitHubSettings(api_url=hub.url, bot="KciBot")
    options = {"pace": 0, "retries": 2, "backoff": 0.01, "timeout": 2.0, **kw}
    return GitHub(settings, token, {} if cache is None else cache, clock, **options)


def poll_cost(hub: FakeGitHub, gh: GitHub, repos=REPOS):
    hub.reset_log()
    result = gh.poll(repos)
    counts = hub.counts()
    assert result.requests == counts["requests"]
    return result, counts


def test_request_budget_for_three_repos_of_100_prs(hub, clock):
    gh = client(hub, clock)
    first, counts = poll_cost(hub, gh)
    assert {name: len(prs) for name, prs in first.prs.items()} == {"r0": 100, "r1": 100, "r2": 100}
    # comments + pulls page 1 + the empty page 2 (page 1 is full: a 101st PR would be there)
    assert counts["requests"] <= 3 * len(REPOS)
    assert set(counts["by_route"]) == {"GET /repos/{o}/{r}/pulls", "GET /repos/{o}/{r}/issues/comments"}
    pr = first.prs["r1"][6]
    assert (pr.repo, pr.number, pr.sha, pr.author, pr.base) == ("r1", 7, sha(7), "alice", "main")
    assert pr.updated_at == "2026-01-01T12:00:00+00:00"

    clock.tick(30)
    idle, counts = poll_cost(hub, gh)
    assert counts["requests"] <= 3 * len(REPOS) and counts["counted"] == 0
    assert idle.prs == first.prs and idle.comments == []

    clock.tick(30)
    hub.push_pr("kernelci/r2", 42, "e" * 40)
    pushed, counts = poll_cost(hub, gh)
    assert counts["counted"] <= 1
    assert [p.sha for p in pushed.prs["r2"] if p.number == 42] == ["e" * 40]

    clock.tick(30)
    cid = hub.add_comment("kernelci/r0", 5, "a-wai", "@kcibot deploy")
    commented, counts = poll_cost(hub, gh)
    assert counts["counted"] <= 1
    assert [(c.repo, c.number, c.id, c.author) for c in commented.comments] == [("r0", 5, cid, "a-wai")]
    # What the engine then spends on it: permission, reaction, reply.
    gh.permission(API, "a-wai")
    gh.react(API, cid)
    gh.reply(API, 5, "approved", cid)
    assert hub.counts()["counted"] <= 5

    clock.tick(30)
    _, counts = poll_cost(hub, gh)  # our own reply is new content once
    clock.tick(30)
    _, counts = poll_cost(hub, gh)
    assert counts["counted"] == 0


def test_pages_beyond_100_are_all_kept_and_rechecked(hub, clock):
    for n in range(101, 151):
        hub.add_pr("kernelci/r0", n, "bob", sha(n))
    gh = client(hub, clock)
    first = gh.poll([API])
    assert [p.number for p in first.prs["r0"]] == list(range(1, 151))
    hub.update_pr("kernelci/r0", 120, state="closed")
    hub.push_pr("kernelci/r0", 130, "c" * 40)
    second, counts = poll_cost(hub, gh, [API])
    assert 120 not in {p.number for p in second.prs["r0"]} and len(second.prs["r0"]) == 149
    assert {p.number: p.sha for p in second.prs["r0"]}[130] == "c" * 40
    assert counts["by_route"]["GET /repos/{o}/{r}/pulls"] == 2 and counts["counted"] == 1
    _, counts = poll_cost(hub, gh, [API])
    assert counts["counted"] == 0


def test_comments_returned_once_never_replayed_and_filtered(hub, clock):
    old = hub.add_comment("kernelci/r0", 1, "a-wai", "@kcibot deploy (before we ever looked)",
                          created_at=clock.now - timedelta(hours=1))
    at_start = hub.add_comment("kernelci/r0", 1, "a-wai", "@kcibot deploy (as we first look)")
    gh = client(hub, clock)
    assert gh.poll([API]).comments == []
    clock.tick(10)
    ok = hub.add_comment("kernelci/r0", 2, "a-wai", "@kcibot deploy")
    hub.add_comment("kernelci/r0", 2, "kcibot", "I am the bot")
    hub.add_comment("kernelci/r0", 2, "someone", "quoted <!-- kcistage:sha=x --> marker")
    hub.add_comment("kernelci/r0", 500, "a-wai", "@kcibot deploy on an issue")
    hub.update_pr("kernelci/r0", 3, state="closed")
    hub.add_comment("kernelci/r0", 3, "a-wai", "@kcibot deploy on a closed PR")
    clock.tick(10)
    later = hub.add_comment("kernelci/r0", 4, "nuclearcat", "@kcibot trigger")
    found = gh.poll([API]).comments
    assert [(c.id, c.number, c.body) for c in found] == [
        (ok, 2, "@kcibot deploy"), (later, 4, "@kcibot trigger")]
    assert found[0].created_at == "2026-01-01T12:00:10+00:00"
    assert gh.poll([API]).comments == []
    clock.tick(10)
    hub.edit_comment("kernelci/r0", ok, "@kcibot trigger")
    hub.edit_comment("kernelci/r0", old, "@kcibot trigger (old one, edited)")
    hub.edit_comment("kernelci/r0", at_start, "@kcibot trigger (edited)")
    assert gh.poll([API]).comments == []
    gh.reply(API, 4, "bot text", later)
    gh.upsert_pr_comment(API, 4, sha(4), "deployed", None)
    assert gh.poll([API]).comments == []


def test_an_edit_long_after_is_ignored_even_once_its_id_is_forgotten(hub, clock):
    cache: dict = {}
    gh = client(hub, clock, cache)
    gh.poll([API])
    clock.tick(10)
    cid = hub.add_comment("kernelci/r0", 1, "nuclearcat", "@kcibot deploy")
    assert [c.id for c in gh.poll([API]).comments] == [cid]
    clock.tick(3600)
    newer = hub.add_comment("kernelci/r0", 2, "a-wai", "thanks")
    assert [c.id for c in gh.poll([API]).comments] == [newer]
    cache["seen"] = [i for i in cache["seen"] if i != cid]  # pushed out by 2000 newer ids
    clock.tick(60)
    hub.edit_comment("kernelci/r0", cid, "@kcibot trigger")
    assert gh.poll([API]).comments == []


def test_a_failed_poll_leaves_the_cache_unchanged_and_replays_later(hub, clock):
    cache: dict = {}
    gh = client(hub, clock, cache)
    gh.poll(REPOS)
    clock.tick(5)
    cid = hub.add_comment("kernelci/r2", 9, "a-wai", "@kcibot deploy")
    hub.push_pr("kernelci/r0", 1, "d" * 40)
    before = copy.deepcopy(cache)
    hub.fail_next(3, status=503)  # r0's comment list: first try and both retries
    hub.reset_log()
    with pytest.raises(ServiceError, match="GitHub unreachable"):
        gh.poll(REPOS)
    assert hub.counts()["requests"] == 3
    assert cache == before
    result = gh.poll(REPOS)
    assert [c.id for c in result.comments] == [cid]
    assert result.prs["r0"][0].sha == "d" * 40


def test_transient_faults_are_retried(hub, clock):
    gh = client(hub, clock)
    hub.fail_next(2, status=502)
    hub.reset_log()
    assert len(gh.poll([API]).prs["r0"]) == 100
    assert [e["status"] for e in hub.requests][:3] == [502, 502, 200]
    hub.fail_next(1, status=0)  # connection dropped
    assert gh.permission(API, "nobody") is None
    hub.slow_next(3, 0.5)
    slow = client(hub, clock, timeout=0.2, retries=2)
    with pytest.raises(ServiceError, match=r"GitHub unreachable \(timed out\): .* failed 3 times"):
        slow.permission(API, "alice")


def test_rate_limit_is_remembered_and_no_request_is_made(hub, clock):
    cache: dict = {}
    gh = client(hub, clock, cache)
    gh.poll(REPOS)
    hub.rate_limit_next(1, reset_in=600)
    with pytest.raises(RateLimited) as caught:
        gh.poll(REPOS)
    assert caught.value.reset_at == clock.now + timedelta(seconds=600)
    assert cache["rate_limited_until"] == "2026-01-01T12:10:00+00:00"
    hub.reset_log()
    with pytest.raises(RateLimited):
        gh.poll(REPOS)
    with pytest.raises(RateLimited):
        gh.reply(API, 1, "x", 1)
    assert hub.counts()["requests"] == 0
    clock.tick(601)
    gh.poll(REPOS)
    assert "rate_limited_until" not in cache
    hub.rate_limit_next(1, status=429, retry_after=30)
    with pytest.raises(RateLimited) as caught:
        gh.react(API, 1001)
    assert caught.value.reset_at == clock.now + timedelta(seconds=30)


def test_bad_token_and_unknown_repo(hub, clock):
    with pytest.raises(AuthError, match=r"rejected the token \(401\) at http://127\.0\.0\.1"):
        client(hub, clock, token="wrong").poll(REPOS)
    with pytest.raises(ConfigError, match="kernelci/missing"):
        client(hub, clock).poll([Repo(name="x", github="kernelci/missing")])


def test_permission_roles_and_cache(hub, clock):
    hub.set_permission("kernelci/r0", "Boss", "admin")
    hub.set_permission("kernelci/r0", "keeper", "maintain")
    hub.set_permission("kernelci/r0", "dev", "write")
    hub.set_permission("kernelci/r0", "tri", "triage")
    gh = client(hub, clock)
    roles = {login: gh.permission(API, login) for login in ("boss", "keeper", "dev", "tri", "stranger")}
    assert roles == {"boss": "admin", "keeper": "maintain", "dev": "write", "tri": "triage",
                     "stranger": None}
    hub.reset_log()
    assert gh.permission(API, "KEEPER") == "maintain" and gh.permission(API, "stranger") is None
    assert hub.counts()["requests"] == 0
    hub.set_permission("kernelci/r0", "keeper", "admin")
    clock.tick(3601)
    assert gh.permission(API, "keeper") == "admin" and hub.counts()["requests"] == 1


def test_writes(hub, clock):
    gh = client(hub, clock)
    cid = hub.add_comment("kernelci/r0", 5, "a-wai", "@kcibot deploy")
    gh.react(API, cid)
    gh.react(API, cid)
    assert hub.reactions(cid) == ["eyes"]
    rid = gh.reply(API, 5, "Approved at abc.", cid)
    assert hub.comments("kernelci/r0", 5)[-1]["id"] == rid
    assert hub.comments("kernelci/r0", 5)[-1]["body"].startswith("Approved at abc.")
    gh.set_status(API, sha(5), "pending", "partial deployment 7 " + "x" * 200, "http://s/7")
    status = hub.statuses[sha(5)][-1]
    assert (status["state"], status["context"], status["target_url"]) == (
        "pending", "kcistage/staging", "http://s/7")
    assert len(status["description"]) == 140
    first = gh.upsert_pr_comment(API, 5, sha(5), "Deployment 7: running", None)
    again = gh.upsert_pr_comment(API, 5, sha(5), "Deployment 7: success", first)
    assert again == first and len(hub.comments("kernelci/r0", 5)) == 3
    body = hub.comments("kernelci/r0", 5)[-1]["body"]
    assert body.startswith("Deployment 7: success") and f"<!-- kcistage:sha={sha(5)} -->" in body
    assert gh.upsert_pr_comment(API, 5, sha(5), "recreated", 999999) != first  # deleted: new one
    with pytest.raises(ValueError):
        gh.set_status(API, "../../x", "success", "nope")
    paced = client(hub, clock, pace=0.2)
    began = time.monotonic()
    paced.reply(API, 5, "one", 1)
    paced.reply(API, 5, "two", 2)
    assert time.monotonic() - began >= 0.2


@pytest.mark.parametrize("full_pages", [1, 2, 3])
def test_the_pr_after_a_full_last_page_is_fetched_while_page_1_is_unchanged(clock, full_pages):
    """With exactly 100, 200, 300 open PRs, the 101st (201st, 301st) shows up at the next poll."""
    with FakeGitHub(clock=clock) as hub:
        hub.add_repo(API.github)
        count = 100 * full_pages
        for n in range(1, count + 1):
            hub.add_pr(API.github, n, "alice", sha(n))
        gh = client(hub, clock)
        assert len(gh.poll([API]).prs["r0"]) == count
        clock.tick(30)
        idle, counts = poll_cost(hub, gh, [API])
        pulls = [r for r in hub.requests if r["route"] == "GET /repos/{o}/{r}/pulls"]
        # every full page plus the empty one after them, all conditional: no point spent
        assert len(pulls) == full_pages + 1 and counts["counted"] == 0
        assert [r["status"] for r in pulls] == [304] * (full_pages + 1)
        assert len(idle.prs["r0"]) == count
        clock.tick(30)
        hub.add_pr(API.github, count + 1, "bob", sha(count + 1))
        found, counts = poll_cost(hub, gh, [API])
        assert [p.number for p in found.prs["r0"]][-2:] == [count, count + 1]
        assert counts["counted"] == 1  # the new last page only
        clock.tick(30)
        hub.update_pr(API.github, count + 1, state="closed")
        gone, _ = poll_cost(hub, gh, [API])
        assert len(gone.prs["r0"]) == count


def test_the_standin_answers_an_empty_page_with_an_etag_and_304(hub, clock):
    """Like GitHub: a page past the end is 200 [] with an ETag, then 304 when asked with it."""
    import requests as http

    url = f"{hub.url}/repos/{API.github}/pulls?state=open&per_page=100&page=2"
    auth = {"Authorization": "token test-token"}
    first = http.get(url, headers=auth, timeout=5)
    assert first.status_code == 200 and first.json() == [] and first.headers["etag"]
    again = http.get(url, headers={**auth, "If-None-Match": first.headers["etag"]}, timeout=5)
    assert again.status_code == 304
    assert again.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]


def test_base_branch_head_is_asked_conditionally(hub, clock):
    cache: dict = {}
    gh = client(hub, clock, cache)
    hub.set_branch(API.github, "main", "a" * 40)
    hub.reset_log()
    assert gh.branch_head(API) == "a" * 40
    assert gh.branch_head(API) == "a" * 40
    assert [(r["status"], r["counted"]) for r in hub.requests] == [(200, True), (304, False)]
    hub.set_branch(API.github, "main", "b" * 40)
    assert client(hub, clock, cache).branch_head(API) == "b" * 40  # the ETag lives in the cache
    with pytest.raises(ServiceError, match="branch 'dev' not found on GitHub"):
        gh.branch_head(Repo(name="r0", github=API.github, base="dev"))


def own_comments(hub: FakeGitHub, number: int, marker: str) -> list[dict]:
    return [c for c in hub.comments(API.github, number) if marker in c["body"]]


@pytest.mark.parametrize("lost", [0, 502])
def test_a_comment_whose_answer_was_lost_is_found_not_posted_again(hub, clock, lost):
    """GitHub created it, the answer was lost (reset or 502): one POST, then one listing."""
    gh = client(hub, clock)
    hub.drop_answer_next(1, status=lost)
    hub.reset_log()
    cid = gh.upsert_pr_comment(API, 7, sha(7), "Deployment 1: success", None)
    assert [c["id"] for c in own_comments(hub, 7, f"sha={sha(7)}")] == [cid]
    assert [(r["method"], r["status"]) for r in hub.requests] == [
        ("GET", 200), ("POST", lost), ("GET", 200)]
    # a reply too: found by the comment it answers
    hub.drop_answer_next(1, status=lost)
    rid = gh.reply(API, 7, "not allowed", answers=4242)
    assert [c["id"] for c in own_comments(hub, 7, "reply-to=4242")] == [rid]
    assert sum(1 for r in hub.requests if r["method"] == "POST") == 2


def test_posts_are_never_repeated_blindly(hub, clock):
    """Refused before GitHub did anything: each new POST comes after a listing that finds nothing."""
    gh = client(hub, clock, retries=2)
    hub.fail_next(3, status=502, verb="POST")
    hub.reset_log()
    with pytest.raises(ServiceError, match="failed 3 times"):
        gh.upsert_pr_comment(API, 9, sha(9), "once", None)
    assert [(r["method"], r["status"]) for r in hub.requests] == [("GET", 200), ("POST", 502)] * 3
    assert own_comments(hub, 9, f"sha={sha(9)}") == []
    hub.fail_next(1, status=0, verb="POST")
    assert gh.reply(API, 9, "hello", answers=1) > 0
    assert len(own_comments(hub, 9, "reply-to=1")) == 1


def test_the_state_not_knowing_the_id_finds_the_comment_by_its_marker(hub, clock):
    """Killed after the POST, or the state file lost: the next run edits the same comment."""
    hub.add_comment(API.github, 3, "mallory", f"fake <!-- kcistage:sha={sha(3)} -->")
    first = client(hub, clock, {}).upsert_pr_comment(API, 3, sha(3), "Deployment 1: running", None)
    hub.reset_log()
    same = client(hub, clock, {}).upsert_pr_comment(API, 3, sha(3), "Deployment 1: running", None)
    assert same == first and [r["method"] for r in hub.requests] == ["GET"]  # unchanged: no write
    edited = client(hub, clock, {}).upsert_pr_comment(API, 3, sha(3), "Deployment 1: success", None)
    assert edited == first
    mine = [c for c in own_comments(hub, 3, f"sha={sha(3)}") if c["user"]["login"] == "kcibot"]
    assert [c["id"] for c in mine] == [first] and mine[0]["body"].startswith("Deployment 1: success")
    hub.reset_log()
    assert client(hub, clock, {}).reply(API, 3, "no", answers=77) == \
        client(hub, clock, {}).reply(API, 3, "no", answers=77)
    assert sum(1 for r in hub.requests if r["method"] == "POST") == 1
