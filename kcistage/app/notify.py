"""What kcistage writes on pull requests: commit statuses and the per-SHA comment, only changes.

Each PR record keeps, per head SHA, what the head has shown ("shown", core/reports.py), the notes
of its comment ("notes"), the comment's id ("comments") and fingerprints of what was last written
("written"). A write happens only when what would be written differs from what was; a write
that failed or was cut short by a crash is made by the next run (catch_up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kcistage.app.context import Context
from kcistage.core import messages, reports
from kcistage.core.enums import DeployResult
from kcistage.core.settings import Repo
from kcistage.core.state import DeploymentRecord, PrRecord, Written
from kcistage.errors import ServiceError, one_line


def safe_notify(ctx: Context, action: Callable[[], Any], what: str) -> bool:
    """Run a GitHub write; an outage there must not lose the deployment record. True if done."""
    try:
        action()
    except ServiceError as exc:
        ctx.out.detail(f"could not {what}: {exc}")
        return False
    return True


def track(pr: PrRecord, sha: str) -> None:
    """Keep the per-SHA entries of the head and `sha` only; mark `sha` as one to keep in sync."""
    keep = {sha, pr.get("sha")}
    pr["shown"] = {k: v for k, v in (pr.get("shown") or {}).items() if k in keep}
    pr["notes"] = {k: v for k, v in (pr.get("notes") or {}).items() if k in keep}
    pr["comments"] = {k: v for k, v in (pr.get("comments") or {}).items() if k in keep}
    written: dict[str, Written] = {k: v for k, v in (pr.get("written") or {}).items() if k in keep}
    written.setdefault(sha, {})
    pr["written"] = written


def report(ctx: Context, pr: PrRecord, sha: str) -> None:
    """Write the commit status and the comment of `sha` where they differ from what was written."""
    repo = ctx.cfg.repo(pr["repo"])
    written = pr.setdefault("written", {}).setdefault(sha, {})
    shown = (pr.get("shown") or {}).get(sha)
    where = f"{pr['repo']}#{pr['number']}"
    if shown is not None:
        state, text = reports.status(shown)
        said = reports.digest(f"{state}\n{text}")
        if written.get("status") != said and safe_notify(
                ctx, lambda: ctx.gh.set_status(
                    repo, sha, state, text,
                    status_link(ctx.cfg.github.public_url, pr["repo"], pr["number"])),
                f"set status on {where}@{sha[:7]}"):
            written["status"] = said
    body = reports.comment(sha, shown, (pr.get("notes") or {}).get(sha, []),
                           ctx.cfg.github.public_url)
    if body is not None and written.get("comment") != reports.digest(body):
        comments = pr.setdefault("comments", {})

        def upsert() -> None:
            comments[sha] = ctx.gh.upsert_pr_comment(repo, pr["number"], sha, body,
                                                     comments.get(sha))

        if safe_notify(ctx, upsert, f"comment on {where}"):
            written["comment"] = reports.digest(body)


def note_pr(ctx: Context, pr: PrRecord, sha: str, note: str) -> None:
    """Add a note to the PR's per-SHA comment (written only if the comment changes)."""
    track(pr, sha)
    pr["notes"][sha] = messages.add_note(pr["notes"].get(sha, []), note)
    report(ctx, pr, sha)


def statuses(ctx: Context, record: DeploymentRecord, result: str) -> None:
    """Tell every PR head of a deployment record what it has now shown, writing only changes.

    The new reports are saved before anything is written, so that a run killed between a write
    and the next save leaves the next run to finish the job (catch_up), never to repeat it blindly."""
    changed: list[tuple[PrRecord, str]] = []
    for name, entry in record["target"].items():
        for number, sha in entry["prs"]:
            pr = ctx.state["prs"].get(f"{name}#{number}")
            if pr is None:  # closed meanwhile: its head still gets the status, untracked
                shown = reports.after(None, record, result)
                if shown is not None:
                    state, text = reports.status(shown)

                    repo = ctx.cfg.repo(name)

                    link = status_link(ctx.cfg.github.public_url, name, number)

                    def set_status(repo: Repo = repo, sha: str = sha, state: str = state,
                                   text: str = text, link: str | None = link) -> None:
                        ctx.gh.set_status(repo, sha, state, text, link)  # bound now, run later

                    safe_notify(ctx, set_status, f"set status on {name}#{number}@{sha[:7]}")
                continue
            new = reports.after((pr.get("shown") or {}).get(sha), record, result)
            if new is not None:
                track(pr, sha)
                pr["shown"][sha] = new
                changed.append((pr, sha))
    if not changed:
        return
    ctx.save()
    for pr, sha in changed:
        report(ctx, pr, sha)


def catch_up(ctx: Context) -> None:
    """Write what an earlier run decided but could not write (outage, crash); nothing when in sync.

    A head still shown as running in a deployment that has ended (its run was killed) now shows
    that deployment's result."""
    ended = {d["id"]: d for d in ctx.state.get("deployments", [])
             if d["result"] != DeployResult.RUNNING}
    for pr in ctx.state.get("prs", {}).values():
        for sha, shown in list((pr.get("shown") or {}).items()):
            record = ended.get(shown["deployment"]) if shown["result"] == "running" else None
            if record is None:
                continue
            prs = record["target"].get(pr["repo"], {}).get("prs", [])
            result = record["result"] if [pr["number"], sha] in prs else DeployResult.INTERRUPTED
            new = reports.after(shown, record, result)
            if new is not None:
                pr["shown"][sha] = new
        for sha in list(pr.get("written") or {}):
            report(ctx, pr, sha)


def status_link(public_url: str | None, repo: str, number: int) -> str | None:
    """The status page anchor of a PR (`<public_url>/#<repo>-<number>`), when there is a page."""
    return f"{public_url}/#{repo}-{int(number)}" if public_url else None


def tell_exclusions(ctx: Context, exclusions: list[tuple[str, str, str]]) -> None:
    """Say on each PR why this look excluded it (e.g. a push dropped its approval)."""
    for key, sha, reason in exclusions:
        pr = ctx.state["prs"].get(key)
        if pr is not None:
            note_pr(ctx, pr, sha, messages.exclusion_note(reason))


def end_pending_statuses(ctx: Context, record: DeploymentRecord) -> None:
    """End the pending commit statuses of an interrupted deployment, while GitHub answers."""
    if record.get("statuses") != "pending":
        return
    try:  # only heads still pending change (a head that showed success keeps it)
        statuses(ctx, record, "interrupted")
        record["statuses"] = "resolved"
    except Exception as error:  # GitHub does not answer: the next deployment's statuses will do
        ctx.out.detail(f"deployment {record['id']}: pending statuses left: {one_line(error)}")
