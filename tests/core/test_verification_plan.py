"""core/verification_plan.py: the baseline, the kernel commit (pinned, tip, culprit search), the history."""

from __future__ import annotations

from typing import Any

import pytest

from kcistage.core.verification_plan import Mode, concluded_trees, find_baseline, plan_kernel

A = {"kernelci-api": {"base": "a" * 40, "prs": [[1, "1" * 40]]}}
B = {"kernelci-api": {"base": "a" * 40, "prs": [[1, "1" * 40], [2, "2" * 40]]}}


def dep(i: int, result: str = "ok", target: Any = None, trigger: str = "change",
        commit: str = "", step: str = "test-kernel", **extra: Any) -> dict[str, Any]:
    steps = [{"name": "api", "result": "ok", "seconds": 1, "reason": ""}]
    if result:
        steps.append({"name": step, "result": result, "seconds": 1, "reason": "",
                      "tree": {"treeid": f"t{i}", "commit": commit or f"{i:040}", "baseline": None,
                               "counts": {}, "regressions": [], "flaky": []}})
    deployment = "success" if result in ("ok", "") else "failed"
    return {"id": i, "trigger": trigger, "target": target or A, "steps": steps,
            "result": deployment, **extra}


HISTORY = [dep(1), dep(2, "failed"), dep(3, "failed", inconclusive=True),
           dep(4, trigger="bisect", search={"failed": 2}), dep(5, step="other"), dep(6, "")]


def test_baseline_is_the_newest_good_non_bisect_tree_of_the_same_step() -> None:
    found = find_baseline(HISTORY, "test-kernel")
    assert found is not None and (found.deployment, found.commit) == (1, f"{1:040}")
    assert find_baseline(HISTORY, "other").deployment == 5  # type: ignore[union-attr]
    assert find_baseline(HISTORY, "test-kernel", before=1) is None
    assert find_baseline([dep(7, "ok", trigger="periodic")], "test-kernel").deployment == 7  # type: ignore[union-attr]


def test_concluded_trees_leave_out_inconclusive_and_bisect() -> None:
    assert concluded_trees(HISTORY, "test-kernel") == [1, 2]
    assert concluded_trees(HISTORY, "test-kernel", before=2) == [1]


CHOICES = [
    ("no baseline: tip, first baseline", "pinned", [], dep(9, "", target=B), None, Mode.FIRST),
    ("software changed: pinned", "pinned", [dep(1)], dep(9, "", target=B), f"{1:040}",
     Mode.COMPARE),
    ("nothing changed: tip, new baseline", "pinned", [dep(1)], dep(9, "", target=A), None,
     Mode.NEW_BASELINE),
    ("tip always tip", "tip", [dep(1)], dep(9, "", target=B), None, Mode.COMPARE),
    ("culprit search: the failed commit", "pinned",
     [dep(1), dep(2, "failed", target=B, commit="f" * 40)],
     dep(9, "", trigger="bisect", search={"failed": 2, "probe": 0}), "f" * 40, Mode.COMPARE),
    ("culprit search, tip: still the failed commit", "tip",
     [dep(1), dep(2, "failed", target=B, commit="f" * 40)],
     dep(9, "", trigger="bisect", search={"failed": 2, "rest": []}), "f" * 40, Mode.COMPARE),
]


@pytest.mark.parametrize(("kernel", "history", "record", "commit", "mode"),
                         [c[1:] for c in CHOICES], ids=[c[0] for c in CHOICES])
def test_which_kernel(kernel: str, history: list[dict[str, Any]], record: dict[str, Any],
                      commit: str | None, mode: Mode) -> None:
    plan = plan_kernel(kernel, [*history, record], record, "test-kernel")
    assert (plan.commit, plan.mode) == (commit, mode)
    assert (plan.baseline is None) == (mode is Mode.FIRST)


def test_a_culprit_search_is_judged_against_the_failed_deployments_baseline() -> None:
    history = [dep(1), dep(2, "failed", target=B, commit="f" * 40), dep(3, target=A)]
    record = dep(9, "", trigger="bisect", search={"failed": 2, "probe": 1})
    plan = plan_kernel("pinned", [*history, record], record, "test-kernel")
    assert plan.baseline is not None and plan.baseline.deployment == 1
