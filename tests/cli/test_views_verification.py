"""What deployments showed, in `status` (plain and rich) and `status --json` (summary, tree)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kcistage.app.status_document import _deployment
from kcistage.cli import views
from tests.cli.test_views import load, rich_text


def with_tree() -> dict[str, Any]:
    """The status fixture with a kernelci step recorded in deployment 12."""
    doc = load("status_doc.json")
    doc["last"][2]["steps"].append({
        "name": "test-kernel", "result": "ok", "seconds": 3300.0, "summary": SUMMARY, "reason": "",
        "tree": {"treeid": "4f2a", "commit": "0123456789abcdef0123456789abcdef01234567",
                 "baseline": 9, "counts": {"checkout": {"pass": 1},
                                           "test": {"pass": 40, "fail": 1}},
                 "regressions": [], "flaky": ["test:checkout/kbuild/baseline/<b>login</b>\\x1b@qemu"]}})
    return doc


SUMMARY = ("kernel 0123456789ab: checkout 1 pass, test 40 pass 1 fail; "
           "no regression against deployment 9; 1 flaky")


def test_json_steps_carry_summary_and_the_kernelci_tree() -> None:
    out = json.loads(views.render_json(with_tree()))
    steps = {s["name"]: s for s in out["last"][2]["steps"]}
    assert steps["test-kernel"]["summary"] == SUMMARY
    assert steps["test-kernel"]["tree"] == {
        "treeid": "4f2a", "commit": "0123456789abcdef0123456789abcdef01234567", "baseline": 9,
        "counts": {"checkout": {"pass": 1}, "test": {"pass": 40, "fail": 1}}, "regressions": [],
        "flaky": ["test:checkout/kbuild/baseline/<b>login</b>\\x1b@qemu"]}
    assert steps["api"]["summary"] is None and "tree" not in steps["api"]


def test_the_document_takes_summary_else_reason_from_the_record() -> None:
    record: Any = {"id": 3, "cycle": "full", "trigger": "change", "result": "failed",
                   "started": "x", "finished": "y", "target": {}, "steps": [
                       {"name": "api", "result": "ok", "seconds": 1.0, "reason": "exit 0"},
                       {"name": "test-kernel", "result": "failed", "seconds": 9.0,
                        "reason": "1 regression", "summary": "kernel abc: 1 regression",
                        "tree": {"treeid": "t", "commit": "abc", "baseline": 2, "counts": {},
                                 "regressions": ["test:x (fail)"], "flaky": [],
                                 "extra": "not a section key"}}]}
    doc = {"last": [_deployment(record)], "next": {}, "prs": []}
    steps = views.render_json(doc)
    spec = json.loads(steps)["last"][0]["steps"]
    assert [s["summary"] for s in spec] == ["exit 0", "kernel abc: 1 regression"]
    assert "extra" not in spec[1]["tree"] and spec[1]["tree"]["regressions"] == ["test:x (fail)"]
    assert views.render_plain(doc).count("3 test-kernel: kernel abc: 1 regression") == 1
    assert "3 api:" not in views.render_plain(doc)  # a run step's reason is not a summary line


def test_plain_and_rich_print_the_summary_lines() -> None:
    doc = with_tree()
    plain = views.render_plain(doc)
    assert f"What they showed\n  12 test-kernel: {SUMMARY}\n" in plain
    assert f"12 test-kernel: {SUMMARY}" in " ".join(rich_text(doc).split()).replace("│ ", "")


def test_hostile_summaries_are_made_visible(tmp_path: Path) -> None:
    doc = with_tree()
    doc["last"][2]["steps"][2]["summary"] = "kernel x: <b>\x1b[31mred\x07"
    plain = views.render_plain(doc)
    assert "\x1b" not in plain and "\\x1b[31mred\\x07" in plain
    assert "\x1b[31mred" not in rich_text(doc)
