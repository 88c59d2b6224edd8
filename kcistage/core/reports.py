"""What a PR head has shown on staging, and the commit status and comment that say it (pure).

A head's report says the most it has shown: pending while its first deployment runs, then the
best result reached (interrupted < failed < success in a partial cycle < success in a full
cycle). A later deployment that shows no more changes nothing, so nothing is written for it.
"""

from __future__ import annotations

import hashlib

from kcistage.core import messages
from kcistage.core.enums import Cycle, DeployResult, StepResult
from kcistage.core.state import DeploymentRecord, Shown

_RANK: dict[str, int] = {DeployResult.RUNNING: 1, DeployResult.INTERRUPTED: 2,
                         DeployResult.FAILED: 3, DeployResult.SUCCESS: 4}


def rank(shown: Shown) -> int:
    """How much a report shows (a full-cycle success ranks above a partial one)."""
    value = _RANK.get(shown["result"], 0)
    if shown["result"] == DeployResult.SUCCESS and shown["cycle"] == Cycle.FULL:
        value += 1
    return value


def after(shown: Shown | None, record: DeploymentRecord, result: str) -> Shown | None:
    """The head's new report once deployment `record` reaches `result`; None when it shows no more.

    An interrupted deployment of a head that showed nothing yet says nothing about it."""
    new: Shown = {"result": str(result), "cycle": str(record["cycle"]), "deployment": int(record["id"]),
           "trigger": str(record["trigger"]),
           "failed_step": record.get("failed_step") if result == DeployResult.FAILED else None}
    if result != DeployResult.RUNNING:
        _verified(new, record)
    if shown is None:
        return None if result == DeployResult.INTERRUPTED else new
    return new if rank(new) > rank(shown) else None


def _verified(shown: Shown, record: DeploymentRecord) -> None:
    """What the deployment's kernelci step showed, on the report (the last such step)."""
    for step in reversed(record.get("steps") or []):
        tree = step.get("tree")
        if tree is not None:
            summary = str(step.get("summary") or step.get("reason") or "")
            # inconclusive: the step that ended the deployment did so without evidence
            unsure = bool(record.get("inconclusive")) and step is record["steps"][-1]
            shown["tree_note"] = messages.tree_note(step["name"], tree, summary,
                                                    step["result"] == StepResult.OK, unsure)
            shown["verified"] = messages.tree_words(tree, unsure)
            return


def status(shown: Shown) -> tuple[str, str]:
    """(state, description) of the commit status for a report."""
    return (messages.status_state(shown["result"]),
            messages.status_description(shown["cycle"], shown["deployment"], shown["result"],
                                        shown.get("verified", "")))


def comment(sha: str, shown: Shown | None, notes: list[str], page: str | None = None) -> str | None:
    """The per-SHA comment body for a report and its notes; None while there is nothing to say.

    `page`: the status page's URL, for a link to the deployment's own page."""
    lines = list(notes)
    if shown is not None and shown["result"] != DeployResult.RUNNING:
        lines.insert(0, messages.deployment_note(shown["deployment"], shown["cycle"],
                                                 shown["trigger"], shown["result"],
                                                 shown.get("failed_step"), page))
        if shown.get("tree_note"):
            lines.insert(1, shown["tree_note"])
    return messages.pr_comment(sha, lines) if lines else None


def digest(text: str) -> str:
    """A short fingerprint of what was written (the state keeps it, not the text)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
