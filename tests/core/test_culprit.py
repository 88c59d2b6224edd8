"""Culprit search (SPEC 8): suspects, binary search over deployments, JSON-able state."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core import culprit


def sha(n: int) -> str:
    return f"{n:040x}"


def target(api: list[int], pipe: list[int] = ()) -> dict:
    """A two-repo target with PR n at commit sha(n)."""
    return {
        "api": {"base": "a" * 40, "prs": [[n, sha(n)] for n in api]},
        "pipeline": {"base": "b" * 40, "prs": [[n, sha(n)] for n in pipe]},
    }


GOOD = target([1, 2], [5])

SUSPECTS = [
    ("no good deployment: every PR is a suspect", target([1, 2], [5]), None,
     [["api", 1, sha(1)], ["api", 2, sha(2)], ["pipeline", 5, sha(5)]]),
    ("nothing new: no suspects", target([1, 2], [5]), GOOD, []),
    ("new PRs in merge order: repo order then number", target([1, 2, 3, 9], [4, 5, 7]), GOOD,
     [["api", 3, sha(3)], ["api", 9, sha(9)], ["pipeline", 4, sha(4)], ["pipeline", 7, sha(7)]]),
    ("a new push of a known PR is a suspect",
     {"api": {"base": "a" * 40, "prs": [[1, sha(1)], [2, "f" * 40]]},
      "pipeline": {"base": "b" * 40, "prs": [[5, sha(5)]]}}, GOOD, [["api", 2, "f" * 40]]),
    ("same number and sha in another repo is still a suspect", target([5], []),
     {"api": {"base": "a" * 40, "prs": []}, "pipeline": {"base": "b" * 40, "prs": [[5, sha(5)]]}},
     [["api", 5, sha(5)]]),
    ("PRs dropped since the good deployment are not suspects", target([2], []), GOOD, []),
]


@pytest.mark.parametrize("name,failed,good,expected", SUSPECTS, ids=[c[0] for c in SUSPECTS])
def test_suspects(name, failed, good, expected):
    assert culprit.suspects(failed, good) == expected


def test_no_suspects_blames_nobody():
    assert culprit.start(GOOD, GOOD) is None
    assert culprit.start(target([], []), None) is None


def test_one_suspect_is_the_culprit_at_once():
    search = culprit.start(target([1, 2, 3], [5]), GOOD)
    assert search is not None and search["culprit"] == ["api", 3, sha(3)]
    with pytest.raises(ValueError, match="already finished"):
        culprit.candidate(search)


def test_walkthrough_four_suspects_and_json_round_trip():
    failed = target([1, 2, 3, 4], [5, 6, 7])  # suspects: api 3, api 4, pipeline 6, pipeline 7
    search = culprit.start(failed, GOOD)
    assert (search["lo"], search["hi"], search["culprit"]) == (1, 4, None)
    # First candidate: last good PRs plus the first 2 suspects, bases of the failed target.
    assert culprit.candidate(search) == target([1, 2, 3, 4], [5])
    search = json.loads(json.dumps(culprit.advance(search, ok=True)))  # stored in the state file
    assert (search["lo"], search["hi"]) == (3, 4)
    assert culprit.candidate(search) == target([1, 2, 3, 4], [5, 6])
    search = culprit.advance(search, ok=False)
    assert search["culprit"] == ["pipeline", 6, sha(6)]
    assert search["tried"] == [[2, True], [3, False]]
    # Then everything but the culprit is deployed.
    assert culprit.without(failed, "pipeline", 6) == target([1, 2, 3, 4], [5, 7])


def test_candidate_is_last_good_plus_a_prefix_of_the_suspects():
    failed = target([1, 2, 3], [5, 8])
    failed["api"]["base"] = "c" * 40  # the base moved since the good deployment
    search = culprit.start(failed, GOOD)  # suspects: api 3, pipeline 8
    cand = culprit.candidate(search)
    # the last good's base: a base change is not a suspect and stays out of the candidates
    assert cand["api"] == {"base": "a" * 40, "prs": [[1, sha(1)], [2, sha(2)], [3, sha(3)]]}
    assert cand["pipeline"] == {"base": "b" * 40, "prs": [[5, sha(5)]]}
    assert culprit.advance(search, ok=True)["culprit"] == ["pipeline", 8, sha(8)]


def test_a_new_push_replaces_the_good_head_in_candidates():
    failed = {"api": {"base": "a" * 40, "prs": [[1, sha(11)], [2, sha(2)]]}, "pipeline": GOOD["pipeline"]}
    search = culprit.start(failed, GOOD)  # api#1 pushed again: sha(11) is the suspect
    assert search["suspects"] == [["api", 1, sha(11)]]
    search = dict(search, culprit=None, lo=1, hi=1, suspects=[["api", 1, sha(11)], ["api", 3, sha(3)]])
    assert culprit.candidate(search)["api"]["prs"] == [[1, sha(11)], [2, sha(2)]]


def test_confirmed_only_when_the_culprits_candidate_failed():
    four = culprit.start(target([1, 2, 3, 4, 6, 7], []), GOOD)  # suspects 3, 4, 6, 7
    assert not culprit.confirmed(four)
    found = culprit.advance(culprit.advance(four, ok=False), ok=False)  # k=2 then k=1 fail
    assert found["culprit"] == ["api", 3, sha(3)] and culprit.confirmed(found)
    last = culprit.advance(culprit.advance(four, ok=True), ok=True)  # k=2, k=3 pass: k=4 untested
    assert last["culprit"] == ["api", 7, sha(7)] and not culprit.confirmed(last)
    single = culprit.start(target([1, 2, 3], [5]), GOOD)
    assert single["culprit"] == ["api", 3, sha(3)] and not culprit.confirmed(single)


def test_advance_does_not_mutate_and_refuses_when_done():
    search = culprit.start(target([1, 2, 3, 4], []), GOOD)
    frozen = json.dumps(search)
    after = culprit.advance(search, ok=False)
    assert json.dumps(search) == frozen
    assert after["culprit"] == ["api", 3, sha(3)]
    with pytest.raises(ValueError):
        culprit.advance(after, ok=True)


def test_without():
    t = target([1, 2], [2])
    assert culprit.without(t, "api", 2) == {
        "api": {"base": "a" * 40, "prs": [[1, sha(1)]]},
        "pipeline": {"base": "b" * 40, "prs": [[2, sha(2)]]},
    }
    assert culprit.without(t, "api", 99) == t
    assert t == target([1, 2], [2])  # input untouched


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_binary_search_finds_the_first_failing_suspect(data):
    n = data.draw(st.integers(1, 40), label="n")
    split = data.draw(st.integers(0, n), label="api suspects")
    bad = data.draw(st.integers(0, n - 1), label="culprit index")
    good_prs = data.draw(st.lists(st.integers(100, 120), unique=True, max_size=4))
    numbers = list(range(1, n + 1))
    good = target(sorted(good_prs), [])
    failed = target(sorted(good_prs + numbers[:split]), numbers[split:])
    order = [["api", k, sha(k)] for k in numbers[:split]]
    order += [["pipeline", k, sha(k)] for k in numbers[split:]]
    assert culprit.suspects(failed, good) == order
    culprit_ref = order[bad]
    # Later suspects may also break things; the search must still find the first one.
    also_bad = data.draw(st.sets(st.integers(bad, n - 1)))

    def fails(candidate: dict) -> bool:
        refs = {(repo, int(k), s) for repo, part in candidate.items() for k, s in part["prs"]}
        return any(tuple(order[i]) in refs for i in {bad} | also_bad)

    search = culprit.start(failed, good)
    deployments = 0
    while search["culprit"] is None:
        cand = culprit.candidate(search)
        for repo in failed:  # candidates keep the failed bases and every non-suspect PR
            assert cand[repo]["base"] == failed[repo]["base"]
        assert all([k, sha(k)] in cand["api"]["prs"] for k in good_prs)
        search = json.loads(json.dumps(culprit.advance(search, ok=not fails(cand))))
        deployments += 1
        assert deployments <= n
    assert search["culprit"] == culprit_ref
    assert deployments == 0 if n == 1 else deployments <= math.ceil(math.log2(n))
