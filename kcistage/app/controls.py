"""The operator controls at a tick: read them, carry out `include` requests, tell the PRs."""

from __future__ import annotations

from typing import Any

from kcistage.app.context import Context
from kcistage.app.notify import note_pr
from kcistage.core import controls
from kcistage.core.enums import Cause
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
    """Carry out the `include` requests: lift a conflict or culprit exclusion at the current head
    and tell the PR; then forget the requests. Returns what was done, one line each."""
    doc = ctx.controls or controls.empty()
    requests = dict(doc["include"])
    done: list[str] = []
    for key, request in requests.items():
        pr = ctx.state.get("prs", {}).get(key)
        if pr is None:
            continue  # not open (or not seen yet): nothing to lift
        excluded = pr.get("excluded")
        if excluded and excluded.get("sha") == pr.get("sha") \
                and exclusion_cause(excluded) in LIFTABLE:
            cause = exclusion_cause(excluded)
            pr["excluded"] = None
            done.append(f"{key}: {cause} exclusion lifted by hand by {request['by']}")
            note_pr(ctx, pr, pr["sha"], f"Included again by hand by {request['by']}: the "
                                        f"{cause} exclusion is lifted; the next deployment tries it")
        elif pr.get("cause") == Cause.BY_HAND:
            done.append(f"{key}: exclusion by hand lifted by {request['by']}")
            note_pr(ctx, pr, pr["sha"], f"Included again by hand by {request['by']}")
    if requests and not ctx.dry_run:
        ctx.save()  # the lift is in the state before the requests are forgotten
        ctx.controls = store.update(ctx.cfg.state_file,
                                    lambda d: controls.forget_includes(d, requests))
    return done
