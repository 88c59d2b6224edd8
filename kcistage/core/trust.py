"""Roles, comment command outcomes, approval pinning and PR eligibility (docs/rules.md, docs/trust.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kcistage.core.comment_commands import VERBS, Command
from kcistage.core.enums import Cause, Cycle, PrState, Role
from kcistage.core.model import PullRequest
from kcistage.core.settings import Repo, Trust
from kcistage.core.state import Approval, Exclusion

# kcistage roles from strongest to weakest; None means no role at all.
ROLES = tuple(Role)

# GitHub repository permissions, weakest first ("maintain"/"triage" come from `role_name`).
GITHUB_PERMISSIONS = ("read", "triage", "write", "maintain", "admin")
PERMISSION_RANKS = ("none", *GITHUB_PERMISSIONS)

_HEX_RE = re.compile(r"^[0-9a-f]+$")
MIN_SHA_PREFIX = 7
SHOWN_SHA = 12  # how much of the head a reply shows (public data, unambiguous in practice)
MAX_ECHO = 40  # longest piece of comment text a reply may repeat


def _in(login: str, logins: tuple[str, ...]) -> bool:
    """Case-insensitive membership: GitHub logins are case-insensitive."""
    folded = login.casefold()
    return any(folded == other.casefold() for other in logins)


def _rank(permission: str | None) -> int:
    """Position of a GitHub permission in PERMISSION_RANKS (-1 for unknown or None)."""
    if permission is None:
        return -1
    try:
        return PERMISSION_RANKS.index(permission.strip().lower())
    except ValueError:
        return -1


def role(login: str, trust: Trust, permission: str | None = None) -> Role | None:
    """The role of `login`: admin, maintainer, trusted or None (author_association unused).

    An empty login (a deleted account: GitHub sends `user: null`) has no role at all."""
    if not login:
        return None
    if _in(login, trust.admins):
        return Role.ADMIN
    if _in(login, trust.maintainers):
        return Role.MAINTAINER
    # An unknown (or "none") min_permission must not make everyone a maintainer.
    needed = _rank(trust.min_permission)
    if trust.min_permission is not None and needed >= 1 and _rank(permission) >= needed:
        return Role.MAINTAINER
    if _in(login, trust.users):
        return Role.TRUSTED
    return None


def needs_permission(login: str, trust: Trust) -> bool:
    """True when only GitHub's permission API can tell whether `login` is a maintainer."""
    if trust.min_permission is None or not login:
        return False
    return not (_in(login, trust.admins) or _in(login, trust.maintainers))


@dataclass(frozen=True)
class Outcome:
    """What a comment command does: approve a commit, ask for a cycle, or one refusal reply."""

    accepted: bool
    approve_sha: str | None  # approve the PR at this commit
    cycle: Cycle | None  # partial (admin deploy) | full (admin trigger) | None
    reply: str | None  # the one reply for a refused command (None when accepted)


def _inline(text: str) -> str:
    """Untrusted text made safe to quote as inline code: printable, no backticks, ≤ MAX_ECHO."""
    cleaned = "".join(ch for ch in text if ch.isprintable() and ch != "`")
    return "`" + cleaned[:MAX_ECHO] + "`"


def _login(text: str) -> str:
    """A login as shown in replies (GitHub logins are [A-Za-z0-9-]; bots add "[bot]")."""
    return re.sub(r"[^A-Za-z0-9_\-\[\]]", "", text)[:MAX_ECHO]


def _usage(bot: str) -> str:
    return f"`@{bot} deploy [sha]` or `@{bot} trigger [sha]`"


def _refuse(reply: str) -> Outcome:
    return Outcome(accepted=False, approve_sha=None, cycle=None, reply=reply)


def judge(cmd: Command, author: str, author_role: str | None, head: str | None,
          head_seen_at: datetime | None, created_at: datetime, bot: str,
          pr_seen_at: datetime | None = None) -> Outcome:
    """The outcome of one command written by `author` at `created_at` on a PR whose head is `head`.

    `head_seen_at` is when kcistage first listed this head, `pr_seen_at` when it first listed
    the PR at all (None: unknown); both on GitHub's clock, like `created_at`.

    A comment of a deleted account (empty `author`) does nothing and gets no reply: there is
    nobody to tell, and an "@ is not allowed" would only be noise on the PR."""
    if not author:
        return Outcome(accepted=False, approve_sha=None, cycle=None, reply=None)
    who = "@" + _login(author)
    if cmd.verb not in VERBS:
        if not cmd.verb:
            return _refuse(f"{who}: no command given: use {_usage(bot)}.")
        return _refuse(f"{who}: unknown command {_inline(cmd.verb)}: use {_usage(bot)}.")
    if author_role not in (Role.ADMIN, Role.MAINTAINER):
        return _refuse(f"{who} is not allowed to {cmd.verb} pull requests: only maintainers "
                       f"and admins listed in the kcistage configuration can.")
    if cmd.verb == "trigger" and author_role != Role.ADMIN:
        return _refuse(f"{who}: only admins may trigger a full cycle; nothing was approved. "
                       f"A maintainer can approve with `@{bot} deploy [sha]`.")
    if head is None:
        return _refuse(f"{who}: this pull request is not open (or not known to kcistage); "
                       f"nothing was approved.")
    head = head.lower()
    again = f"`@{bot} {cmd.verb} {head[:SHOWN_SHA]}`"
    if cmd.sha is not None:
        sha = cmd.sha.lower()
        if not _HEX_RE.match(sha) or len(sha) > len(head):
            return _refuse(f"{who}: the argument is not a commit id; nothing was approved. "
                           f"To approve the current head, comment {again}.")
        if len(sha) < MIN_SHA_PREFIX:
            return _refuse(f"{who}: a commit id needs at least {MIN_SHA_PREFIX} hex digits; "
                           f"nothing was approved. To approve the current head, comment {again}.")
        if not head.startswith(sha):
            return _refuse(f"{who}: `{sha}` is not the head of this pull request (the head is "
                           f"`{head[:SHOWN_SHA]}`); nothing was approved. To approve the current "
                           f"head, comment {again}.")
    elif head_seen_at is None or (pr_seen_at is not None and pr_seen_at >= created_at):
        # never polled before the comment: there was no "head before", so nothing "changed"
        return _refuse(f"{who}: kcistage had not seen this pull request before your comment, so "
                       f"it cannot tell which commit you reviewed; nothing was approved. To "
                       f"approve the current head, comment {again}.")
    elif head_seen_at >= created_at:
        # Both times are GitHub's, to the second: a head first seen in the very second of the
        # comment may have been pushed just after it, so it is not "before".
        return _refuse(f"{who}: the head of this pull request changed around your comment; "
                       f"nothing was approved. To approve the current head, comment {again}.")
    cycle = None
    if author_role == Role.ADMIN:
        cycle = Cycle.FULL if cmd.verb == "trigger" else Cycle.PARTIAL
    return Outcome(accepted=True, approve_sha=head, cycle=cycle, reply=None)


@dataclass(frozen=True)
class Verdict:
    """Whether a PR goes to staging, its status state, why (as data) and the reason in words."""

    eligible: bool
    state: PrState  # pending when eligible, else skipped or excluded
    reason: str
    cause: Cause | None = None  # why it is out; None when eligible


def exclusion_cause(excluded: Exclusion) -> Cause:
    """The cause of an exclusion record.

    Records written before causes were stored carry only "reason": "culprit", "conflict" (or an
    older "conflict ..." sentence), or words kept as written (read as by hand)."""
    stored = excluded.get("cause")
    if stored is not None:
        return Cause(stored)
    legacy = str(excluded.get("reason") or "")
    if legacy == "culprit":
        return Cause.CULPRIT
    if legacy.startswith("conflict"):
        return Cause.CONFLICT
    return Cause.BY_HAND


FILES_NAMED = 3  # a conflict's reason names this many files, then how many more


def exclusion_reason(excluded: Exclusion, sha: str, repo: Repo) -> str:
    """The words for an exclusion record at head `sha` (an operator's words are kept as written)."""
    cause = exclusion_cause(excluded)
    if cause is Cause.CULPRIT:
        deployment = excluded.get("deployment")
        of = f" of deployment {deployment}" if deployment is not None else ""
        return f"culprit{of} at {sha[:7]}"
    if cause is Cause.CONFLICT:
        base = excluded.get("base")
        on_base = f"{repo.base}" + (f" at {base[:7]}" if base else "")
        files = excluded.get("conflict_files")
        if files is not None:  # what git said: the PRs before it that touch the same files
            where = (" in " + ", ".join(files[:FILES_NAMED])
                     + (f" and {len(files) - FILES_NAMED} more" if len(files) > FILES_NAMED
                        else "")) if files else ""
            with_prs = [f"#{number}" for number in excluded.get("conflict_with") or ()]
            if with_prs:
                return f"conflict with {', '.join(with_prs)}{where} (on {on_base})"
            return f"conflict with {on_base}{where}"
        # an older record: what was merged before it
        merged = [f"#{number}" for number, _sha in excluded.get("merged_before") or ()]
        return f"conflict with {on_base}" + (" and " + ", ".join(merged) if merged else "")
    if cause is Cause.HEAD_MOVED:
        return "head moved"
    return str(excluded.get("reason") or "excluded")


def conflict_holds(excluded: Exclusion, base_sha: str | None,
                   merged_before: list[list[Any]] | None) -> bool:
    """Whether a conflict recorded against a composition still applies to the one at hand.

    It was recorded against the base SHA and the (number, sha) merged before the PR; it is
    retried as soon as either changed (a PR before it closed, was pushed or left out, a new one
    came in before it, the base moved). What the caller does not know (None), and what an older
    record did not keep, is taken as unchanged, so that a conflict cannot flap."""
    if base_sha is not None and excluded.get("base") not in (None, base_sha):
        return False
    recorded = excluded.get("merged_before")
    if merged_before is None or recorded is None:
        return True
    return [list(p) for p in recorded] == [list(p) for p in merged_before]


def eligibility(pr: PullRequest, repo: Repo, trust: Trust, author_role: str | None,
                approval: Approval | None, excluded: Exclusion | None,
                base_sha: str | None = None, bot: str = "kcibot",
                merged_before: list[list[Any]] | None = None) -> Verdict:
    """Whether `pr` is eligible for staging, checking causes in a fixed order.

    `merged_before` is the (number, sha) of the PRs the target merges before this one."""
    skipped, excluded_state = PrState.SKIPPED, PrState.EXCLUDED
    if pr.base != repo.base:
        return Verdict(False, skipped, f"other base {pr.base} (staging merges {repo.base})",
                       Cause.OTHER_BASE)
    if pr.draft:
        return Verdict(False, skipped, "draft", Cause.DRAFT)
    skip = trust.skip_label.casefold()
    if any(label.casefold() == skip for label in pr.labels):
        return Verdict(False, skipped, f"skip label {trust.skip_label}", Cause.SKIP_LABEL)
    if excluded and excluded.get("sha") == pr.sha:
        cause = exclusion_cause(excluded)
        if cause is not Cause.CONFLICT or conflict_holds(excluded, base_sha, merged_before):
            return Verdict(False, excluded_state, exclusion_reason(excluded, pr.sha, repo), cause)
    if author_role is not None:
        return Verdict(True, PrState.PENDING, f"trusted author {pr.author}")
    if approval:
        if approval.get("sha") == pr.sha:
            return Verdict(True, PrState.PENDING, f"approved by {approval.get('by')} at {pr.sha[:7]}")
        return Verdict(False, excluded_state, "approval dropped: pushed after approval at "
                                              f"{str(approval.get('sha') or '')[:7]}",
                       Cause.APPROVAL_DROPPED)
    return Verdict(False, skipped, "author not trusted and no approval "
                                   f"(a maintainer can comment `@{bot} deploy`)", Cause.UNTRUSTED)
