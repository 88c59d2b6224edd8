"""Would GitHub refuse kcistage's force-push of a staging branch? Read from its protection data.

`git push --dry-run` does not run the server's rules, so `check` reads them: the branch API's
`protected` flag and summary, the classic protection (readable with admin rights only) and the
repository rulesets that apply to the branch (readable by anyone who can read the repository).
kcistage force-pushes a branch of its own merge commits, unsigned, not through a pull request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Ruleset rules that never concern a push of an existing branch's commits.
_HARMLESS_RULES = frozenset({"deletion", "branch_name_pattern", "tag_name_pattern"})
# What each ruleset rule means for a force-push of merge commits (others: "may refuse").
_RULE_WORDS = {
    "creation": "only allowed people may create the branch",
    "update": "only allowed people may push to the branch",
    "non_fast_forward": "force pushes are blocked",
    "required_linear_history": "merge commits are refused (linear history)",
    "required_signatures": "unsigned commits are refused",
    "pull_request": "changes must come through a pull request",
    "required_status_checks": "status checks must pass before a push",
    "required_deployments": "deployments must succeed before a push",
    "merge_queue": "changes must go through the merge queue",
}


@dataclass(frozen=True)
class BranchRules:
    """What GitHub says about a branch's protection, as the credential could read it."""

    exists: bool  # the branch is on GitHub (GET .../branches/{branch} answered 200)
    protected: bool = False  # the branch API's `protected` flag
    summary: Mapping[str, Any] = field(default_factory=dict)  # the branch API's `protection`
    protection: Mapping[str, Any] | None = None  # GET .../protection, when it could be read
    rules: Sequence[Mapping[str, Any]] = ()  # GET .../rules/branches/{branch}


def _enabled(protection: Mapping[str, Any], key: str) -> bool:
    value = protection.get(key)
    return isinstance(value, Mapping) and bool(value.get("enabled"))


def _classic(protection: Mapping[str, Any], login: str | None) -> list[str]:
    """Why the classic protection refuses a force-push of kcistage's merge commits."""
    found = []
    if not _enabled(protection, "allow_force_pushes"):
        found.append("force pushes are not allowed")
    if _enabled(protection, "lock_branch"):
        found.append("the branch is locked (read-only)")
    if protection.get("required_pull_request_reviews"):
        found.append("changes must come through a reviewed pull request")
    checks = protection.get("required_status_checks")
    if isinstance(checks, Mapping) and (checks.get("contexts") or checks.get("checks")):
        found.append("status checks must pass before a push")
    if _enabled(protection, "required_signatures"):
        found.append("unsigned commits are refused")
    if _enabled(protection, "required_linear_history"):
        found.append("merge commits are refused (linear history)")
    restrictions = protection.get("restrictions")
    if isinstance(restrictions, Mapping):
        allowed = {str(u.get("login", "")).lower() for u in restrictions.get("users") or []
                   if isinstance(u, Mapping)}
        allowed |= {f"{a.get('slug', '')}[bot]".lower() for a in restrictions.get("apps") or []
                    if isinstance(a, Mapping)}
        if login is None or login.lower() not in allowed:
            found.append("only listed people, teams or apps may push" + (
                f" ({login} is not listed)" if login else ""))
    return found


def _rulesets(rules: Sequence[Mapping[str, Any]], exists: bool) -> list[str]:
    """Why the rulesets that apply to the branch refuse the push (their bypass lists are not
    readable: an actor allowed to bypass them is told so by git)."""
    found = []
    for rule in rules:
        kind = str(rule.get("type", ""))
        if kind in _HARMLESS_RULES or (kind == "creation" and exists):
            continue
        words = _RULE_WORDS.get(kind, f"a {kind} rule may refuse kcistage's merge commits")
        where = f"ruleset {rule['ruleset_id']}" if rule.get("ruleset_id") is not None else "a ruleset"
        found.append(f"{words} ({where})")
    return list(dict.fromkeys(found))


def push_refusals(rules: BranchRules, login: str | None) -> list[str]:
    """Every reason GitHub would refuse the force-push (empty: it would take it).

    `login` is who pushes (the token's user, or `<slug>[bot]` for an App), when known."""
    found: list[str] = []
    if rules.protected:
        if rules.protection is not None:
            found += _classic(rules.protection, login)
        else:
            checks = rules.summary.get("required_status_checks")
            if isinstance(checks, Mapping) and checks.get("enforcement_level") not in (None, "off"):
                found.append("status checks must pass before a push")
            found.append("the branch is protected and its rules cannot be read with this "
                         "credential (they need admin access): a force-push is refused unless "
                         "they allow force pushes")
    found += _rulesets(rules.rules, rules.exists)
    return found
