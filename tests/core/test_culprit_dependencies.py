"""The culprit search with Depends-On (SPEC 8): a PR after the PRs it depends on, a PR naming a
suspect is a suspect too, a cycle one suspect; the budget counts a cycle once."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core import culprit
from kcistage.core.culprit import Search, Suspect
from tests.core.culprit_sim import sha, simulate, target


def refs(found: tuple[Suspect, ...]) -> list[str]:
    return [s.ref for s in found]


@pytest.mark.parametrize("new, old, needs, expected", [
    ([1, 2, 3], [], {}, ["api#1", "api#2", "api#3"]),
    # api#1 depends on api#3: it comes after it
    ([1, 2, 3], [], {"api#1": ["api#3"]}, ["api#2", "api#3", "api#1"]),
    # a chain, against merge order
    ([1, 2, 3], [], {"api#1": ["api#2"], "api#2": ["api#3"]}, ["api#3", "api#2", "api#1"]),
    # a cycle is one suspect, after what it needs
    ([1, 2, 3], [], {"api#1": ["api#2"], "api#2": ["api#1", "api#3"]}, ["api#3", "api#1 + api#2"]),
    # api#100 was deployed before, but it now names a suspect: a suspect too
    ([1], [100], {"api#100": ["api#1"]}, ["api#1", "api#100"]),
    # a dependency outside the suspects (deployed before) changes nothing
    ([1, 2], [100], {"api#2": ["api#100"]}, ["api#1", "api#2"]),
])
def test_suspects_in_dependency_order(new: list[int], old: list[int], needs: dict[str, list[str]],
                                      expected: list[str]) -> None:
    good = target(old)
    failed = target(old + new)
    assert refs(culprit.suspects(failed, good, needs)) == expected


def test_a_cycle_is_deployed_whole_and_round_trips_through_json() -> None:
    failed, good = target([1, 2, 3]), target([])
    search = culprit.start(2, failed, good, "partial", "api", ["api"], None, good_id=1,
                           needs={"api#1": ["api#2"], "api#2": ["api#1"]})
    assert search is not None and len(search.suspects) == 2
    assert culprit.candidate(search, 1)["api"]["prs"] == [[1, sha(1)], [2, sha(2)]]
    assert Search.from_json(search.to_json()) == search
    # one member pushed over: the whole cycle leaves, and so does a PR that needs it
    eligible = target([2, 3])
    kept = culprit.keep_eligible(search, eligible)
    assert refs(kept.suspects) == ["api#3"] and refs(kept.departed) == ["api#1 + api#2"]


def test_a_dependent_leaves_with_its_dependency() -> None:
    failed, good = target([1, 2, 3]), target([])
    search = culprit.start(2, failed, good, "partial", "api", ["api"], None, good_id=1,
                           needs={"api#3": ["api#1"]})
    assert search is not None
    kept = culprit.keep_eligible(search, target([2, 3]))  # api#1 closed; api#3 listed still
    assert refs(kept.suspects) == ["api#2"]


def test_a_fault_in_the_dependent_blames_only_it_and_its_dependency_stays_deployed() -> None:
    # api#2 (index 1) depends on api#1 (index 0); api#2 is faulty
    out = simulate(2, {1}, needs={1: [0]})
    assert out.blamed == [1] and out.end is None
    assert [1, sha(1)] in out.targets[-1]["api"]["prs"]
    assert [2, sha(2)] not in out.targets[-1]["api"]["prs"]


def test_a_faulty_cycle_is_blamed_together() -> None:
    out = simulate(5, {3}, needs={3: [4], 4: [3]})
    assert sorted(out.blamed) == [3, 4] and out.end is None


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, dict[int, list[int]], set[int]]:
    n = draw(st.integers(1, 16), label="n")
    needs = draw(st.dictionaries(st.integers(0, n - 1), st.lists(st.integers(0, n - 1), max_size=2),
                                 max_size=n), label="needs")
    needs = {i: [d for d in deps if d != i] for i, deps in needs.items()}
    bad = draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=3), label="culprits")
    return n, needs, bad


def unit_count(n: int, needs: dict[int, list[int]]) -> int:
    keyed = {f"api#{i + 1}": [f"api#{d + 1}" for d in needs.get(i, ())] for i in range(n)}
    return len(culprit.suspects(target(list(range(1, n + 1))), target([]), keyed))


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_search_with_dependencies_properties(case: tuple[int, dict[int, list[int]], set[int]]) -> None:
    """Never a PR deployed without its dependencies (the simulation asserts it), never an innocent
    blamed, and at most ceil(log2 n) + 1 deployments per culprit (+1 to re-check last good), n
    counting a cycle once."""
    n, needs, bad = case
    out = simulate(n, bad, needs=needs)
    units = unit_count(n, needs)
    assert out.segments[0].n == units
    # a PR blamed is faulty, or in a cycle with a faulty one
    keyed = {f"api#{i + 1}": [f"api#{d + 1}" for d in needs.get(i, ())] for i in range(n)}
    members = {s.number - 1: {c[1] - 1 for c in s.commits()}
               for s in culprit.suspects(target(list(range(1, n + 1))), target([]), keyed)
               for _ in s.commits()}
    cycles = {m: group for group in members.values() for m in group}
    assert all(cycles[i] & bad for i in out.blamed)
    for segment in out.segments:
        assert segment.deployments <= culprit.budget(segment.n, segment.checked)
    assert out.deployments <= sum(math.ceil(math.log2(s.n)) + 1 if s.n > 1 else 1
                                  for s in out.segments) + 1
