"""Tests of roles, command outcomes, approval pinning and eligibility (SPEC 4 and 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core.comment_commands import Command, parse
from kcistage.core.enums import Cause
from kcistage.core.model import PullRequest
from kcistage.core.settings import Repo, Trust
from kcistage.core.trust import (
    Outcome,
    Verdict,
    conflict_holds,
    eligibility,
    judge,
    needs_permission,
    role,
)

HEAD = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BEFORE = T0 - timedelta(minutes=3)
AFTER = T0 + timedelta(seconds=1)

TRUST = Trust(users=("nuclearcat", "JenySadadia"), maintainers=("a-wai",), admins=("nuclearcat",))


# ---------------------------------------------------------------- roles

@pytest.mark.parametrize("login, trust, permission, expected", [
    ("nuclearcat", TRUST, None, "admin"),
    ("NuclearCat", TRUST, None, "admin"),
    ("a-wai", TRUST, None, "maintainer"),
    ("A-WAI", TRUST, None, "maintainer"),
    ("JenySadadia", TRUST, None, "trusted"),
    ("jenysadadia", TRUST, None, "trusted"),
    ("stranger", TRUST, None, None),
    ("stranger", TRUST, "admin", None),  # no min_permission: the API is never consulted
    ("", TRUST, None, None),
    ("a-wai-x", TRUST, None, None),
    # min_permission ranks: read < triage < write < maintain < admin
    ("stranger", Trust(min_permission="write"), "write", "maintainer"),
    ("stranger", Trust(min_permission="write"), "maintain", "maintainer"),
    ("stranger", Trust(min_permission="write"), "admin", "maintainer"),
    ("stranger", Trust(min_permission="write"), "triage", None),
    ("stranger", Trust(min_permission="write"), "read", None),
    ("stranger", Trust(min_permission="write"), "none", None),
    ("stranger", Trust(min_permission="write"), None, None),
    ("stranger", Trust(min_permission="write"), "bogus", None),
    ("stranger", Trust(min_permission="maintain"), "write", None),
    ("stranger", Trust(min_permission="maintain"), "maintain", "maintainer"),
    ("stranger", Trust(min_permission="maintain"), "Admin", "maintainer"),
    ("stranger", Trust(min_permission="admin"), "maintain", None),
    ("stranger", Trust(min_permission="admin"), "admin", "maintainer"),  # never "admin"
    # a permission lifts a trusted user to maintainer; a too-weak one leaves them trusted
    ("user", Trust(users=("user",), min_permission="write"), "write", "maintainer"),
    ("user", Trust(users=("user",), min_permission="write"), "read", "trusted"),
    # the config's admin list wins over any permission
    ("boss", Trust(admins=("boss",), min_permission="write"), "read", "admin"),
    # a bad min_permission grants nothing
    ("stranger", Trust(min_permission="none"), "none", None),
    ("stranger", Trust(min_permission="nonsense"), "admin", None),
    # a deleted account (GitHub's `user: null`) has no role, whatever it could be asked for
    ("", Trust(min_permission="read"), "admin", None),
])
def test_role(login: str, trust: Trust, permission: str | None, expected: str | None) -> None:
    assert role(login, trust, permission) == expected


@pytest.mark.parametrize("login, trust, expected", [
    ("stranger", TRUST, False),  # no min_permission: never ask
    ("stranger", Trust(min_permission="write"), True),
    ("user", Trust(users=("user",), min_permission="write"), True),  # may be lifted to maintainer
    ("Maint", Trust(maintainers=("maint",), min_permission="write"), False),
    ("BOSS", Trust(admins=("boss",), min_permission="admin"), False),
    ("", Trust(min_permission="read"), False),  # a deleted account: nobody to ask about
])
def test_needs_permission(login: str, trust: Trust, expected: bool) -> None:
    assert needs_permission(login, trust) is expected


# ---------------------------------------------------------------- judge

def cmd(text: str) -> Command:
    [command] = parse(text, "kcibot")
    return command


def run(text: str, who: str = "a-wai", author_role: str | None = "maintainer",
        head: str | None = HEAD, seen: datetime | None = BEFORE) -> Outcome:
    return judge(cmd(text), who, author_role, head, seen, T0, "kcibot")


ACCEPTS = [
    # (comment, role, seen, cycle)
    ("@kcibot deploy", "maintainer", BEFORE, None),
    ("@kcibot deploy", "admin", BEFORE, "partial"),
    ("@kcibot trigger", "admin", BEFORE, "full"),
    ("@kcibot deploy", "maintainer", T0 - timedelta(seconds=1), None),  # a second before
    (f"@kcibot deploy {HEAD}", "maintainer", BEFORE, None),
    (f"@kcibot deploy {HEAD.upper()}", "maintainer", BEFORE, None),
    ("@kcibot deploy 0123456", "maintainer", BEFORE, None),  # 7-digit prefix
    ("@kcibot deploy 0123456789ab", "admin", BEFORE, "partial"),
    ("@kcibot trigger 0123456789ab", "admin", BEFORE, "full"),
    # an explicit sha needs no earlier sighting of the head
    ("@kcibot deploy 0123456", "maintainer", None, None),
    ("@kcibot deploy 0123456", "maintainer", AFTER, None),
]


@pytest.mark.parametrize("text, author_role, seen, cycle", ACCEPTS)
def test_judge_accepts(text: str, author_role: str, seen: datetime | None, cycle: str | None) -> None:
    assert run(text, author_role=author_role, seen=seen) == Outcome(True, HEAD, cycle, None)


REFUSALS = [
    # (comment, role, head, seen, words the reply must contain)
    ("@kcibot deploy", None, HEAD, BEFORE, ["@a-wai is not allowed to deploy"]),
    ("@kcibot deploy", "trusted", HEAD, BEFORE, ["not allowed to deploy", "maintainers"]),
    ("@kcibot trigger", None, HEAD, BEFORE, ["not allowed to trigger"]),
    ("@kcibot trigger", "maintainer", HEAD, BEFORE, ["only admins may trigger", "`@kcibot deploy [sha]`"]),
    ("@kcibot trigger 0123456", "maintainer", HEAD, BEFORE, ["only admins may trigger"]),
    ("@kcibot merge", "admin", HEAD, BEFORE,
     ["unknown command `merge`", "`@kcibot deploy [sha]`", "`@kcibot trigger [sha]`"]),
    ("@kcibot merge", None, HEAD, BEFORE, ["unknown command `merge`"]),
    ("@kcibot", "admin", HEAD, BEFORE, ["no command given", "`@kcibot deploy [sha]`"]),
    ("@kcibot deploy", "admin", None, BEFORE, ["not open"]),
    ("@kcibot deploy 0123456", "maintainer", None, BEFORE, ["not open"]),
    ("@kcibot deploy please", "maintainer", HEAD, BEFORE,
     ["not a commit id", "`@kcibot deploy 0123456789ab`"]),
    ("@kcibot deploy 0123456789abcdef0123456789abcdef012345670", "maintainer", HEAD, BEFORE,
     ["not a commit id"]),  # longer than a sha
    ("@kcibot deploy 012345", "maintainer", HEAD, BEFORE,
     ["at least 7 hex digits", "`@kcibot deploy 0123456789ab`"]),
    ("@kcibot trigger 012", "admin", HEAD, BEFORE, ["at least 7", "`@kcibot trigger 0123456789ab`"]),
    (f"@kcibot deploy {OTHER}", "maintainer", HEAD, BEFORE,
     [f"`{OTHER}` is not the head", "`0123456789ab`", "`@kcibot deploy 0123456789ab`"]),
    ("@kcibot deploy 1234567", "admin", HEAD, BEFORE, ["not the head"]),  # hex but not a prefix
    ("@kcibot deploy", "maintainer", HEAD, None,
     ["had not seen this pull request", "`@kcibot deploy 0123456789ab`"]),
    ("@kcibot deploy", "maintainer", HEAD, AFTER,
     ["changed around your comment", "`@kcibot deploy 0123456789ab`"]),
    ("@kcibot trigger", "admin", HEAD, AFTER, ["changed around", "`@kcibot trigger 0123456789ab`"]),
    # GitHub's times have whole seconds: a head first seen in the comment's second may be newer
    ("@kcibot deploy", "maintainer", HEAD, T0, ["changed around your comment"]),
]


@pytest.mark.parametrize("text, author_role, head, seen, words", REFUSALS)
def test_judge_refuses(text: str, author_role: str | None, head: str | None,
                       seen: datetime | None, words: list[str]) -> None:
    outcome = run(text, author_role=author_role, head=head, seen=seen)
    assert outcome.accepted is False
    assert outcome.approve_sha is None and outcome.cycle is None
    assert outcome.reply
    for word in words:
        assert word in outcome.reply
    assert "nothing" in outcome.reply or "not allowed" in outcome.reply \
        or "command" in outcome.reply or "only admins" in outcome.reply


@pytest.mark.parametrize("pr_seen, words", [
    (AFTER, "had not seen this pull request before your comment"),  # first polled after it
    (T0, "had not seen this pull request before your comment"),
    (BEFORE, "changed around your comment"),  # known before: its head really changed
    (None, "changed around your comment"),  # an older record: when it was first seen is unknown
])
def test_a_comment_before_the_first_poll_asks_for_the_sha(pr_seen: datetime | None,
                                                          words: str) -> None:
    outcome = judge(cmd("@kcibot deploy"), "a-wai", "maintainer", HEAD, AFTER, T0, "kcibot",
                    pr_seen_at=pr_seen)
    assert not outcome.accepted and outcome.reply is not None
    assert words in outcome.reply and "`@kcibot deploy 0123456789ab`" in outcome.reply


def test_unknown_verb_is_sanitised() -> None:
    long_verb = "x" * 100
    outcome = judge(Command(verb="a`b" + long_verb, sha=None, line=""), "u", "admin", HEAD,
                    BEFORE, T0, "kcibot")
    assert outcome.reply is not None
    assert f"`ab{'x' * 38}`" in outcome.reply
    assert "x" * 39 not in outcome.reply


def test_bot_name_in_replies() -> None:
    outcome = judge(Command("deploy", None, "@sbot deploy"), "m", "maintainer", HEAD, None, T0, "sbot")
    assert "`@sbot deploy 0123456789ab`" in (outcome.reply or "")


# ---------------------------------------------------------------- judge properties

LOGINS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", fullmatch=True)
SHAS = st.text("0123456789abcdef", min_size=40, max_size=40)
TIMES = st.one_of(st.none(), st.sampled_from([BEFORE, T0, AFTER]))
ROLES = st.sampled_from([None, "trusted", "maintainer", "admin"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), LOGINS, ROLES, st.one_of(st.none(), SHAS), TIMES)
def test_judge_only_approves_head(body: str, author: str, author_role: str | None,
                                  head: str | None, seen: datetime | None) -> None:
    for command in parse("@kcibot " + body, "kcibot"):
        outcome = judge(command, author, author_role, head, seen, T0, "kcibot")
        if outcome.accepted:
            assert outcome.approve_sha == head and outcome.reply is None
            assert author_role in ("maintainer", "admin")
        else:
            assert outcome.approve_sha is None and outcome.cycle is None and outcome.reply


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["deploy", "trigger", "Deploy"]),
       st.one_of(st.none(), st.text("0123456789abcdefABCDEF", max_size=41), st.text(max_size=50)),
       ROLES, st.one_of(st.none(), SHAS), TIMES)
def test_judge_sha_argument_never_approves_another_commit(
        verb: str, arg: str | None, author_role: str | None, head: str | None,
        seen: datetime | None) -> None:
    text = f"@kcibot {verb}" + (f" {arg}" if arg else "")
    for command in parse(text, "kcibot"):
        outcome = judge(command, "someone", author_role, head, seen, T0, "kcibot")
        assert outcome.approve_sha in (None, head)
        if outcome.accepted and command.sha is not None:
            assert head is not None and head.startswith(command.sha) and len(command.sha) >= 7


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", "deploy ", "trigger ", "deploy 0123456 ", "DEPLOY "]),
       st.text(min_size=41, max_size=200), ROLES, st.one_of(st.none(), SHAS), TIMES)
def test_reply_never_echoes_more_than_40_chars(prefix: str, junk: str, author_role: str | None,
                                              head: str | None, seen: datetime | None) -> None:
    for command in parse(f"@kcibot {prefix}{junk}", "kcibot"):
        reply = judge(command, "someone", author_role, head, seen, T0, "kcibot").reply or ""
        source = command.line.replace("`", "")
        windows = {source[i:i + 41] for i in range(len(source) - 40)}
        assert not [w for w in windows if w in reply]


def test_reply_echo_limit_is_reached_but_not_passed() -> None:
    verb = "v" * 60
    reply = run(f"@kcibot {verb}").reply or ""
    assert "v" * 40 in reply and "v" * 41 not in reply


# ---------------------------------------------------------------- eligibility

REPO = Repo(name="kernelci-api", github="kernelci/kernelci-api", base="main")
BASE = "b" * 40
OLD_BASE = "a" * 40


def pr(**changes: object) -> PullRequest:
    fields: dict = dict(repo="kernelci-api", number=12, author="someone", sha=HEAD, base="main")
    fields.update(changes)
    return PullRequest(**fields)  # type: ignore[arg-type]


APPROVED = {"sha": HEAD, "by": "a-wai", "comment": 99}
STALE_APPROVAL = {"sha": OTHER, "by": "a-wai", "comment": 98}
CULPRIT = {"sha": HEAD, "reason": "culprit", "deployment": 12}
CONFLICT = {"sha": HEAD, "reason": "conflict", "base": BASE}

ELIGIBILITY = [
    # (pr, role, approval, excluded, expected verdict)
    (pr(base="feature"), "admin", APPROVED, None,
     Verdict(False, "skipped", "other base feature (staging merges main)", Cause.OTHER_BASE)),
    (pr(draft=True), "admin", APPROVED, None, Verdict(False, "skipped", "draft", Cause.DRAFT)),
    (pr(labels=("bug", "staging-skip")), "admin", APPROVED, None,
     Verdict(False, "skipped", "skip label staging-skip", Cause.SKIP_LABEL)),
    (pr(labels=("Staging-Skip",)), "admin", None, None,
     Verdict(False, "skipped", "skip label staging-skip", Cause.SKIP_LABEL)),
    (pr(), "admin", APPROVED, CULPRIT,
     Verdict(False, "excluded", "culprit of deployment 12 at 0123456", Cause.CULPRIT)),
    (pr(), None, None, {"sha": HEAD, "reason": "culprit"},
     Verdict(False, "excluded", "culprit at 0123456", Cause.CULPRIT)),
    (pr(), "trusted", None, CONFLICT, Verdict(False, "excluded", "conflict with main at bbbbbbb",
                                                      Cause.CONFLICT)),
    (pr(), "trusted", None, {"sha": HEAD, "reason": "conflict"},
     Verdict(False, "excluded", "conflict with main", Cause.CONFLICT)),
    (pr(), "trusted", None, {"sha": HEAD, "reason": "head moved"},
     Verdict(False, "excluded", "head moved", Cause.BY_HAND)),
    (pr(), "trusted", None, {"sha": HEAD, "reason": "culprit of deployment 7 at 0123456"},
     Verdict(False, "excluded", "culprit of deployment 7 at 0123456", Cause.BY_HAND)),
    # records that store their cause (the words come from the cause, never the other way)
    (pr(), "trusted", None, {"sha": HEAD, "cause": "conflict", "base": BASE},
     Verdict(False, "excluded", "conflict with main at bbbbbbb", Cause.CONFLICT)),
    (pr(), "trusted", None, {"sha": HEAD, "cause": "conflict", "base": OLD_BASE},
     Verdict(True, "pending", "trusted author someone")),
    (pr(), None, None, {"sha": HEAD, "cause": "culprit", "deployment": 3},
     Verdict(False, "excluded", "culprit of deployment 3 at 0123456", Cause.CULPRIT)),
    (pr(), None, None, {"sha": HEAD, "cause": "by_hand", "reason": "breaks the lab"},
     Verdict(False, "excluded", "breaks the lab", Cause.BY_HAND)),
    # a new push re-admits an excluded PR
    (pr(), "trusted", None, dict(CULPRIT, sha=OTHER),
     Verdict(True, "pending", "trusted author someone")),
    # a conflict recorded against an older base is retried
    (pr(), "trusted", None, dict(CONFLICT, base=OLD_BASE),
     Verdict(True, "pending", "trusted author someone")),
    # the reason names the PRs merged before it, the composition it conflicted with
    (pr(), "trusted", None, {"sha": HEAD, "cause": "conflict", "base": BASE,
                             "merged_before": [[3, OTHER], [7, HEAD]]},
     Verdict(False, "excluded", "conflict with main at bbbbbbb and #3, #7", Cause.CONFLICT)),
    (pr(), "maintainer", None, None, Verdict(True, "pending", "trusted author someone")),
    (pr(), "admin", STALE_APPROVAL, None, Verdict(True, "pending", "trusted author someone")),
    (pr(), None, APPROVED, None, Verdict(True, "pending", "approved by a-wai at 0123456")),
    # approve-then-push: the approval no longer covers the head
    (pr(), None, STALE_APPROVAL, None,
     Verdict(False, "excluded", "approval dropped: pushed after approval at fedcba9",
             Cause.APPROVAL_DROPPED)),
    (pr(), None, None, None, Verdict(
        False, "skipped",
        "author not trusted and no approval (a maintainer can comment `@kcibot deploy`)", Cause.UNTRUSTED)),
]


@pytest.mark.parametrize("the_pr, author_role, approval, excluded, expected", ELIGIBILITY)
def test_eligibility(the_pr: PullRequest, author_role: str | None, approval: dict | None,
                     excluded: dict | None, expected: Verdict) -> None:
    assert eligibility(the_pr, REPO, TRUST, author_role, approval, excluded, BASE) == expected


P3, P5 = [3, OTHER], [5, "5" * 40]
WITH_3 = {"sha": HEAD, "cause": "conflict", "base": BASE, "merged_before": [P3]}


@pytest.mark.parametrize("excluded, base_sha, merged_before, holds", [
    # the same composition: still excluded
    (WITH_3, BASE, [P3], True),
    ({**WITH_3, "merged_before": []}, BASE, [], True),  # against the base alone
    # the composition changed: retried
    (WITH_3, BASE, [], False),  # the PR merged before it closed (or was left out)
    (WITH_3, BASE, [[3, "3" * 40]], False),  # it was pushed
    (WITH_3, BASE, [P3, P5], False),  # another one now merges before it
    ({**WITH_3, "merged_before": []}, BASE, [P3], False),
    (WITH_3, OLD_BASE, [P3], False),  # the base moved
    # what is not known is taken as unchanged, so a conflict cannot flap
    (WITH_3, None, [P3], True),
    (WITH_3, BASE, None, True),
    ({"sha": HEAD, "cause": "conflict", "base": BASE}, BASE, [P5], True),  # an older record
    ({"sha": HEAD, "cause": "conflict", "base": BASE}, OLD_BASE, [P5], False),
])
def test_a_conflict_holds_against_the_same_composition_only(
        excluded: dict, base_sha: str | None, merged_before: list | None, holds: bool) -> None:
    assert conflict_holds(excluded, base_sha, merged_before) is holds
    verdict = eligibility(pr(), REPO, TRUST, "trusted", None, excluded, base_sha,
                          merged_before=merged_before)
    assert verdict.eligible is not holds
    assert (verdict.cause is Cause.CONFLICT) is holds


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.sampled_from([HEAD, OTHER])), max_size=4),
       st.lists(st.tuples(st.integers(1, 9), st.sampled_from([HEAD, OTHER])), max_size=4),
       st.sampled_from([BASE, OLD_BASE]))
def test_a_conflict_is_retried_exactly_when_the_composition_changed(
        recorded: list, now: list, base_sha: str) -> None:
    excluded = {"sha": HEAD, "cause": "conflict", "base": BASE, "merged_before": [list(p) for p in recorded]}
    same = base_sha == BASE and [list(p) for p in recorded] == [list(p) for p in now]
    assert conflict_holds(excluded, base_sha, [list(p) for p in now]) is same


def test_eligibility_order_of_checks() -> None:
    # All causes at once; removing them one by one names each in SPEC order.
    causes = [
        ("other base", dict(base="feature")),
        ("draft", dict(draft=True)),
        ("skip label", dict(labels=("staging-skip",))),
        ("culprit", dict(excluded=CULPRIT)),
        ("trusted author", dict(author_role="trusted")),  # trust beats a stale approval
        ("approval dropped", dict(approval=STALE_APPROVAL)),
        ("author not trusted", {}),
    ]
    for index, (expected, _) in enumerate(causes):
        args: dict = dict(author_role=None, approval=None, excluded=None)
        fields: dict = {}
        for _, change in causes[index:]:
            for key, value in change.items():
                (args if key in args else fields)[key] = value
        verdict = eligibility(pr(**fields), REPO, TRUST, args["author_role"], args["approval"],
                              args["excluded"], BASE)
        assert verdict.reason.startswith(expected), (expected, verdict)


def test_eligibility_conflict_without_known_base_stays_excluded() -> None:
    # The caller may not know the base yet: a conflict at this head then still holds.
    verdict = eligibility(pr(), REPO, TRUST, "admin", None, CONFLICT, None)
    assert verdict.state == "excluded"
    assert eligibility(pr(), REPO, TRUST, "admin", None, CONFLICT, BASE).state == "excluded"


def test_eligibility_skip_label_and_bot_from_config() -> None:
    trust = Trust(skip_label="no-staging")
    assert eligibility(pr(labels=("no-staging",)), REPO, trust, None, None, None).reason \
        == "skip label no-staging"
    assert eligibility(pr(labels=("staging-skip",)), REPO, trust, None, None, None, bot="sbot") \
        == Verdict(False, "skipped",
                   "author not trusted and no approval (a maintainer can comment `@sbot deploy`)",
                   Cause.UNTRUSTED)


def test_eligibility_other_repo_base() -> None:
    repo = Repo(name="kernelci-core", github="kernelci/kernelci-core", base="staging")
    assert eligibility(pr(base="main"), repo, TRUST, "admin", None, None).reason \
        == "other base main (staging merges staging)"
    assert eligibility(pr(base="staging"), repo, TRUST, "admin", None, None).eligible


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.booleans(), ROLES, st.sampled_from([None, APPROVED, STALE_APPROVAL]),
       st.sampled_from([None, CULPRIT, CONFLICT, dict(CULPRIT, sha=OTHER)]))
def test_eligibility_states_are_consistent(draft: bool, skip: bool, author_role: str | None,
                                           approval: dict | None, excluded: dict | None) -> None:
    the_pr = pr(draft=draft, labels=("staging-skip",) if skip else ())
    verdict = eligibility(the_pr, REPO, TRUST, author_role, approval, excluded, BASE)
    assert verdict.state == ("pending" if verdict.eligible else verdict.state)
    assert verdict.state in ("pending", "skipped", "excluded")
    assert verdict.reason
    if verdict.eligible:
        assert not draft and not skip
        assert author_role is not None or (approval is not None and approval["sha"] == HEAD)
        assert excluded is None or excluded["sha"] != HEAD


@pytest.mark.parametrize("text", ["@kcibot deploy", "@kcibot trigger", "@kcibot merge", "@kcibot",
                                  f"@kcibot deploy {HEAD}"])
@pytest.mark.parametrize("author_role", [None, "maintainer", "admin"])
def test_a_deleted_account_commands_nothing_and_gets_no_reply(text: str, author_role: str | None) -> None:
    assert judge(cmd(text), "", author_role, HEAD, BEFORE, T0, "kcibot") == \
        Outcome(accepted=False, approve_sha=None, cycle=None, reply=None)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-7200, max_value=7200), st.sampled_from(["maintainer", "admin"]))
def test_without_a_sha_only_a_head_seen_strictly_before_the_comment_is_approved(
        offset: int, author_role: str) -> None:
    # Both times are GitHub's (whole seconds): the same second is not "before".
    seen = T0 + timedelta(seconds=offset)
    outcome = judge(cmd("@kcibot deploy"), "a-wai", author_role, HEAD, seen, T0, "kcibot")
    assert outcome.accepted is (offset < 0)
    assert (outcome.approve_sha == HEAD) is (offset < 0)
    assert outcome.accepted or "changed around your comment" in (outcome.reply or "")


@pytest.mark.parametrize("extra, words", [
    ({"conflict_files": ["api/main.py"], "conflict_with": [7]},
     "conflict with #7 in api/main.py (on main at bbbbbbb)"),
    ({"conflict_files": ["a", "b", "c", "d", "e"], "conflict_with": [3, 7]},
     "conflict with #3, #7 in a, b, c and 2 more (on main at bbbbbbb)"),
    ({"conflict_files": ["api/main.py"], "conflict_with": []},
     "conflict with main at bbbbbbb in api/main.py"),
    ({"conflict_files": [], "conflict_with": []}, "conflict with main at bbbbbbb"),
    ({}, "conflict with main at bbbbbbb and #3, #7"),  # an older record: all merged before it
])
def test_a_conflict_names_what_touches_the_same_files(extra: dict, words: str) -> None:
    from kcistage.core.trust import exclusion_reason
    excluded = {"sha": HEAD, "cause": "conflict", "base": "b" * 40,
                "merged_before": [[3, OTHER], [7, OTHER]], **extra}
    assert exclusion_reason(excluded, HEAD, Repo(name="kernelci-api", github="k/a")) == words
