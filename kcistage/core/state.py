"""The state document and its records, typed (JSON as stored; shell/statefile.py reads and writes it).

Values that come from a closed vocabulary are typed with their StrEnum (core/enums.py): a member
is a str, so records read back from JSON (plain strings) and records built in code (members)
hold the same values. Keys marked NotRequired are absent from older records or written only in
some cases.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from kcistage.core.model import Target


class TreeRecord(TypedDict):
    """What a `kernelci` step read of its test kernel's tree: counts, not nodes (a few KiB at most).

    The per-identity results that regressions and flakiness are computed from live in a side file
    under the workdir (kept exactly as long as the deployment), not in the state."""

    treeid: str | None
    commit: str | None  # the kernel commit built and tested
    baseline: int | None  # the deployment compared against, or None
    counts: dict[str, dict[str, int]]  # kind -> result -> identities
    regressions: list[str]  # identities, first ten then "... and N more"
    flaky: list[str]
    mode: NotRequired[str]  # how it was judged: compare | first | new_baseline (verification_plan.Mode)


class StepRecord(TypedDict):
    """One step of a deployment, as run (or skipped)."""

    name: str
    result: str  # StepResult
    seconds: float
    reason: str
    summary: NotRequired[str]  # one line: what the step showed (a probe's answer, a tree's counts)
    tree: NotRequired[TreeRecord]  # a kernelci step


class Waiting(TypedDict):
    """What a deployment waits for between runs (a drain or kernelci step): no process waits.

    Each run that takes the lock checks it once when `check_at` has come; the run that finds it
    met goes on with the next step. Kind-specific progress lives in `data` (e.g. a kernelci
    step's treeid, kernel commit, checkout tries, when the API was last read)."""

    step: str  # the step's name
    kind: str  # "drain" | "kernelci"
    since: str  # ISO time the wait began
    check_at: str  # ISO time of the next check
    what: str  # one line for people: what it waits for
    data: dict[str, Any]


class PlanRecord(TypedDict):
    """One step as planned when the deployment's branches were built: run or skip, and why."""

    name: str
    run: bool
    reason: str


class LeftOut(TypedDict):
    """A PR of the target that could not go into a staging branch."""

    repo: str
    number: int
    sha: str
    reason: str  # short words: "conflict" | "head moved" | "waits for <repo>#<n>"
    cause: NotRequired[str]  # Cause: conflict | head_moved | waits (absent in older records)


class StepGroup(TypedDict):
    """The running step's process group, so a later run can stop it if kcistage was killed."""

    pgid: int
    boot: str


class DeploymentRecord(TypedDict):
    """One deployment, from start to end."""

    id: int
    cycle: str  # Cycle
    trigger: str  # Trigger
    result: str  # DeployResult
    started: str
    finished: str | None
    target: Target
    steps: list[StepRecord]
    plan: NotRequired[list[PlanRecord]]  # the steps planned (core/progress.py advances along it)
    pid: NotRequired[int]
    step: NotRequired[str | None]  # the step running now
    restarts: NotRequired[int]
    heads: NotRequired[dict[str, str]]  # repo name -> staging branch head
    left_out: NotRequired[list[LeftOut]]
    step_group: NotRequired[StepGroup]
    marker: NotRequired[str]  # KCISTAGE_RUN in its steps' environment: finds them if it is killed
    failed_step: NotRequired[str]
    error: NotRequired[str]  # why nothing was deployed (a git remote down)
    search: NotRequired[dict[str, Any]]  # a culprit-search deployment: what it tries
    statuses: NotRequired[str]  # "pending" while its commit statuses say running, then "resolved"
    waiting: NotRequired[Waiting | None]  # running, between runs: what it waits for
    reason: NotRequired[str | None]  # one line: why it failed or was interrupted ("inconclusive: ..." too)
    inconclusive: NotRequired[bool]  # failed without evidence against any PR: no culprit search


class Approval(TypedDict):
    """A maintainer's approval of a PR at one commit."""

    sha: str
    by: str
    comment: int


class Exclusion(TypedDict):
    """Why a PR is kept out at one head commit (a new push lifts it)."""

    sha: str
    cause: NotRequired[str]  # Cause (older records carry only "reason")
    reason: NotRequired[str]  # an operator's words (by hand), or the cause in older records
    base: NotRequired[str | None]  # conflict: the base it conflicted with
    merged_before: NotRequired[list[list[Any]]]  # conflict: the [number, sha] merged before it
    conflict_files: NotRequired[list[str]]  # conflict: the files git could not merge
    conflict_with: NotRequired[list[int]]  # conflict: the PRs merged before it touching them
    deployment: NotRequired[int]  # culprit: the deployment it broke
    by: NotRequired[str]  # by hand: who
    at: NotRequired[str]  # by hand: when


class Shown(TypedDict):
    """The most a PR head has shown on staging (core/reports.py): what its status says."""

    result: str  # DeployResult
    cycle: str  # Cycle
    deployment: int
    trigger: str  # Trigger
    failed_step: str | None
    verified: NotRequired[str]  # a full cycle's test kernel, in a few words (the commit status)
    tree_note: NotRequired[str]  # ... and in a line of the PR comment (kernel, counts, regressions)


class Written(TypedDict, total=False):
    """Fingerprints of the status and comment last written for a head (core/reports.digest)."""

    status: str
    comment: str


class PrRecord(TypedDict, total=False):
    """An open PR as last seen, with what kcistage knows and decided about it."""

    repo: str
    number: int
    author: str
    sha: str
    base: str
    draft: bool
    labels: list[str]
    updated_at: str
    title: str
    depends: list[str]  # Depends-On references as written in its description
    depends_problem: str  # why they cannot be read
    needs: list[str]  # the open PRs it depends on (`<repo>#<n>`), as last judged
    group: list[str]  # the members of its Depends-On cycle, when it is in one
    head_seen_at: str | None  # GitHub's Date when this head was first listed (None: unknown)
    first_seen_at: str | None  # GitHub's Date when kcistage first listed this PR (None: unknown)
    sha_seen_at: str  # older versions: a local-clock time, dropped when read, never compared
    approval: Approval | None
    excluded: Exclusion | None
    culprits: dict[str, int]  # commits proven faulty (sha -> the deployment each broke)
    deployment: int  # the latest deployment whose branches merged it (its record may be old)
    comments: dict[str, int]  # head sha -> id of kcistage's comment about it
    notes: dict[str, list[str]]  # head sha -> the notes of that comment
    shown: dict[str, Shown]  # head sha -> the most it has shown
    written: dict[str, Written]  # head sha -> what was last written about it
    state: str  # PrState
    reason: str
    cause: str | None  # Cause
    closed_at: str  # in state["closed"]: when kcistage saw it closed


class QueuedCycle(TypedDict):
    """A cycle an admin asked for in a comment, run at the next tick."""

    cycle: str  # Cycle
    by: str
    repo: str
    number: int
    comment: int
    at: str


class Observed(TypedDict):
    """What the last poll saw."""

    at: str
    target: Target


class State(TypedDict):
    """The whole state document."""

    version: int
    next_id: int
    deployments: list[DeploymentRecord]  # oldest first
    observed: Observed | None
    changed_since: str | None  # C of the rules
    commands: list[QueuedCycle]
    bisect: dict[str, Any] | None  # the culprit search: core/culprit.Search.to_json()
    prs: dict[str, PrRecord]  # "repo#number" -> record
    closed: dict[str, PrRecord]  # records of the most recently closed PRs, for a reopen
    github: dict[str, Any]  # the GitHub client's cache (ETags, watermarks, permissions)
