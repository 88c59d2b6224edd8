"""/metrics: the last KernelCI tree's counts, regressions and flaky identities, and waiting seconds."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from kcistage.web import metrics


def values(doc: dict[str, Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render(doc, {}, None, None, None, {})
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


TREE = {"treeid": "t", "commit": "c", "baseline": 3, "counts": {
    "checkout": {"pass": 1}, "test": {"pass": 40, "fail": 2}},
    "regressions": [f'test:a"\n{i} (fail)' for i in range(10)] + ["... and 4 more"],
    "flaky": ["test:b"]}


def test_the_newest_tree_is_exported() -> None:
    doc = {"prs": [], "next": {}, "running": {"elapsed": 90.0, "waiting_seconds": 61.5},
           "last": [{"id": 9, "steps": [{"name": "api"}]},
                    {"id": 8, "steps": [{"name": "test-kernel", "tree": TREE}]},
                    {"id": 7, "steps": [{"name": "test-kernel", "tree": {**TREE, "counts": {}}}]}]}
    got = values(doc)
    at = (("deployment", "8"), ("step", "test-kernel"))
    assert got[("kcistage_tree_identities", (*at[:1], ("kind", "test"), ("result", "fail"), at[1]))] == 2
    assert got[("kcistage_tree_identities", (*at[:1], ("kind", "checkout"), ("result", "pass"),
                                             at[1]))] == 1
    assert got[("kcistage_tree_regressions", at)] == 14
    assert got[("kcistage_tree_flaky", at)] == 1
    assert got[("kcistage_waiting_seconds", ())] == 61.5


def test_nothing_when_no_tree_and_no_wait() -> None:
    got = values({"prs": [], "next": {}, "running": {"elapsed": 1.0}, "last": []})
    assert not any(name.startswith(("kcistage_tree", "kcistage_waiting")) for name, _ in got)
