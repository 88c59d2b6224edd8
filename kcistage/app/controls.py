"""The operator controls at a tick: read them, carry out `include` requests, tell the PRs."""

from __future__ import annotations

from typing import Any

from kcistage.app.context import Context
from kcistage.app.notify import note_pr
from kcistage.core import controls
from kcistage.core.enums import Cause
from kcistage.core.state import PrRecord
from kcistage.core.trust import exclusion_cause
from kcistage.shell import controls as store

LIFTABLE = (Cause.CONFLICT, Cause.CULPRIT)


def read(ctx: Context) -> dict[str, Any]:
    """The controls file as this run sees it (kept on the context for the decision)."""
    ctx.controls = store.load(ctx.cfg.state_file)
    return ctx.controls


def paused(ctx: Context) -> dict[str, str] | None:
    """Who paused, when and why (None when not paused)."""
    found: dict[str, str] | None = (ctx.controls or controls.empty())["paused"]
    return found


def apply_includes(ctx: Context) -> list[str]:
    """Carry out the `include` requests on the heads just polled, tell the PRs, then forget the
    requests. Returns what was done, one line each.

    A plain request lifts a conflict or culprit exclusion at the PR's head as GitHub shows it
    now; one naming a commit (`<repo>#<n>@<sha>`) lifts it at that commit, head or not. A commit
    proven faulty stays excluded until named so: a force-push back to it is excluded again."""
    doc = ctx.controls or controls.empty()
    requests = dict(doc["include"])
    done: list[str] = []
    for key, request in requests.items():
        pr = ctx.state.get("prs", {}).get(key)
        if pr is None:
            continue  # not open (or not seen yet): nothing to lift
        if request.get("sha"):
            done += _include_commit(ctx, key, pr, request["sha"], request["by"])
        else:
            done += _include_head(ctx, key, pr, request["by"])
    if requests:
        ctx.save()  # the lift is in the state before the requests are forgotten
        ctx.controls = store.update(ctx.cfg.state_file,
                                    lambda d: controls.forget_includes(d, requests))
    return done


def _include_head(ctx: Context, key: str, pr: PrRecord, by: str) -> list[str]:
    """`include <repo>#<n>`: lift the exclusion at the head just polled."""
    done = []
    head = pr.get("sha") or ""
    excluded = pr.get("excluded")
    if excluded and excluded.get("sha") == head and exclusion_cause(excluded) in LIFTABLE:
        cause = exclusion_cause(excluded)
        pr["excluded"] = None
        (pr.get("culprits") or {}).pop(head, None)
        done.append(f"{key}: {cause} exclusion lifted by hand by {by}")
        note_pr(ctx, pr, head, f"Included again by hand by {by}: the "
                               f"{cause} exclusion is lifted; the next deployment tries it")
    elif pr.get("cause") == Cause.BY_HAND:
        done.append(f"{key}: exclusion by hand lifted by {by}")
        note_pr(ctx, pr, head, f"Included again by hand by {by}")
    for sha in controls.faulty_commits(None, pr.get("culprits")):
        if sha != head:  # what the operator may have meant, if the head moved before this tick
            done.append(f"{key}: the culprit exclusion at {sha[:12]} stays (the head is now "
                        f"{head[:12]}); `kcistage include {key}@{sha[:12]}` lifts it")
    return done


def _include_commit(ctx: Context, key: str, pr: PrRecord, prefix: str, by: str) -> list[str]:
    """`include <repo>#<n>@<sha>`: lift the culprit or conflict exclusion at that commit."""
    excluded = pr.get("excluded")
    known = controls.nameable(excluded, pr.get("culprits"))
    found = controls.matching(prefix, known)
    if len(found) != 1:
        why = "names more than one excluded commit" if found else "names no excluded commit"
        return [f"{key}: include at {prefix} not done: it {why} of the PR "
                f"({', '.join(s[:12] for s in known) or 'none excluded'})"]
    sha = found[0]
    (pr.get("culprits") or {}).pop(sha, None)
    cause = Cause.CULPRIT
    if excluded and excluded["sha"] == sha and exclusion_cause(excluded) in LIFTABLE:
        cause = exclusion_cause(excluded)
        pr["excluded"] = None
    note_pr(ctx, pr, sha, f"Included again at {sha[:12]} by hand by {by}: the {cause} exclusion "
                          "of this commit is lifted; the next deployment with it tries it")
    return [f"{key}: {cause} exclusion at {sha[:12]} lifted by hand by {by}"]
