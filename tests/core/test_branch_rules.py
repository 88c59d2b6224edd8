"""Which branch protections and rulesets refuse kcistage's force-push of its merge commits."""

from __future__ import annotations

from typing import Any

import pytest

from kcistage.core.branch_rules import BranchRules, push_refusals

OPEN = {"allow_force_pushes": {"enabled": True}}


def rule(kind: str, ruleset: int = 7) -> dict[str, Any]:
    return {"type": kind, "ruleset_source_type": "Repository", "ruleset_source": "o/r",
            "ruleset_id": ruleset}


@pytest.mark.parametrize(("rules", "expected"), [
    (BranchRules(exists=True), []),
    (BranchRules(exists=False), []),
    (BranchRules(exists=True, protected=True, protection=OPEN), []),
    (BranchRules(exists=True, protected=True, protection={}), ["force pushes are not allowed"]),
    (BranchRules(exists=True, protected=True, protection={**OPEN, "lock_branch": {"enabled": True}}),
     ["the branch is locked (read-only)"]),
    (BranchRules(exists=True, protected=True, protection={
        **OPEN, "required_pull_request_reviews": {"dismiss_stale_reviews": False},
        "required_status_checks": {"contexts": ["ci"], "checks": []},
        "required_signatures": {"enabled": True}, "required_linear_history": {"enabled": True}}),
     ["changes must come through a reviewed pull request", "status checks must pass before a push",
      "unsigned commits are refused", "merge commits are refused (linear history)"]),
    (BranchRules(exists=True, protected=True, protection={
        **OPEN, "restrictions": {"users": [{"login": "KCIBOT"}], "teams": [], "apps": []}}), []),
    (BranchRules(exists=True, protected=True, protection={
        **OPEN, "restrictions": {"users": [], "teams": [], "apps": [{"slug": "kci"}]}}),
     ["only listed people, teams or apps may push (kcibot is not listed)"]),
    (BranchRules(exists=True, protected=True),
     ["the branch is protected and its rules cannot be read with this credential (they need admin "
      "access): a force-push is refused unless they allow force pushes"]),
    (BranchRules(exists=True, protected=True, summary={"required_status_checks": {
         "enforcement_level": "everyone"}}),
     ["status checks must pass before a push",
      "the branch is protected and its rules cannot be read with this credential (they need admin "
      "access): a force-push is refused unless they allow force pushes"]),
    (BranchRules(exists=True, rules=(rule("deletion"), rule("creation"), rule("branch_name_pattern"))),
     []),
    (BranchRules(exists=False, rules=(rule("creation"),)),
     ["only allowed people may create the branch (ruleset 7)"]),
    (BranchRules(exists=True, rules=(rule("non_fast_forward"), rule("non_fast_forward"),
                                      rule("max_file_size", 9))),
     ["force pushes are blocked (ruleset 7)",
      "a max_file_size rule may refuse kcistage's merge commits (ruleset 9)"]),
])
def test_push_refusals(rules: BranchRules, expected: list[str]) -> None:
    assert push_refusals(rules, "kcibot") == expected


def test_restrictions_with_an_unknown_pusher_refuse() -> None:
    rules = BranchRules(exists=True, protected=True, protection={
        **OPEN, "restrictions": {"users": [{"login": "kcibot"}], "teams": [], "apps": []}})
    assert push_refusals(rules, None) == ["only listed people, teams or apps may push"]
    app = BranchRules(exists=True, protected=True, protection={
        **OPEN, "restrictions": {"users": [], "teams": [], "apps": [{"slug": "kci-staging"}]}})
    assert push_refusals(app, "kci-staging[bot]") == []
