"""A deployment's staging branches: built, pushed, and the PRs left out recorded and told."""

from __future__ import annotations

from kcistage.app import dependents
from kcistage.app.context import Context
from kcistage.app.notify import note_pr
from kcistage.app.observe import pr_key
from kcistage.core import messages
from kcistage.core.enums import Cause, PrState
from kcistage.core.history import is_probe
from kcistage.core.model import Target
from kcistage.core.state import DeploymentRecord, Exclusion
from kcistage.core.trust import exclusion_reason


def build(ctx: Context, record: DeploymentRecord, target: Target) -> dict[str, str]:
    """Build every staging branch; record the PRs left out and the composition merged.

    A PR left out takes the PRs that depend on it along (Depends-On, across repos, a cycle
    whole): the repos holding them are built again without them, so that a PR is only ever
    deployed with what it depends on."""
    builds, held = dependents.build_all(ctx, target)
    merged: Target = {}
    heads: dict[str, str] = {}
    record["left_out"] = []
    for name, entry in target.items():
        repo, made = ctx.cfg.repo(name), builds[name]
        merged[name] = {"base": entry["base"], "prs": [list(p) for p in made.merged]}
        heads[name] = made.head
        for number, sha, cause in made.left_out:
            excluded: Exclusion = {"sha": sha, "cause": cause, "base": entry["base"]}
            if cause is Cause.CONFLICT:  # what it conflicted with: retried when that changes
                excluded["merged_before"] = [list(p) for p in made.before.get(number, [])]
                conflict = made.conflicts.get(number)
                if conflict is not None:  # the files, and the PRs before it that touch them
                    excluded["conflict_files"] = list(conflict.files)
                    excluded["conflict_with"] = list(conflict.with_prs)
            words = exclusion_reason(excluded, sha, repo)
            record["left_out"].append({"repo": name, "number": number, "sha": sha,
                                       "cause": cause, "reason": cause.replace("_", " ")})
            if not is_probe(record):  # a candidate's own composition says nothing of the PR
                exclude(ctx, name, number, excluded, words, record["id"])
        if repo.push:
            ctx.git.push(repo)
    for name, entry in target.items():  # once the PRs they wait for have their reasons
        for number, sha in entry["prs"]:
            if (key := pr_key(name, number)) in held:
                dependents.hold(ctx, record, key, sha, held[key])
    for name, entry in merged.items():  # readers then need no old history to find it
        for number, _sha in entry["prs"]:
            if (pr := ctx.state["prs"].get(pr_key(name, number))) is not None:
                pr["deployment"] = record["id"]
    if not is_probe(record):
        dependents.note_together(ctx, merged)
    record["target"] = merged
    record["heads"] = heads
    ctx.save()
    return heads


def exclude(ctx: Context, repo: str, number: int, excluded: Exclusion, words: str,
             deploy_id: int) -> None:
    """Mark a PR excluded at its head and say so on the PR."""
    pr = ctx.state["prs"].get(pr_key(repo, number))
    if pr is None:
        return
    sha = excluded["sha"]
    if excluded["cause"] is not Cause.HEAD_MOVED:  # a moved head comes back at the next tick
        pr["excluded"] = excluded
    pr["state"], pr["reason"], pr["cause"] = PrState.EXCLUDED, words, excluded["cause"]
    ctx.out.line(f"{repo}#{number} left out of deployment {deploy_id}: {words}")
    note_pr(ctx, pr, sha, messages.exclusion_note(words, deploy_id))
