"""What a `kernelci` step tests and against what (pure): the baseline, the kernel commit, the history.

Read from the recorded deployments (docs/verification.md): the baseline is the newest deployment
that is not a culprit-search candidate whose step of the same name concluded without a failure;
`kernel: pinned` tests the baseline's kernel commit again while the software changes; a
culprit-search deployment tests the failed deployment's commit against the failed one's baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kcistage.core.enums import DeployResult, StepResult, Trigger
from kcistage.core.model import Target


class Mode(StrEnum):
    """How a complete tree is judged."""

    COMPARE = "compare"  # against the baseline: regressions fail the step
    FIRST = "first"  # no baseline yet: the checkout passed and a test passed
    NEW_BASELINE = "new_baseline"  # the kernel moved, not the software: regressions for information


@dataclass(frozen=True)
class Baseline:
    """The deployment compared against: its id, its kernel commit, its composition."""

    deployment: int
    commit: str | None
    target: Target


@dataclass(frozen=True)
class KernelPlan:
    """Which kernel commit to test (None: the branch's tip, read when the step starts) and how to judge it."""

    commit: str | None
    mode: Mode
    baseline: Baseline | None
    why: str  # for people: why this commit


def _step(record: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for step in record.get("steps") or ():
        if isinstance(step, Mapping) and step.get("name") == name:
            return step
    return None


def _is_candidate(record: Mapping[str, Any]) -> bool:
    return record.get("trigger") == Trigger.BISECT


def find_baseline(deployments: Sequence[Mapping[str, Any]], step: str,
                  before: int | None = None) -> Baseline | None:
    """The newest deployment (older than `before` when given; never a culprit-search one) whose
    step `step` concluded without a failure and recorded a tree."""
    for record in reversed(deployments):
        if before is not None and int(record["id"]) >= before or _is_candidate(record):
            continue
        found = _step(record, step)
        if found is not None and found.get("result") == StepResult.OK \
                and isinstance(found.get("tree"), Mapping):
            return Baseline(int(record["id"]), found["tree"].get("commit"), record["target"])
    return None


def concluded_trees(deployments: Sequence[Mapping[str, Any]], step: str,
                    before: int | None = None) -> list[int]:
    """Deployments (oldest first, older than `before`, no culprit-search one) whose step `step`
    judged a complete tree: passed, or failed on its regressions (not inconclusive)."""
    ids = []
    for record in deployments:
        if before is not None and int(record["id"]) >= before or _is_candidate(record):
            continue
        found = _step(record, step)
        if found is None or not isinstance(found.get("tree"), Mapping):
            continue
        judged = found.get("result") == StepResult.OK or (
            found.get("result") == StepResult.FAILED and not record.get("inconclusive")
            and record.get("result") == DeployResult.FAILED)
        if judged:
            ids.append(int(record["id"]))
    return ids


def failed_deployment(record: Mapping[str, Any]) -> int | None:
    """The deployment a culprit-search deployment searches the failure of (None: not one)."""
    search = record.get("search")
    if not _is_candidate(record) or not isinstance(search, Mapping):
        return None
    failed = search.get("failed")
    return failed if isinstance(failed, int) and not isinstance(failed, bool) else None


def plan_kernel(kernel: str, deployments: Sequence[Mapping[str, Any]], record: Mapping[str, Any],
                step: str) -> KernelPlan:
    """Which commit the step tests for deployment `record` and how its tree is judged.

    `kernel` is the step's `pinned` or `tip`; `deployments` every recorded deployment."""
    failed_id = failed_deployment(record)
    if failed_id is not None:
        failed = next((d for d in deployments if d.get("id") == failed_id), None)
        tree = (_step(failed, step) or {}).get("tree") if failed is not None else None
        commit = tree.get("commit") if isinstance(tree, Mapping) else None
        baseline = find_baseline(deployments, step, before=failed_id)
        if commit:
            return KernelPlan(commit, Mode.COMPARE if baseline else Mode.FIRST, baseline,
                              f"the kernel deployment {failed_id} tested")
        # The failed deployment never got as far as a tree: test what it would have.
        record = failed or record
    baseline = find_baseline(deployments, step, before=int(record["id"]))
    if baseline is None:
        return KernelPlan(None, Mode.FIRST, None, "the branch tip (no baseline yet)")
    if kernel == "tip":
        return KernelPlan(None, Mode.COMPARE, baseline, "the branch tip (kernel: tip)")
    if record.get("target") == baseline.target or not baseline.commit:
        return KernelPlan(None, Mode.NEW_BASELINE, baseline,
                          f"the branch tip (the software is as in deployment {baseline.deployment})")
    return KernelPlan(baseline.commit, Mode.COMPARE, baseline,
                      f"pinned to deployment {baseline.deployment}'s kernel")


def inconclusive(what: str) -> str:
    """A deployment `reason` that blames nobody."""
    return "inconclusive: " + " ".join(what.split())
