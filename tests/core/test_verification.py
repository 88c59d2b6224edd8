"""core/verification.py: nodes read defensively, identities, retries, counts, regressions, flaky, the verdict."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcistage.core import verification as v


def node(kind: str, *path: str, state: str = "done", result: str | None = "pass",
         platform: str | None = None, nid: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {"kernel_revision": {"commit": "a" * 40}}
    if platform:
        data["platform"] = platform
    return {"id": nid or f"{kind}-{'/'.join(path)}-{platform}-{result}", "kind": kind,
            "name": path[-1], "path": ["checkout", *path], "state": state, "result": result,
            "data": data, "treeid": "t1"}


def tree(*nodes: dict[str, Any]) -> v.Tree:
    return v.parse_tree([{"id": "root", "kind": "checkout", "name": "checkout",
                          "path": ["checkout"], "state": "done", "result": "pass"}, *nodes])


BAD = [
    ("not an object", "x", "item is str, not an object"),
    ("no id", {"kind": "job", "state": "done", "path": ["a"]}, "id missing"),
    ("no kind", {"id": "n1", "state": "done", "path": ["a"]}, "node n1: kind missing"),
    ("unknown state", {"id": "n1", "kind": "job", "state": "queued", "path": ["a"]},
     "node n1: state unknown 'queued'"),
    ("state number", {"id": "n1", "kind": "job", "state": 3, "path": ["a"]}, "state unknown 3"),
    ("unknown result", {"id": "n1", "kind": "job", "state": "done", "result": "ok",
                        "path": ["a"]}, "result unknown 'ok'"),
    ("path not list", {"id": "n1", "kind": "job", "state": "done", "path": "a/b"}, "path 'a/b'"),
    ("path of numbers", {"id": "n1", "kind": "job", "state": "done", "path": [1]}, "path [1]"),
    ("control chars", {"id": "n\x1b1", "kind": "job", "state": "\x07"},
     "node n\\x1b1: state unknown '\\x07'"),
]


@pytest.mark.parametrize(("raw", "problem"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_node_is_a_problem_never_a_crash(raw: Any, problem: str) -> None:
    parsed = v.parse_tree([raw])
    assert not parsed.nodes and len(parsed.problems) == 1
    assert problem in parsed.problems[0].text
    assert parsed.problems[0].text.isprintable()


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["id", "kind", "state", "result", "path",
                                                       "name", "data", "platform"]), inner,
                                      max_size=8), max_leaves=20))
def test_any_json_parses_to_nodes_or_problems(raw: Any) -> None:
    parsed = v.parse_tree([raw])
    assert len(parsed.nodes) + len(parsed.problems) == 1
    for n in parsed.nodes:
        assert n.state in v.STATES and (n.result is None or n.result in v.RESULTS)


def test_identity_is_kind_path_and_platform() -> None:
    n = v.parse_node(node("test", "kbuild-gcc-12-x86", "baseline-x86", "login", platform="qemu"))
    assert isinstance(n, v.Node)
    assert n.identity == "test:checkout/kbuild-gcc-12-x86/baseline-x86/login@qemu"
    no_platform = v.parse_node(node("kbuild", "kbuild-gcc-12-x86"))
    assert isinstance(no_platform, v.Node) and no_platform.identity == "kbuild:checkout/kbuild-gcc-12-x86"


RETRIES = [
    (["fail", "pass"], "pass"),
    (["incomplete", "skip"], "skip"),
    (["incomplete", "fail", "skip"], "fail"),
    (["incomplete", None], "incomplete"),  # done without a result: did not conclude
]


@pytest.mark.parametrize(("tries", "best"), RETRIES)
def test_retries_count_once_with_the_best_result(tries: list[str | None], best: str) -> None:
    t = tree(*(node("job", "baseline", result=r, nid=f"n{i}") for i, r in enumerate(tries)))
    assert v.results(t)["job:checkout/baseline"] == best
    assert v.counts(v.results(t))["job"] == {best: 1}


@given(st.lists(st.sampled_from(v.RESULTS), min_size=1, max_size=6))
def test_retry_order_never_matters(tries: list[str]) -> None:
    nodes = [node("test", "t", result=r, nid=f"n{i}") for i, r in enumerate(tries)]
    assert v.results(tree(*nodes)) == v.results(tree(*reversed(nodes)))
    assert v.results(tree(*nodes))["test:checkout/t"] == min(tries, key=v.RESULTS.index)


def test_counts_per_kind_and_result_ignoring_other_kinds() -> None:
    t = tree(node("kbuild", "k1"), node("kbuild", "k2", result="fail"),
             node("test", "k1", "t1"), node("test", "k1", "t2", result="skip"),
             node("process", "tarball"), node("regression", "r1"))
    assert v.counts(v.results(t)) == {"checkout": {"pass": 1}, "kbuild": {"pass": 1, "fail": 1},
                                      "test": {"pass": 1, "skip": 1}}
    assert v.counts_text(v.counts(v.results(t))) == \
        "checkout 1 pass, kbuild 1 pass 1 fail, test 1 pass 1 skip"


COMPLETE = [
    ("all done", [node("job", "j")], True),
    ("a job running", [node("job", "j", state="running", result=None)], False),
    ("a test available", [node("test", "t", state="available", result=None)], False),
    ("closing", [node("kbuild", "k", state="closing", result=None)], False),
]


@pytest.mark.parametrize(("nodes", "complete"), [c[1:] for c in COMPLETE],
                         ids=[c[0] for c in COMPLETE])
def test_tree_complete(nodes: list[dict[str, Any]], complete: bool) -> None:
    assert v.is_complete(tree(*nodes)) is complete


def test_checkout_not_done_is_not_complete() -> None:
    t = v.parse_tree([{"id": "r", "kind": "checkout", "path": ["checkout"], "state": "closing"}])
    assert not v.is_complete(t) and not v.is_complete(v.parse_tree([node("job", "j")]))
    assert "checkout node closing" in v.not_done_text(t) or "1 node not done" in v.not_done_text(t)


def test_regressions_fail_incomplete_and_missing_not_skip_or_flaky() -> None:
    base = {"test:a": "pass", "test:b": "pass", "test:c": "pass", "test:d": "pass",
            "test:e": "fail", "kbuild:k": "pass", "test:f": "pass"}
    now = {"test:a": "fail", "test:b": "incomplete", "test:d": "skip", "test:e": "fail",
           "kbuild:k": "fail", "test:f": "fail"}
    assert v.regressions(base, now, flaky_ids={"test:f"}) == [
        ("kbuild:k", "fail"), ("test:a", "fail"), ("test:b", "incomplete"), ("test:c", "missing")]


@given(st.dictionaries(st.text(max_size=5), st.sampled_from(v.RESULTS), max_size=10),
       st.dictionaries(st.text(max_size=5), st.sampled_from(v.RESULTS), max_size=10))
def test_regression_properties(base: dict[str, str], now: dict[str, str]) -> None:
    found = dict(v.regressions(base, now))
    assert v.regressions(base, base) == []  # a tree never regresses against itself
    for ident, is_now in found.items():
        assert base[ident] == "pass" and now.get(ident, "missing") == is_now != "pass"
    assert v.regressions(base, now, flaky_ids=set(base)) == []


FLAKY = [
    ("flapping", [{"t": "pass"}, {"t": "fail"}, {"t": "pass"}], {"t"}),
    ("incomplete counts", [{"t": "incomplete"}, {"t": "pass"}], {"t"}),
    ("steady fail", [{"t": "fail"}] * 5, set()),
    ("skip is not flapping", [{"t": "pass"}, {"t": "skip"}], set()),
    ("missing is not flapping", [{"t": "pass"}, {}, {"t": "pass"}], set()),
    ("only the last five", [{"t": "fail"}] + [{"t": "pass"}] * 5, set()),
]


@pytest.mark.parametrize(("history", "flaky"), [f[1:] for f in FLAKY], ids=[f[0] for f in FLAKY])
def test_flaky(history: list[dict[str, str]], flaky: set[str]) -> None:
    assert v.flaky(history) == flaky


def test_named_first_ten_then_how_many_more() -> None:
    found = [(f"test:t{i:02}", "fail") for i in range(13)]
    lines = v.named(found)
    assert lines[:2] == ["test:t00 (fail)", "test:t01 (fail)"] and len(lines) == 11
    assert lines[-1] == "... and 3 more"


def complete(*results: str) -> v.Tree:
    return tree(*(node("test", f"t{i}", result=r) for i, r in enumerate(results)))


def test_judge_no_regression_against_the_baseline() -> None:
    t = complete("pass", "pass")
    verdict = v.judge(t, treeid="t1", commit="c" * 40, baseline_id=4, baseline=v.results(t),
                      history=[], max_regressions=0)
    assert verdict.passed and verdict.failure == ""
    assert verdict.summary == ("kernel cccccccccccc: checkout 1 pass, test 2 pass; "
                               "no regression against deployment 4")
    assert verdict.tree == {"treeid": "t1", "commit": "c" * 40, "baseline": 4,
                            "counts": {"checkout": {"pass": 1}, "test": {"pass": 2}},
                            "regressions": [], "flaky": [], "mode": "compare"}


def test_judge_regressions_fail_beyond_the_allowance_unless_informational() -> None:
    base = v.results(complete("pass", "pass", "pass"))
    t = complete("pass", "fail", "incomplete")
    kw: dict[str, Any] = {"treeid": "t", "commit": None, "baseline_id": 7, "baseline": base,
                          "history": []}
    failed = v.judge(t, max_regressions=1, **kw)
    assert not failed.passed
    assert failed.failure == ("2 regressions against deployment 7: "
                              "test:checkout/t1 (fail), test:checkout/t2 (incomplete)")
    assert failed.tree["regressions"] == ["test:checkout/t1 (fail)", "test:checkout/t2 (incomplete)"]
    assert v.judge(t, max_regressions=2, **kw).passed
    info = v.judge(t, max_regressions=0, informational=True, **kw)
    assert info.passed and "new baseline" in info.summary and info.tree["regressions"]


def test_judge_a_flaky_identity_never_counts() -> None:
    base = v.results(complete("pass", "pass"))
    history = [{"test:checkout/t1": r} for r in ("pass", "fail", "pass")]
    verdict = v.judge(complete("pass", "fail"), treeid="t", commit=None, baseline_id=1,
                      baseline=base, history=history, max_regressions=0)
    assert verdict.passed and verdict.tree["flaky"] == ["test:checkout/t1"]
    assert verdict.summary.endswith("no regression against deployment 1; 1 flaky")


FIRST = [
    ("checkout and a test passed", complete("pass", "fail"), True),
    ("no test passed", complete("fail", "skip"), False),
    ("no test at all", tree(node("kbuild", "k")), False),
    ("checkout failed", v.parse_tree([{"id": "r", "kind": "checkout", "path": ["checkout"],
                                       "state": "done", "result": "fail"},
                                      node("test", "t")]), False),
]


@pytest.mark.parametrize(("t", "passed"), [f[1:] for f in FIRST], ids=[f[0] for f in FIRST])
def test_first_baseline_rule(t: v.Tree, passed: bool) -> None:
    verdict = v.judge(t, treeid="t", commit=None, baseline_id=None, baseline=None, history=[],
                      max_regressions=0)
    assert verdict.passed is passed
    assert verdict.tree["baseline"] is None and verdict.tree["regressions"] == []


def test_hostile_names_are_made_visible_in_what_people_read() -> None:
    base = v.results(tree(node("test", "<b>x</b>\x1b[31m", result="pass")))
    verdict = v.judge(tree(), treeid="t", commit="\x1b", baseline_id=1, baseline=base,
                      history=[], max_regressions=0)
    assert verdict.summary.isprintable() and verdict.failure.isprintable()
    assert "\\x1b[31m" in verdict.failure and "(missing)" in verdict.failure


@given(st.lists(st.tuples(st.sampled_from(v.KINDS), st.text(max_size=3),
                          st.sampled_from(v.RESULTS)), max_size=30))
def test_counts_add_up_to_the_identities(items: list[tuple[str, str, str]]) -> None:
    t = tree(*(node(k, name or "x", result=r, nid=f"n{i}") for i, (k, name, r) in enumerate(items)))
    per = v.results(t)
    assert sum(n for row in v.counts(per).values() for n in row.values()) == len(per)
