"""Tests of step selection by cycle and changed files (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcistage.core.settings import Step
from kcistage.core.step_filter import Plan, plan_probe, plan_steps

API = Step(name="api", run=("true",),
           paths=(("kernelci-api", ("api/**", "docker/**", "pyproject.toml")),))
PIPE = Step(name="pipeline", run=("true",),
            paths=(("kernelci-pipeline", ("config/*.yaml",)), ("kernelci-core", ("**/*.py",))))
ALWAYS = Step(name="always", run=("true",))
FULL = Step(name="rebuild", run=("true",), cycles=("full",))
PARTIAL = Step(name="quick", run=("true",), cycles=("partial",), paths=(("kernelci-api", ("x",)),))
STEPS = [API, PIPE, ALWAYS, FULL, PARTIAL]


def _runs(cycle: str, changed: dict[str, list[str]] | None) -> dict[str, bool]:
    return {p.name: p.run for p in plan_steps(STEPS, cycle, changed)}


@pytest.mark.parametrize("changed, expected", [
    ({}, {"api": False, "pipeline": False, "always": True, "rebuild": False, "quick": False}),
    ({"kernelci-api": ["api/main.py"]},
     {"api": True, "pipeline": False, "always": True, "rebuild": False, "quick": False}),
    ({"kernelci-api": ["api/deep/down/x.py"]},
     {"api": True, "pipeline": False, "always": True, "rebuild": False, "quick": False}),
    ({"kernelci-api": ["README.md", "tests/test_api.py"]},
     {"api": False, "pipeline": False, "always": True, "rebuild": False, "quick": False}),
    ({"kernelci-api": ["x"]},
     {"api": False, "pipeline": False, "always": True, "rebuild": False, "quick": True}),
    # Patterns only apply to their own repo.
    ({"kernelci-pipeline": ["api/main.py"]},
     {"api": False, "pipeline": False, "always": True, "rebuild": False, "quick": False}),
    ({"kernelci-pipeline": ["config/pipeline.yaml"]},
     {"api": False, "pipeline": True, "always": True, "rebuild": False, "quick": False}),
    # A single * does not cross folders; ** does.
    ({"kernelci-pipeline": ["config/sub/pipeline.yaml"]},
     {"api": False, "pipeline": False, "always": True, "rebuild": False, "quick": False}),
    ({"kernelci-core": ["kernelci/api/helper.py"]},
     {"api": False, "pipeline": True, "always": True, "rebuild": False, "quick": False}),
    ({"kernelci-core": ["setup.py"]},
     {"api": False, "pipeline": True, "always": True, "rebuild": False, "quick": False}),
])
def test_partial_cycle_table(changed: dict[str, list[str]], expected: dict[str, bool]) -> None:
    assert _runs("partial", changed) == expected


def test_full_cycle_and_first_deployment_run_every_allowed_step() -> None:
    assert _runs("full", {}) == {"api": True, "pipeline": True, "always": True, "rebuild": True,
                                 "quick": False}
    assert _runs("partial", None) == {"api": True, "pipeline": True, "always": True,
                                      "rebuild": False, "quick": True}


def test_reasons() -> None:
    plans = plan_steps(STEPS, "partial", {"kernelci-api": ["README", "api/main.py"]})
    assert plans == [
        Plan("api", True, "kernelci-api: api/main.py matches api/**"),
        Plan("pipeline", False, "no changed file matches its paths"),
        Plan("always", True, "runs in every cycle (no paths)"),
        Plan("rebuild", False, "full cycles only"),
        Plan("quick", False, "no changed file matches its paths"),
    ]
    full = plan_steps(STEPS, "full", {})
    assert full[0] == Plan("api", True, "full cycle runs every step")
    assert full[4] == Plan("quick", False, "partial cycles only")
    assert plan_steps([API], "partial", None) == [Plan("api", True, "first deployment")]


def test_order_kept_and_empty() -> None:
    assert plan_steps([], "full", None) == []
    assert [p.name for p in plan_steps(list(reversed(STEPS)), "full", {})] == \
        [s.name for s in reversed(STEPS)]


_names = st.text(alphabet="abcdefg", min_size=1, max_size=4)
_files = st.lists(st.lists(_names, min_size=1, max_size=4).map("/".join), max_size=5)
_repos = st.sampled_from(["r1", "r2", "r3"])
_changed = st.one_of(st.none(), st.dictionaries(_repos, _files, max_size=3))
_cycles = st.sampled_from([("partial",), ("full",), ("partial", "full")])
_patterns = st.lists(st.one_of(_names, _names.map(lambda n: n + "/**"),
                               _names.map(lambda n: "**/" + n), st.just("*")),
                     min_size=1, max_size=3).map(tuple)
_paths = st.one_of(st.none(), st.lists(st.tuples(_repos, _patterns), max_size=2).map(tuple))
_steps = st.lists(st.builds(Step, name=_names, run=st.just(("true",)), paths=_paths,
                            cycles=_cycles), max_size=5)


@given(_steps, st.sampled_from(["partial", "full"]), _changed)
def test_properties(steps: list[Step], cycle: str, changed: dict[str, list[str]] | None) -> None:
    plans = plan_steps(steps, cycle, changed)
    assert [p.name for p in plans] == [s.name for s in steps]
    for step, plan in zip(steps, plans, strict=False):
        assert plan.reason
        if cycle not in step.cycles:
            assert not plan.run  # never outside its cycles
        elif cycle == "full" or changed is None or step.paths is None:
            assert plan.run
        else:
            # A partial run happens exactly when some changed file lies in a named repo.
            touched = any(changed.get(repo) for repo, _ in step.paths)
            if not touched:
                assert not plan.run


@given(st.lists(_names, min_size=1, max_size=5), _names, st.sampled_from(["r1", "r2"]))
def test_double_star_spans_folders(parts: list[str], top: str, repo: str) -> None:
    step = Step(name="s", run=("true",), paths=((repo, (f"{top}/**",)),))
    inside = "/".join([top, *parts])
    assert plan_steps([step], "partial", {repo: [inside]})[0].run
    other = "r2" if repo == "r1" else "r1"
    assert not plan_steps([step], "partial", {other: [inside]})[0].run
    star = Step(name="t", run=("true",), paths=((repo, ("**/" + parts[-1],)),))
    assert plan_steps([star], "partial", {repo: [inside]})[0].run


def test_a_search_candidate_runs_the_failed_deployments_steps_up_to_the_failed_one():
    plans = plan_probe(STEPS, "full", ran=["api", "always", "rebuild"], upto="always", failed_id=7)
    assert [(p.name, p.run, p.reason) for p in plans] == [
        ("api", True, "culprit search: as in deployment 7"),
        ("pipeline", False, "not run by deployment 7 either"),
        ("always", True, "culprit search: as in deployment 7"),
        ("rebuild", False, "not needed for the search"),
        ("quick", False, "not needed for the search"),
    ]
    whole = plan_probe(STEPS, "partial", ran=["api", "quick"], upto=None, failed_id=7)
    assert [p.name for p in whole if p.run] == ["api", "quick"]
    assert next(p for p in whole if p.name == "rebuild").reason == "full cycles only"
