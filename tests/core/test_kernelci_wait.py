"""core/kernelci_wait.py: one check at a time: checkout tries, API patience, timeout, completion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kcistage.core.kernelci_wait import CheckoutAnswer, after_checkout, after_read, after_read_error, start_data
from kcistage.core.settings import KernelCI, KernelTree
from kcistage.core.verification import parse_tree

KC = KernelCI(api="http://api", pipeline="http://pipe", tree=KernelTree("u", "b"), token_env="T",
              interval=timedelta(minutes=1), timeout=timedelta(hours=1))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DATA = start_data("c" * 40, "compare", 3)


def test_accepted_checkout_waits_for_its_tree() -> None:
    nxt = after_checkout(KC, DATA, T0, CheckoutAnswer(treeid="tid", node="n1"))
    assert nxt.result is None and nxt.check_at == T0 + timedelta(minutes=1)
    assert nxt.data["phase"] == "tree" and nxt.data["treeid"] == "tid"


def test_refused_checkout_is_inconclusive_with_its_message() -> None:
    nxt = after_checkout(KC, DATA, T0, CheckoutAnswer(error="refused", status=400,
                                                      detail="too many filters"))
    assert nxt.result == "failed" and nxt.inconclusive
    assert nxt.reason == "inconclusive: the pipeline refused the checkout (400): too many filters"


def test_unreachable_pipeline_three_tries_a_minute_apart() -> None:
    data, now = DATA, T0
    for _ in range(2):
        nxt = after_checkout(KC, data, now, CheckoutAnswer(error="server", status=503))
        assert nxt.result is None and nxt.check_at == now + timedelta(minutes=1)
        data, now = nxt.data, now + timedelta(minutes=1)
    nxt = after_checkout(KC, data, now, CheckoutAnswer(error="unreachable", detail="refused"))
    assert nxt.inconclusive and "3 tries a minute apart" in nxt.reason


def test_api_unreadable_for_30_minutes_is_inconclusive() -> None:
    data = {**DATA, "treeid": "tid", "last_read": "2026-01-01T00:00:00+00:00"}
    assert after_read_error(KC, data, T0, T0 + timedelta(minutes=29), "503").result is None
    late = after_read_error(KC, data, T0, T0 + timedelta(minutes=30), "503")
    assert late.inconclusive and "could not be read for 30m" in late.reason


def test_incomplete_tree_waits_then_times_out_naming_nodes() -> None:
    tree = parse_tree([{"id": "r", "kind": "checkout", "path": ["checkout"], "state": "available"},
                       {"id": "j", "kind": "job", "path": ["checkout", "baseline"],
                        "state": "running", "data": {"platform": "qemu"}}])
    data = {**DATA, "treeid": "tid"}
    waiting = after_read(KC, data, T0, T0 + timedelta(minutes=5), tree)
    assert waiting is not None and waiting.result is None and "0 of 2 nodes done" in waiting.summary
    late = after_read(KC, data, T0, T0 + timedelta(hours=1), tree)
    assert late is not None and late.inconclusive
    assert "2 nodes not done: checkout:checkout (available), job:checkout/baseline@qemu (running)" \
        in late.reason


def test_malformed_or_empty_tree_is_inconclusive_and_complete_is_left_to_judge() -> None:
    bad = after_read(KC, {**DATA, "treeid": "tid"}, T0, T0, parse_tree([{"id": "x"}]))
    assert bad is not None and bad.inconclusive and "1 unreadable node in tree tid" in bad.reason
    empty = after_read(KC, {**DATA, "treeid": "tid"}, T0, T0, parse_tree([]))
    assert empty is not None and empty.reason == "inconclusive: the API has no node of tree tid"
    done = parse_tree([{"id": "r", "kind": "checkout", "path": ["checkout"], "state": "done",
                        "result": "pass"}])
    assert after_read(KC, DATA, T0, T0, done) is None


def test_a_final_answer_about_the_tree_is_inconclusive_at_once() -> None:
    data = {**DATA, "treeid": "0123456789abcdef", "last_read": "2026-01-01T00:00:00+00:00"}
    for kind in ("not_found", "refused", "malformed"):
        nxt = after_read_error(KC, data, T0, T0 + timedelta(minutes=1), "GET x: 404 (gone)", kind)
        assert nxt.inconclusive and nxt.reason == (
            "inconclusive: the KernelCI API's answer for tree 0123456789ab cannot be used: "
            "GET x: 404 (gone)")
    for kind in ("unreachable", "server"):
        assert after_read_error(KC, data, T0, T0 + timedelta(minutes=1), "503", kind).result is None
