"""What would change a PR's state: one line for every PR that is not deployed.

The contributor who followed a commit status link reads where the PR stands and what would move
it ("a maintainer writes `@kcibot deploy <sha>`", "rebase on kernelci-api#7", "waits for
kernelci-core#7", "the pause ends when an operator resumes", "next deployment after 14:35
(throttle)"). Decided on data: the PR's cause, its exclusion record, its dependencies, the next
decision's action, time and what it waits for; never on the words of a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kcistage.core.enums import Action, Cause
from kcistage.core.rules import hhmm

SHOWN_SHA = 12


@dataclass(frozen=True)
class Next:
    """The next decision as the status document has it."""

    action: str  # Action
    at: datetime | None
    waits: str | None  # WaitFor: what a wait is for (None: not a wait, or not known)
    paused: bool
    running: int | None  # the id of the deployment running now (None: none)


@dataclass(frozen=True)
class Standing:
    """One PR as the guidance needs it."""

    repo: str
    number: int
    sha: str
    state: str  # PrState
    cause: str | None  # Cause
    base: str  # the branch staging merges for its repo
    label: str = ""  # skip_label (a skipped PR that carries it)
    conflict_with: tuple[str, ...] = ()  # `<repo>#<n>` of the PRs touching the same files
    needs: tuple[str, ...] = ()  # `<repo>#<n>` of the PRs it waits for (Depends-On)
    deploying: int | None = None  # the running deployment that holds it


def _after(nxt: Next) -> str:
    """When an eligible PR goes to staging, from the next decision."""
    if nxt.paused:
        return "the pause ends when an operator resumes (`kcistage resume`)"
    if nxt.running is not None:
        return f"the next deployment after #{nxt.running} ends"
    if nxt.action == Action.WAIT and nxt.at is not None:
        why = {"throttle": "throttle", "settle": "settle"}.get(str(nxt.waits))
        return f"next deployment after {hhmm(nxt.at)}" + (f" ({why})" if why else "")
    if nxt.action in (Action.PARTIAL, Action.FULL):
        return "the next tick deploys it"
    return "a new change, a command or the next full cycle deploys it"


def what_changes(pr: Standing, nxt: Next, bot: str) -> str | None:
    """One line saying what would change this PR's state; None when it is deployed."""
    if pr.state == "deployed":
        return None
    if pr.deploying is not None:
        return f"deployment #{pr.deploying} ends (then it is deployed or told why not)"
    approve = f"a maintainer writes `@{bot} deploy {pr.sha[:SHOWN_SHA]}`"
    cause = Cause(pr.cause) if pr.cause in set(Cause) else None
    if cause is None:
        return _after(nxt) if pr.state == "pending" else None
    if cause in (Cause.UNTRUSTED, Cause.APPROVAL_DROPPED):
        return approve
    if cause is Cause.CONFLICT:
        on = ", ".join(pr.conflict_with) or pr.base
        return f"rebase on {on} (or a change to {'them' if len(pr.conflict_with) > 1 else 'it'})"
    if cause is Cause.CULPRIT:
        return "a new push (the new head is tried again) or an operator's `kcistage include`"
    if cause is Cause.BY_HAND:
        return f"an operator runs `kcistage include {pr.repo}#{pr.number}`"
    if cause is Cause.HEAD_MOVED:
        return "the next tick tries the new head"
    if cause is Cause.DRAFT:
        return "the author marks it ready for review"
    if cause is Cause.SKIP_LABEL:
        return f"the label {pr.label} is removed" if pr.label else "the skip label is removed"
    if cause is Cause.OTHER_BASE:
        return f"it targets {pr.base}"
    if cause is Cause.WAITS:
        return "waits for " + (", ".join(pr.needs) or "the PRs it depends on")
    if cause is Cause.DEPENDS_ON:
        return "its Depends-On lines name open PRs of configured repos"
    if cause is Cause.CHECKS_RUNNING:
        return "its own checks finish"
    if cause is Cause.CHECKS_FAILED:
        return "its own checks pass (a new head or a re-run)"
    return None
