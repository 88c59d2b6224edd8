"""The KernelCI stand-in against the real KernelCI models (kernelci_models.json, read from
kernelci-core's pydantic models by kernelci_models_from_source.py).

The real stand-in, over HTTP with requests: a checkout submitted to the pipeline, its tree read
at every stage (builds, jobs, a job retried after an infrastructure error, failed tests, the
checkout closing and done), a stalled tree, every node route the tool or kci-dev reads. Every
node must carry exactly the real Node's fields, with the real types, nulls, enums and timestamps.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from kcistage.sandbox.kernelci_standin import HOSTILE, STAGES, FakeKernelCI
from tests.contract import kernelci_check as kc

TOKEN = "kci-contract-token"
URL = "https://git.kernel.org/pub/scm/linux/kernel/git/kernelci/linux.git"
TIMEOUT = 10


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return kc.load()


@pytest.fixture(scope="module")
def kci() -> Iterator[FakeKernelCI]:
    with FakeKernelCI(token=TOKEN) as fake:
        fake.failing = {"login"}
        fake.retried = {"baseline-x86"}
        fake.hostile = True
        yield fake


def checkout(kci: FakeKernelCI, **extra: Any) -> requests.Response:
    body = {"url": URL, "branch": "staging-next", "commit": "c" * 40, **extra}
    return requests.post(f"{kci.url}/api/checkout", json=body, headers={"Authorization": TOKEN},
                         timeout=TIMEOUT)


def pages(kci: FakeKernelCI, treeid: str, limit: int = 7) -> list[dict[str, Any]]:
    """Every page of a tree, as the tool reads them (the first read advances the tree)."""
    out: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {"treeid": treeid, "limit": limit,
                                        "offset": len(out) * limit}
        answer = requests.get(f"{kci.url}/latest/nodes", timeout=TIMEOUT, params=params)
        assert answer.status_code == 200
        out.append(answer.json())
        if len(out) * limit >= out[-1]["total"]:
            return out


def test_the_contract_was_read_from_the_models(contract: dict[str, Any]) -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", contract["source"]["commit"])
    assert set(kc.kinds(contract)) == {"checkout", "kbuild", "job", "test", "process",
                                       "regression"}
    assert contract["enums"]["StateValues"] == ["running", "available", "closing", "done"]
    assert "Infrastructure" in contract["enums"]["ErrorCodes"]


def test_every_node_of_a_tree_at_every_stage_matches_the_models(
        kci: FakeKernelCI, contract: dict[str, Any]) -> None:
    answer = checkout(kci, jobfilter=["baseline-x86"], platformfilter=["qemu-x86"])
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"message", "node"} and body["message"] == "OK"
    assert kc.node_problems(contract, body["node"], "checkout answer") == []
    treeid = body["node"]["treeid"]
    seen: set[tuple[str, str, str | None]] = set()
    for _ in range(STAGES + 1):
        for page in pages(kci, treeid):
            assert kc.page_problems(contract, page) == []
            seen |= {(n["kind"], n["state"], n["data"].get("error_code")) for n in page["items"]}
    # the tree went through the states and the kinds the tool decides on
    assert {k for k, _, _ in seen} == {"checkout", "kbuild", "job", "test"}
    assert {s for _, s, _ in seen} == {"running", "available", "closing", "done"}
    assert ("job", "done", "Infrastructure") in seen
    names = {n["name"] for n in pages(kci, treeid, limit=500)[0]["items"]}
    assert HOSTILE in names and "login" in names


def test_a_stalled_tree_matches_the_models(kci: FakeKernelCI, contract: dict[str, Any]) -> None:
    kci.stall = True
    try:
        treeid = checkout(kci).json()["node"]["treeid"]
    finally:
        kci.stall = False
    for _ in range(STAGES + 1):
        for page in pages(kci, treeid):
            assert kc.page_problems(contract, page) == []


def test_the_other_node_routes_answer_as_the_api_does(
        kci: FakeKernelCI, contract: dict[str, Any]) -> None:
    node = checkout(kci).json()["node"]
    treeid = node["treeid"]
    kci.advance(treeid)
    fast = requests.get(f"{kci.url}/latest/nodes/fast", params={"treeid": treeid},
                        timeout=TIMEOUT)
    assert fast.status_code == 200 and isinstance(fast.json(), list) and fast.json()
    assert [p for i, n in enumerate(fast.json())
            for p in kc.node_problems(contract, n, f"fast[{i}]")] == []
    count = requests.get(f"{kci.url}/latest/count", params={"treeid": treeid, "kind": "test"},
                         timeout=TIMEOUT).json()
    assert isinstance(count, int) and not isinstance(count, bool)
    assert count == sum(n["kind"] == "test" for n in fast.json())
    one = requests.get(f"{kci.url}/latest/node/{node['id']}", timeout=TIMEOUT)
    assert one.status_code == 200 and kc.node_problems(contract, one.json()) == []
    unknown = requests.get(f"{kci.url}/latest/node/{'f' * 24}", timeout=TIMEOUT)
    assert (unknown.status_code, unknown.json()) == (200, None)
    invalid = requests.get(f"{kci.url}/latest/node/nope", timeout=TIMEOUT)
    assert invalid.status_code == 400 and isinstance(invalid.json()["detail"], str)


@pytest.mark.parametrize("body, status", [
    ({"url": URL, "branch": "staging-next", "commit": "xyz"}, 400),
    ({"url": URL, "branch": "staging-next", "commit": "c" * 40, "jobfilter": ["nope"]}, 404),
])
def test_the_pipeline_refuses_with_a_message(kci: FakeKernelCI, body: dict[str, Any],
                                             status: int) -> None:
    answer = requests.post(f"{kci.url}/api/checkout", json=body,
                           headers={"Authorization": TOKEN}, timeout=TIMEOUT)
    assert answer.status_code == status
    assert set(answer.json()) == {"message"} and isinstance(answer.json()["message"], str)


def _good(contract: dict[str, Any], kci: FakeKernelCI) -> dict[str, Any]:
    treeid = checkout(kci).json()["node"]["treeid"]
    kci.advance(treeid)
    nodes = pages(kci, treeid, limit=500)[0]["items"]
    return next(n for n in nodes if n["kind"] == "job" and n["data"].get("error_code"))


@pytest.mark.parametrize("change, says", [
    (lambda n: n.update(colour="red"), "node.colour: not a field of Node"),
    (lambda n: n.pop("user_groups"), "node.user_groups: missing"),
    (lambda n: n.update(state="finished"), "node.state: 'finished' is not one of StateValues"),
    (lambda n: n.update(result="error"), "node.result: 'error' is not one of ResultValues"),
    (lambda n: n.update(kind="build"), "node.kind: 'build' is not one of"),
    (lambda n: n["data"].update(error_code="timeout"), "node.data.error_code: 'timeout' is not"),
    (lambda n: n["data"].update(colour="red"), "node.data.colour: not a field of TestData"),
    (lambda n: n["data"]["kernel_revision"].pop("commit"),
     "node.data.kernel_revision.commit: missing"),
    (lambda n: n.update(timeout=None), "node.timeout: null where Node does not allow it"),
    (lambda n: n.update(created="2026-12-06T18:00:00Z"), "node.created: '2026-12-06T18:00:00Z'"),
    (lambda n: n.update(parent="42"), "node.parent: '42' is not a objectid"),
    (lambda n: n.update(retry_counter=True), "node.retry_counter: True is not a integer"),
])
def test_a_node_that_breaks_the_models_fails_the_check(
        kci: FakeKernelCI, contract: dict[str, Any], change: Any, says: str) -> None:
    good = _good(contract, kci)
    assert kc.node_problems(contract, good) == []
    bad = copy.deepcopy(good)
    change(bad)
    problems = kc.node_problems(contract, bad)
    assert any(p.startswith(says) for p in problems), problems


def test_a_page_of_another_shape_fails_the_check(contract: dict[str, Any]) -> None:
    assert kc.page_problems(contract, {"items": [], "total": 0, "limit": 50, "offset": 0}) == []
    assert kc.page_problems(contract, {"items": [], "count": 0, "limit": 50, "offset": 0})
    assert kc.page_problems(contract, {"items": [], "total": "0", "limit": 50, "offset": 0})
