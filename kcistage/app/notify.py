"""What kcistage writes on pull requests: commit statuses and the per-SHA comment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kcistage.app.context import Context
from kcistage.core import messages
from kcistage.core.settings import Repo
from kcistage.core.state import DeploymentRecord, PrRecord
from kcistage.errors import ServiceError


def safe_notify(ctx: Context, action: Callable[[], Any], what: str) -> None:
    """Run a GitHub write; an outage there must not lose the deployment record."""
    if ctx.dry_run:
        return
    try:
        action()
    except ServiceError as exc:
        ctx.out.detail(f"could not {what}: {exc}")


def note_pr(ctx: Context, pr: PrRecord, sha: str, note: str) -> None:
    """Append a note to the PR's per-SHA comment, creating or editing it."""
    if ctx.dry_run:
        return
    notes = pr.setdefault("notes", {})
    notes = {k: v for k, v in notes.items() if k == sha or k == pr.get("sha")}
    notes[sha] = messages.add_note(notes.get(sha, []), note)
    pr["notes"] = notes
    comments = pr.setdefault("comments", {})
    repo = ctx.cfg.repo(pr["repo"])

    def upsert() -> None:
        comments[sha] = ctx.gh.upsert_pr_comment(repo, pr["number"], sha,
                                                 messages.pr_comment(sha, notes[sha]),
                                                 comments.get(sha))

    safe_notify(ctx, upsert, f"comment on {pr['repo']}#{pr['number']}")


def statuses(ctx: Context, record: DeploymentRecord, result: str) -> None:
    """Set the commit status of every PR head of a deployment record."""
    description = messages.status_description(record["cycle"], record["id"], result)
    state = messages.status_state(result)
    for name, entry in record["target"].items():
        repo = ctx.cfg.repo(name)
        for _number, sha in entry["prs"]:
            def set_status(repo: Repo = repo, sha: str = sha) -> None:  # bound now, run later
                ctx.gh.set_status(repo, sha, state, description)

            safe_notify(ctx, set_status, f"set status on {sha[:7]}")


def tell_exclusions(ctx: Context, exclusions: list[tuple[str, str, str]]) -> None:
    """Say on each PR why this look excluded it (e.g. a push dropped its approval)."""
    for key, sha, reason in exclusions:
        pr = ctx.state["prs"].get(key)
        if pr is not None:
            note_pr(ctx, pr, sha, messages.exclusion_note(reason))
