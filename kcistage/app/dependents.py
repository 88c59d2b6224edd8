"""Depends-On while the staging branches are built: who goes out, and who went together.

A PR left out takes the PRs depending on it along (across repos, a cycle whole), and each PR's
comment says which PRs it went with."""

from __future__ import annotations

from typing import Any

from kcistage.app.context import Context
from kcistage.app.notify import track
from kcistage.app.observe import pr_key
from kcistage.core import dependencies, messages
from kcistage.core.enums import Cause, PrState
from kcistage.core.model import Target
from kcistage.core.state import DeploymentRecord


def build_all(ctx: Context, target: Target) -> tuple[dict[str, Any], dict[str, str]]:
    """Build every repo's staging branch; (the builds, {PR held back: the PR it goes out with}).

    Repos are built in configuration order: one already built with a dependent of a PR left
    out later is built again without it, so that a PR is only ever deployed with what it
    depends on. Each round only adds to what is held back, so this ends."""
    builds: dict[str, Any] = {}
    held: dict[str, str] = {}
    edges = {key: list(pr.get("needs") or ()) for key, pr in ctx.state["prs"].items()}
    todo = list(target)
    while todo:
        name = todo.pop(0)
        entry = target[name]
        wanted = [tuple(p) for p in entry["prs"] if pr_key(name, p[0]) not in held]
        builds[name] = ctx.git.build(ctx.cfg.repo(name), entry["base"], wanted)
        out = {pr_key(n, number) for n, b in builds.items() for number, _sha, _c in b.left_out}
        for key in sorted(dependencies.closure(out, edges) - out - set(held)):
            held[key] = next(o for o in sorted(out) if key in dependencies.closure({o}, edges))
            repo_name = key.rpartition("#")[0]
            if repo_name in builds and repo_name not in todo:
                todo.append(repo_name)  # built with it already: again without it
    return builds, held


def hold(ctx: Context, record: DeploymentRecord, key: str, sha: str, on: str) -> None:
    """A PR left out because a PR it depends on is: pending, waiting for it (no exclusion)."""
    name, _, number = key.rpartition("#")
    record["left_out"].append({"repo": name, "number": int(number), "sha": sha,
                               "cause": Cause.WAITS, "reason": f"waits for {on}"})
    pr, dep = ctx.state["prs"].get(key), ctx.state["prs"].get(on)
    if pr is not None:
        why = dep.get("reason") if dep else None
        pr["state"], pr["cause"] = PrState.PENDING, Cause.WAITS
        pr["reason"] = dependencies.waits_reason(on, why or "left out")
    ctx.out.line(f"{key} left out of deployment {record['id']}: waits for {on}")


def note_together(ctx: Context, merged: Target) -> None:
    """Say on each PR's comment which PRs it went with because of Depends-On (written with the
    deployment's own report: no extra request)."""
    keys = {pr_key(name, n) for name, e in merged.items() for n, _sha in e["prs"]}
    for name, entry in merged.items():
        for number, sha in entry["prs"]:
            pr = ctx.state["prs"].get(pr_key(name, number))
            if pr is None or pr.get("sha") != sha:
                continue
            partners = sorted((set(pr.get("needs") or ()) | set(pr.get("group") or ()))
                              & (keys - {pr_key(name, number)}), key=dependencies.sort_key)
            if partners:
                track(pr, sha)
                pr["notes"][sha] = messages.add_note(pr["notes"].get(sha, []),
                                                     messages.together_note(partners))
