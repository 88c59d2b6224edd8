"""Tests of Depends-On parsing and of eligibility with dependencies (SPEC 4, cross-repository)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core.dependencies import (
    MAX_REASON,
    MAX_REFS,
    Needs,
    Outside,
    Parsed,
    apply,
    closure,
    needs,
    parse,
    units,
)
from kcistage.core.enums import Cause, PrState
from kcistage.core.settings import Repo
from kcistage.core.trust import Verdict

REPOS = (Repo(name="kernelci-core", github="kernelci/kernelci-core"),
         Repo(name="kernelci-pipeline", github="kernelci/kernelci-pipeline"))
OK = Verdict(True, PrState.PENDING, "trusted author alice")
DRAFT = Verdict(False, PrState.SKIPPED, "draft", Cause.DRAFT)


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize("body, refs", [
    ("", ()),
    ("Fixes the pipeline.\n\nDepends-On: kernelci-core#12", ("kernelci-core#12",)),
    ("depends-on:kernelci/kernelci-core#7", ("kernelci/kernelci-core#7",)),
    ("DEPENDS-ON :  Kernelci-Core#7  ", ("kernelci-core#7",)),
    ("Depends-On: https://github.com/kernelci/kernelci-core/pull/1585",
     ("kernelci/kernelci-core#1585",)),
    ("Depends-On: https://ghe.example.org:8443/KernelCI/core/pull/3/files",
     ("kernelci/core#3",)),
    ("Depends-On: <https://github.com/kernelci/kernelci-core/pull/9>", ("kernelci/kernelci-core#9",)),
    ("Depends-On: a#1\r\nDepends-On: b#2\nDepends-On: a#1", ("a#1", "b#2")),
    ("This depends on kernelci-core#12 (not a Depends-On line)", ()),
    ("  Depends-On: a#01", ("a#1",)),
])
def test_parse_reads_every_form(body: str, refs: tuple[str, ...]) -> None:
    assert parse(body) == Parsed(refs=refs)


@pytest.mark.parametrize("body, problem", [
    ("Depends-On: kernelci-core", "Depends-On: cannot read kernelci-core"),
    ("Depends-On:", "Depends-On: cannot read (empty)"),
    ("Depends-On: https://github.com/kernelci/pull/3", "Depends-On: cannot read https://github.com/kernelci/pull/3"),
    ("Depends-On: ftp://x/a/b/pull/3", "Depends-On: cannot read ftp://x/a/b/pull/3"),
    ("Depends-On: <script>alert(1)</script>#3", "Depends-On: cannot read scriptalert(1)/script#3"),
    ("Depends-On: `rm -rf /`#1", "Depends-On: cannot read rm -rf /#1"),
    ("Depends-On: a#1234567890123", "Depends-On: cannot read a#1234567890123"),
])
def test_parse_names_a_malformed_reference_in_one_short_line(body: str, problem: str) -> None:
    found = parse(body)
    assert found == Parsed(problem=problem)


def test_too_many_lines_is_one_short_line() -> None:
    body = "\n".join(f"Depends-On: kernelci-core#{n}" for n in range(500))
    assert parse(body) == Parsed(problem=f"Depends-On: 500 lines (at most {MAX_REFS})")


def test_a_megabyte_description_is_read_quickly_and_said_in_one_line() -> None:
    hostile = ("x" * 1000 + "\n") * 1000 + "Depends-On: " + "a" * 100_000
    begin = time.perf_counter()
    found = parse(hostile)
    assert time.perf_counter() - begin < 1.0
    assert found.refs == () and "\n" not in found.problem and len(found.problem) < 80


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parse_never_fails_and_says_at_most_one_short_line(body: str) -> None:
    found = parse(body)
    assert len(found.refs) <= MAX_REFS
    assert not (found.refs and found.problem)
    assert "\n" not in found.problem and len(found.problem) < 80
    assert not any(ch in found.problem for ch in "`<>")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["kernelci-core", "kernelci/kernelci-pipeline", "x/y"]),
                          st.integers(1, 10**6)), min_size=1, max_size=MAX_REFS),
       st.sampled_from(["Depends-On: ", "depends-on:", "DEPENDS-ON :  "]))
def test_parse_finds_every_written_reference(refs: list[tuple[str, int]], key: str) -> None:
    body = "Intro\n" + "\n".join(f"{key}{repo}#{n}" for repo, n in refs) + "\nbye"
    assert parse(body).refs == tuple(dict.fromkeys(f"{repo.lower()}#{n}" for repo, n in refs))


# ---------------------------------------------------------------- resolving

@pytest.mark.parametrize("refs, expected", [
    (("kernelci-core#3",), Needs(keys=("kernelci-core#3",))),
    (("kernelci/kernelci-core#3",), Needs(keys=("kernelci-core#3",))),
    (("kernelci-pipeline#5",), Needs()),  # itself: ignored
    (("kernelci/kernelci-pipeline#5", "kernelci-core#1"), Needs(keys=("kernelci-core#1",))),
    (("other-org/kernelci-core#3",), Needs(problem="Depends-On other-org/kernelci-core#3: repo not configured")),
    (("kernelci-api#3",), Needs(problem="Depends-On kernelci-api#3: repo not configured")),
])
def test_needs_resolves_against_the_configured_repos(refs: tuple[str, ...], expected: Needs) -> None:
    assert needs("kernelci-pipeline#5", refs, "", REPOS) == expected


# ---------------------------------------------------------------- eligibility

P, C, C2 = "kernelci-pipeline#5", "kernelci-core#3", "kernelci-core#4"


def judged(verdicts: dict[str, Verdict], wanted: dict[str, tuple[str, ...]],
           outside: dict[str, Outside] | None = None) -> dict[str, tuple[bool, str, str, str | None]]:
    out = apply(verdicts, {k: Needs(keys=v) for k, v in wanted.items()}, outside or {})
    return {k: (v.eligible, v.state, v.reason, v.cause) for k, v in out.verdicts.items()}


@pytest.mark.parametrize("verdicts, wanted, outside, expected", [
    # one-way: the dependency eligible, both go
    ({P: OK, C: OK}, {P: (C,)}, {}, {P: (True, "pending", OK.reason, None), C: (True, "pending", OK.reason, None)}),
    # the dependency is a draft: the dependent waits, naming it and its reason
    ({P: OK, C: DRAFT}, {P: (C,)}, {},
     {P: (False, "pending", "waits for kernelci-core#3: draft", "waits"), C: (False, "skipped", "draft", "draft")}),
    # one-way: the named PR does not wait for the one naming it
    ({P: DRAFT, C: OK}, {P: (C,)}, {},
     {P: (False, "skipped", "draft", "draft"), C: (True, "pending", OK.reason, None)}),
    # merged into its base: satisfied
    ({P: OK}, {P: (C,)}, {C: Outside.MERGED}, {P: (True, "pending", OK.reason, None)}),
    ({P: OK}, {P: (C,)}, {C: Outside.CLOSED},
     {P: (False, "skipped", "Depends-On kernelci-core#3: closed unmerged", "depends_on")}),
    ({P: OK}, {P: (C,)}, {C: Outside.MISSING},
     {P: (False, "skipped", "Depends-On kernelci-core#3: no such pull request", "depends_on")}),
    ({P: OK}, {P: (C,)}, {},
     {P: (False, "pending", "waits for kernelci-core#3: not looked up yet", "waits")}),
    # a chain: the reason nests
    ({P: OK, C: OK, C2: DRAFT}, {P: (C,), C: (C2,)}, {},
     {P: (False, "pending", "waits for kernelci-core#3: waits for kernelci-core#4: draft", "waits"),
      C: (False, "pending", "waits for kernelci-core#4: draft", "waits"),
      C2: (False, "skipped", "draft", "draft")}),
    # a cycle: all eligible, all go
    ({P: OK, C: OK}, {P: (C,), C: (P,)}, {},
     {P: (True, "pending", OK.reason, None), C: (True, "pending", OK.reason, None)}),
    # a cycle with a conflicting member: it stays excluded, the other waits for it
    ({P: OK, C: Verdict(False, PrState.EXCLUDED, "conflict with main", Cause.CONFLICT)},
     {P: (C,), C: (P,)}, {},
     {P: (False, "pending", "waits for kernelci-core#3: conflict with main", "waits"),
      C: (False, "excluded", "conflict with main", "conflict")}),
])
def test_apply(verdicts: dict[str, Verdict], wanted: dict[str, tuple[str, ...]],
               outside: dict[str, Outside], expected: dict[str, tuple[bool, str, str, str | None]]) -> None:
    assert judged(verdicts, wanted, outside) == expected


def test_a_cycle_is_one_group_and_a_problem_skips_only_its_pr() -> None:
    out = apply({P: OK, C: OK, C2: OK},
                {P: Needs(keys=(C,)), C: Needs(keys=(P,)), C2: Needs(problem="Depends-On: cannot read x")},
                {})
    assert out.groups == {P: (C, P), C: (C, P)}
    assert out.verdicts[C2] == Verdict(False, PrState.SKIPPED, "Depends-On: cannot read x", Cause.DEPENDS_ON)
    assert out.verdicts[P].eligible and out.verdicts[C].eligible


def test_a_long_chain_gives_a_short_reason_without_recursion() -> None:
    keys = [f"kernelci-core#{n}" for n in range(1, 3001)]
    verdicts = {k: OK for k in keys}
    verdicts[keys[-1]] = DRAFT
    out = apply(verdicts, {k: Needs(keys=(keys[i + 1],)) for i, k in enumerate(keys[:-1])}, {})
    assert all(not v.eligible for v in out.verdicts.values())
    assert max(len(v.reason) for v in out.verdicts.values()) <= MAX_REASON


def test_units_come_dependencies_first() -> None:
    assert units({"a#1": ["a#2"], "a#2": ["a#3"], "a#3": ["a#2"], "a#4": []}) \
        == [("a#2", "a#3"), ("a#1",), ("a#4",)]


def test_closure_takes_every_dependent() -> None:
    edges = {"a#1": ["b#1"], "b#1": ["b#2"], "b#2": ["b#1"], "c#1": []}
    assert closure({"b#2"}, edges) == {"b#2", "b#1", "a#1"}


keys_st = st.sampled_from([f"r#{n}" for n in range(1, 9)])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys_st, st.booleans(), min_size=1),
       st.dictionaries(keys_st, st.lists(keys_st, max_size=3)))
def test_an_eligible_pr_has_every_dependency_eligible_and_a_unit_goes_together(
        own: dict[str, bool], deps: dict[str, list[str]]) -> None:
    verdicts = {k: OK if ok else DRAFT for k, ok in own.items()}
    wanted = {k: Needs(keys=tuple(d for d in v if d != k)) for k, v in deps.items() if k in own}
    out = apply(verdicts, wanted, {k: Outside.MERGED for k in ("r#1", "r#2", "r#3", "r#4", "r#5", "r#6",
                                                                 "r#7", "r#8") if k not in own})
    for key, verdict in out.verdicts.items():
        assert verdict.eligible <= verdicts[key].eligible  # dependencies only ever hold back
        if verdict.eligible:
            assert all(out.verdicts[d].eligible for d in wanted.get(key, Needs()).keys if d in own)
        if not verdict.eligible and verdicts[key].eligible:
            assert verdict.state == PrState.PENDING and verdict.reason.startswith("waits for ")
    for unit in set(out.groups.values()):
        assert len({out.verdicts[m].eligible for m in unit}) == 1
    # closing the eligible set under "depends on" adds nothing
    edges = {k: [d for d in wanted.get(k, Needs()).keys if d in own] for k in own}
    out_keys = {k for k, v in out.verdicts.items() if not v.eligible}
    assert closure(out_keys, edges) == out_keys


def test_a_cycle_is_seen_even_when_a_member_also_needs_a_closed_pr() -> None:
    out = apply({P: OK, C: OK}, {P: Needs(keys=("kernelci-core#9", C)), C: Needs(keys=(P,))},
                {"kernelci-core#9": Outside.CLOSED})
    assert out.groups == {P: (C, P), C: (C, P)}
    assert out.verdicts[P].reason == "Depends-On kernelci-core#9: closed unmerged"
    assert out.verdicts[C].reason == f"waits for {P}: Depends-On kernelci-core#9: closed unmerged"
