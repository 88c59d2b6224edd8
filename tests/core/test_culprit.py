"""Culprit search (pure): suspects, candidates, evidence-only blame, departures, budget."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core import culprit
from kcistage.core.culprit import End, Move, Search, Suspect
from tests.core.culprit_sim import sha, simulate, target

GOOD = target([100])


def two_repos(api: list[int], pipe: list[int]) -> dict:
    return {"api": {"base": "a" * 40, "prs": [[n, sha(n)] for n in api]},
            "pipeline": {"base": "b" * 40, "prs": [[n, sha(n)] for n in pipe]}}


SUSPECTS = [
    ("no good deployment: every PR is a suspect", two_repos([1, 2], [5]), None,
     [("api", 1), ("api", 2), ("pipeline", 5)]),
    ("nothing new: no suspects", two_repos([1, 2], [5]), two_repos([1, 2], [5]), []),
    ("new PRs in merge order: repo order then number", two_repos([1, 2, 3, 9], [4, 5, 7]),
     two_repos([1, 2], [5]), [("api", 3), ("api", 9), ("pipeline", 4), ("pipeline", 7)]),
    ("same number and sha in another repo is still a suspect", two_repos([5], []),
     two_repos([], [5]), [("api", 5)]),
    ("PRs dropped since the good deployment are not suspects", two_repos([2], []),
     two_repos([1, 2], [5]), []),
]


@pytest.mark.parametrize("name,failed,good,expected", SUSPECTS, ids=[c[0] for c in SUSPECTS])
def test_suspects(name, failed, good, expected):
    assert [(s.repo, s.number) for s in culprit.suspects(failed, good)] == expected
    assert all(s.sha == sha(s.number) for s in culprit.suspects(failed, good))


def test_a_new_push_of_a_known_pr_is_a_suspect_and_its_old_head_stays_out():
    good = two_repos([1, 2], [5])
    failed = {"api": {"base": "a" * 40, "prs": [[1, sha(1)], [2, "f" * 40]]}, "pipeline": good["pipeline"]}
    search = start(failed, good)
    assert search.suspects == (Suspect("api", 2, "f" * 40),)
    assert culprit.candidate(search, 0)["api"]["prs"] == [[1, sha(1)]]  # not the old head of #2
    assert culprit.candidate(search, 1) == failed


def start(failed: dict, good: dict | None, eligible: dict | None = None) -> Search:
    search = culprit.start(7, failed, good, "full", "test-kernel", ("build", "test-kernel"), eligible)
    assert search is not None
    return search


def test_nothing_new_starts_no_search():
    assert culprit.start(7, GOOD, GOOD, "partial", None, (), GOOD) is None


def test_candidates_are_last_good_plus_a_prefix_with_the_failed_bases():
    good = two_repos([1, 2], [5])
    failed = two_repos([1, 3], [5, 8])
    failed["api"]["base"] = "c" * 40  # the base moved since the good deployment
    search = start(failed, good)  # #2 left before the failure: not in any candidate
    assert [s.ref for s in search.suspects] == ["api#3", "pipeline#8"]
    assert culprit.candidate(search, 0) == {"api": {"base": "c" * 40, "prs": [[1, sha(1)]]},
                                            "pipeline": {"base": "b" * 40, "prs": [[5, sha(5)]]}}
    assert culprit.candidate(search, 1)["api"]["prs"] == [[1, sha(1)], [3, sha(3)]]
    assert culprit.candidate(search, 2) == failed


def test_walkthrough_four_suspects_and_json_round_trip():
    failed = target([100, 1, 2, 3, 4])
    search = start(failed, GOOD)
    assert culprit.describe(search) == ("culprit search: deployment 1 of at most 4; "
                                        "suspects: api#1, api#2, api#3, api#4")
    assert culprit.next_move(search) == culprit.Next(Move.PROBE, k=2)
    search = culprit.record(search, 2, True, 8)
    search = Search.from_json(json.loads(json.dumps(search.to_json())))  # as stored
    assert culprit.next_move(search) == culprit.Next(Move.PROBE, k=3)
    assert culprit.describe(search).startswith("culprit search: deployment 2 of at most 3;")
    search = culprit.record(search, 3, False, 9)
    assert culprit.next_move(search).culprit == Suspect("api", 3, sha(3))
    search, suspect, failing, passing = culprit.blame(search)
    assert (suspect.ref, failing, passing) == ("api#3", 9, 8)
    assert culprit.next_move(search).move is Move.REST
    assert culprit.describe(search) == ("culprit search: deployment 3 of at most 3: "
                                        "the target without the culprit api#3")
    assert Search.from_json(search.to_json()) == search


def test_the_first_suspect_is_blamed_only_after_last_good_is_redeployed():
    search = start(target([100, 1, 2]), GOOD)
    search = culprit.record(search, 1, False, 8)
    assert culprit.next_move(search) == culprit.Next(Move.PROBE, k=0)
    assert culprit.candidate(search, 0) == GOOD
    with pytest.raises(ValueError, match="nothing to blame"):
        culprit.blame(search)
    blamed = culprit.record(search, 0, True, 9)
    assert culprit.next_move(blamed).culprit == Suspect("api", 1, sha(1))
    assert culprit.blame(blamed)[2:] == (8, 9)
    broken = culprit.record(search, 0, False, 9)
    assert culprit.next_move(broken) == culprit.Next(Move.END, end=End.BASE_FAILS)
    assert End.BASE_FAILS == "staging fails without any new PR"


def test_one_suspect_costs_the_recheck_and_the_rest_is_skipped():
    out = simulate(1, {0})
    assert out.blamed == [0] and out.deployments == 1 and out.targets == [GOOD]


def test_a_suspect_that_leaves_drops_the_results_that_held_it():
    search = start(target([100, 1, 2, 3, 4]), GOOD)
    search = culprit.record(search, 2, True, 8)
    search = culprit.record(search, 3, False, 9)
    left = culprit.keep_eligible(search, target([100, 1, 2, 4]))  # #3 pushed over or closed
    assert [s.number for s in left.suspects] == [1, 2, 4]
    assert left.results == ((2, True, 8),) and left.departed == (Suspect("api", 3, sha(3)),)
    assert culprit.next_move(left) == culprit.Next(Move.PROBE, k=3)  # does 1, 2, 4 still fail?
    assert culprit.next_move(culprit.record(left, 3, True, 10)).end is End.PASSES
    gone = culprit.keep_eligible(search, target([100, 1, 2, 3, 4], pipeline=[]))
    assert gone.suspects == search.suspects  # a non-suspect leaving changes nothing
    none = culprit.keep_eligible(search, target([100, 9]))
    assert culprit.next_move(none) == culprit.Next(Move.END, end=End.ALL_LEFT)


def test_skip_rest_only_after_an_identical_successful_candidate():
    probe = {"result": "success", "target": GOOD, "search": {"probe": 0}}
    assert culprit.skip_rest(GOOD, probe)
    assert not culprit.skip_rest(target([100, 1]), probe)
    assert not culprit.skip_rest(GOOD, dict(probe, result="failed"))
    assert not culprit.skip_rest(GOOD, {"result": "success", "target": GOOD})  # not a candidate
    assert not culprit.skip_rest(GOOD, None)


def test_two_culprits_among_six_are_both_found_within_budget():
    out = simulate(6, {1, 4})
    assert out.blamed == [1, 4] and out.end is None
    first, second = out.segments
    assert (first.n, first.checked, second.n, second.checked) == (6, False, 4, True)
    assert first.deployments <= culprit.budget(6) and second.deployments <= culprit.budget(4, True)
    assert out.targets[-1] == target([100, 1, 3, 4, 6])  # staging good without both


def test_broken_base_blames_nobody():
    out = simulate(3, set(), base_broken=True)
    assert out.blamed == [] and out.end is End.BASE_FAILS
    assert out.targets == [target([100, 1]), GOOD]  # candidate 1 fails, then last good too


def test_a_run_of_the_demo_story_deploys_no_composition_twice():
    out = simulate(2, {1})  # the culprit is the last suspect
    assert out.blamed == [1] and len({json.dumps(t) for t in out.targets}) == len(out.targets)


def test_from_json_refuses_an_old_shape():
    with pytest.raises((KeyError, TypeError, ValueError)):
        Search.from_json({"failed": {}, "suspects": [], "lo": 1, "hi": 2})


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_search_properties(data):
    """Any n, culprit positions, broken base: never an innocent blamed, every culprit found,
    at most ceil(log2 n) + 1 deployments per culprit (+ 1 for re-checking last good)."""
    n = data.draw(st.integers(1, 24), label="n")
    broken = data.draw(st.booleans(), label="broken base")
    bad = data.draw(st.sets(st.integers(0, n - 1), min_size=0 if broken else 1, max_size=3),
                    label="culprits")  # the failure that started the search was real
    out = simulate(n, bad, base_broken=broken)
    assert set(out.blamed) <= bad
    if broken:
        assert out.blamed == [] and out.end is End.BASE_FAILS
    else:
        assert out.blamed == sorted(bad) and out.end is None
    for segment in out.segments:
        assert segment.deployments <= culprit.budget(segment.n, segment.checked)
    rechecks = sum(1 for s in out.segments if not s.checked)
    assert rechecks == 1  # only the first search may re-check "last good"
    assert out.deployments <= sum(math.ceil(math.log2(s.n)) + 1 for s in out.segments) + 1
    for reason in out.reasons:
        assert reason.startswith("culprit search: deployment ")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_departures_never_make_an_innocent_blamed(data):
    n = data.draw(st.integers(1, 12), label="n")
    broken = data.draw(st.booleans(), label="broken base")
    bad = data.draw(st.sets(st.integers(0, n - 1), min_size=0 if broken else 1, max_size=3),
                    label="culprits")
    leaves = data.draw(st.dictionaries(st.integers(0, 6), st.lists(st.integers(0, n - 1), max_size=2),
                                       max_size=3), label="leaves")
    out = simulate(n, bad, base_broken=broken, leaves=leaves)
    gone = {i for group in leaves.values() for i in group}
    assert set(out.blamed) <= bad
    assert len(out.blamed) == len(set(out.blamed))
    if broken:
        assert out.blamed == []
    if not broken and not gone:
        assert out.blamed == sorted(bad)
