"""history.hot: which recorded deployments a run's decisions read (pure, table-driven, a property)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core import culprit
from kcistage.core.history import facts, hot, last_success
from kcistage.core.verification import FLAKY_WINDOW
from kcistage.core.verification_plan import concluded_trees, failed_deployment, plan_kernel

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
A = {"kernelci-api": {"base": "a" * 40, "prs": [[1, "1" * 40]]}}
B = {"kernelci-api": {"base": "a" * 40, "prs": [[1, "1" * 40], [2, "2" * 40]]}}


def dep(i: int, result: str = "success", cycle: str = "partial", steps: list | None = None,
        **extra: Any) -> dict:
    start = T0 + timedelta(hours=i)
    return {"id": i, "cycle": cycle, "trigger": "change", "result": result,
            "started": start.isoformat(), "target": A, "steps": steps or [],
            "finished": None if result == "running" else (start + timedelta(minutes=5)).isoformat(),
            **extra}


def tree(name: str, result: str = "ok", baseline: int | None = None) -> dict:
    return {"name": name, "result": result, "seconds": 1.0, "reason": "",
            "tree": {"treeid": "t", "commit": "c" * 40, "baseline": baseline, "counts": {},
                     "regressions": [], "flaky": []}}


def state(*deployments: dict, **extra: Any) -> dict:
    return {"deployments": list(deployments), "commands": [], "bisect": None,
            "changed_since": None, "prs": {}, **extra}


PROBE = {"probe": 1, "of": 2, "failed": 1}
CASES = [
    ("none", [], {}, set()),
    ("the newest alone when it is everything", [dep(i) for i in range(1, 6)], {}, {5}),
    ("last full and last success", [dep(1, cycle="full"), dep(2), dep(3, "failed"), dep(4, "interrupted")],
     {}, {1, 2, 3, 4}),
    # 3 failed: rule 6's target; 4 interrupted: the last finished (L) and the newest
    ("running and waiting", [dep(1), dep(2, "running", waiting={"step": "k"}), dep(3, "running")],
     {}, {1, 2, 3}),
    ("a probe is no complete success",
     [dep(1), dep(2, search=PROBE), dep(3, "failed", search=PROBE)], {}, {1, 2, 3}),
    # 1: the last complete success (the step filter's diff); 2: last success; 3: newest
    ("kernelci: the last 5 concluded trees and the baseline",
     [dep(1, steps=[tree("k")]), *[dep(i, "failed", steps=[tree("k", "failed")]) for i in range(2, 8)],
      dep(8, steps=[tree("k", "skipped")]), dep(9)],
     {}, {1, 3, 4, 5, 6, 7, 9}),
    ("a kept tree's baseline", [dep(1), dep(2, steps=[tree("k", "failed", baseline=1)]),
                                *[dep(i, steps=[tree("k", baseline=2)]) for i in range(3, 9)],
                                dep(9, steps=[tree("k", baseline=3)])],
     {}, {2, 3, 5, 6, 7, 8, 9}),
    # 5..9: the last five trees, naming 2 and 3 as baselines; 4 (a tree) and 1 are not read
    ("a PR still shown running there", [dep(1), dep(2), dep(3)],
     {"prs": {"kernelci-api#1": {"shown": {"1" * 40: {"result": "running", "deployment": 1}}}}},
     {1, 3}),
    ("ids named by nobody's record are never invented", [dep(2), dep(3)],
     {"prs": {"kernelci-api#1": {"shown": {"1" * 40: {"result": "running", "deployment": 1}}}}},
     {3}),
]


@pytest.mark.parametrize("deployments, extra, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hot(deployments: list, extra: dict, expected: set) -> None:
    assert hot(state(*deployments, **extra)) == expected


def test_the_culprit_search_keeps_its_evidence_and_the_trees_before_the_failure() -> None:
    old = [dep(i, steps=[tree("k")]) for i in range(1, 11)]  # 10: the last good
    failed = dep(11, "failed", target=B, steps=[tree("k", "failed", baseline=10)])
    search = culprit.start(11, B, A, "partial", "k", ["k"], None, good_id=10)
    assert search is not None
    search = culprit.record(search, 0, True, 12)
    probes = [dep(i, "success", steps=[tree("k")], search={"probe": 0, "of": 1, "failed": 11})
              for i in (12,)]
    kept = hot(state(*old, failed, *probes, bisect=search.to_json()))
    # 6..10: the last five trees before the failure (the flaky history it is judged with)
    assert kept == {6, 7, 8, 9, 10, 11, 12}


ids = st.lists(st.sampled_from(["success", "failed", "interrupted"]), max_size=25)


@settings(max_examples=200, deadline=None)
@given(results=ids, fulls=st.sets(st.integers(1, 25)), probes=st.sets(st.integers(1, 25)))
def test_decisions_read_only_the_hot_deployments(results: list[str], fulls: set[int],
                                                 probes: set[int]) -> None:
    deployments = [dep(i, r, "full" if i in fulls else "partial",
                       **({"search": PROBE} if i in probes else {}))
                   for i, r in enumerate(results, 1)]
    whole = state(*deployments)
    kept = hot(whole)
    cut = state(*[d for d in deployments if d["id"] in kept])
    now = T0 + timedelta(days=3)
    assert facts(cut, now, B) == facts(whole, now, B)
    for complete in (False, True):
        assert last_success(cut["deployments"], complete=complete) == \
            last_success(whole["deployments"], complete=complete)


step_kinds = st.sampled_from(["ok", "failed", "inconclusive", "none", "skipped"])


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["success", "failed", "interrupted"]), step_kinds,
                               st.booleans()), min_size=1, max_size=25),
       candidate=st.booleans(), kernel=st.sampled_from(["pinned", "tip"]))
def test_the_verification_plan_reads_only_the_hot_deployments(rows: list, candidate: bool,
                                                              kernel: str) -> None:
    deployments = []
    for i, (result, kind, bisect) in enumerate(rows, 1):
        steps = [] if kind == "none" else [dict(tree("k", "failed" if kind == "inconclusive" else kind),
                                                **{"tree": dict(tree("k")["tree"], commit=f"{i:040x}")})]
        extra: dict[str, Any] = {"inconclusive": True} if kind == "inconclusive" else {}
        if bisect and i > 1:
            extra.update(trigger="bisect", search={"probe": 0, "of": 1, "failed": i - 1})
        deployments.append(dep(i, result, steps=steps, **extra))
    failed = next((d["id"] for d in deployments[::-1] if d["result"] == "failed"), None)
    running = dep(len(rows) + 1, "running", **(
        {"trigger": "bisect", "search": {"probe": 0, "of": 1, "failed": failed}}
        if candidate and failed else {}))
    whole = state(*deployments, running)
    kept = hot(whole)
    cut = [d for d in whole["deployments"] if d["id"] in kept]
    before = failed_deployment(running) or running["id"]
    assert plan_kernel(kernel, cut, running, "k") == plan_kernel(kernel, whole["deployments"], running, "k")
    assert concluded_trees(cut, "k", before=before)[-FLAKY_WINDOW:] == \
        concluded_trees(whole["deployments"], "k", before=before)[-FLAKY_WINDOW:]
