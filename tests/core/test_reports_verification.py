"""A full cycle's test kernel on the PR: the comment line, the commit status words, the page link."""

from __future__ import annotations

from typing import Any

import pytest

from kcistage.core import messages, reports

TREE: dict[str, Any] = {"treeid": "t", "commit": "0123456789abcdef" * 2 + "01234567", "baseline": 9,
                        "counts": {"checkout": {"pass": 1}, "test": {"pass": 40, "fail": 2}},
                        "regressions": [], "flaky": [], "mode": "compare"}


def record(step: dict[str, Any] | None = None, cycle: str = "full") -> Any:
    steps = [{"name": "api", "result": "ok", "seconds": 1.0, "reason": "exit 0"}]
    if step is not None:
        steps.append({"name": "test-kernel", "seconds": 5.0, "reason": "", **step})
    return {"id": 12, "cycle": cycle, "trigger": "change", "result": "success", "started": "s",
            "finished": "f", "target": {}, "steps": steps}


def test_no_regression_names_the_commit_counts_and_baseline() -> None:
    shown = reports.after(None, record({"result": "ok", "summary": "x", "tree": TREE}), "success")
    assert shown is not None
    body = reports.comment("a" * 40, shown, [], page="https://staging.example/kcistage")
    assert body is not None
    lines = body.splitlines()
    assert lines[2].endswith("**success** ([details](https://staging.example/kcistage/deployments/12))")
    assert lines[3] == ("- Test kernel `0123456789ab` built and tested (step `test-kernel`): "
                        "checkout 1 pass, test 40 pass 2 fail; no regression against deployment 9")
    state, text = reports.status(shown)
    assert (state, text) == ("success", "staging: full cycle, deployment 12: deployed; "
                                        "kernel 0123456789ab tested: no regression")
    assert "details" not in (reports.comment("a" * 40, shown, []) or "")


def test_regressions_are_named_as_code_never_markup() -> None:
    tree = {**TREE, "regressions": [f"test:a/<img src=x>@{i}`x (fail)" for i in range(10)]
            + ["... and 3 more"]}
    shown = reports.after(None, record({"result": "failed", "summary": "13 regressions",
                                        "tree": tree}), "failed")
    assert shown is not None
    note = shown["tree_note"]
    assert "13 regressions against deployment 9: `test:a/<img src=x>@0'x` (fail), " in note
    assert note.endswith("and 3 more") and "\n" not in note
    assert reports.status(shown)[1].endswith("kernel 0123456789ab tested: 13 regressions")


@pytest.mark.parametrize(("tree", "summary", "words", "status"), [
    ({**TREE, "baseline": None, "mode": "first"}, "x", "; the first baseline",
     "tested: first baseline"),
    ({**TREE, "mode": "new_baseline", "regressions": ["test:x (fail)"]}, "x",
     "; the new baseline (the kernel moved, not the software); 1 regression against deployment 9: "
     "`test:x` (fail)", "tested: new baseline"),
    ({**TREE, "counts": {}}, "inconclusive: tree t not complete after 4h: 1 node not done",
     None, "test kernel inconclusive"),
])
def test_other_outcomes(tree: dict[str, Any], summary: str, words: str | None, status: str) -> None:
    unsure = words is None
    note = messages.tree_note("test-kernel", tree, summary, True, unsure)
    if words is None:
        assert note == ("Test kernel (step `test-kernel`): inconclusive: tree t not complete after "
                        "4h: 1 node not done; no pull request is blamed")
    else:
        assert note.endswith(words)
    assert messages.tree_words(tree, unsure).endswith(status)


def test_an_inconclusive_deployment_says_so_on_the_pr() -> None:
    rec = record({"result": "failed", "summary": "inconclusive: the pipeline refused the checkout "
                  "(401): Unauthorized", "tree": {**TREE, "counts": {}}})
    rec["inconclusive"], rec["result"] = True, "failed"
    shown = reports.after(None, rec, "failed")
    assert shown is not None and shown["tree_note"].endswith("; no pull request is blamed")
    assert reports.status(shown)[1].endswith("failed; test kernel inconclusive")


def test_the_culprit_note_names_the_regressed_tests_as_code() -> None:
    tree = {**TREE, "regressions": ["test:checkout/k/baseline/dmesg.crit@qemu (fail)"]}
    note = messages.culprit_note(7, 6, "test-kernel", tree)
    assert note.startswith("Excluded as the culprit: deployment 7 failed with this commit (step "
                           "`test-kernel`): 1 regression: `test:checkout/k/baseline/dmesg.crit@qemu`"
                           " (fail); deployment 6 without it succeeded.")
    assert messages.culprit_note(7, 6, "api") == messages.culprit_note(7, 6, "api", None)


def test_a_partial_cycle_says_nothing_of_a_kernel_and_the_status_stays_within_140() -> None:
    shown = reports.after(None, record(), "success")
    assert shown is not None and "tree_note" not in shown
    long = messages.status_description("full", 10**9, "success", "kernel x " * 30)
    assert len(long) == 140
