"""shell/kernelci.py against the KernelCI stand-in over HTTP: checkout, all pages, typed errors, the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kcistage.core import verification as v
from kcistage.core.settings import KernelCI, KernelTree
from kcistage.errors import AuthError
from kcistage.sandbox.kernelci_standin import HOSTILE, STAGES, FakeKernelCI, Layout
from kcistage.shell.kernelci import KernelCIClient, KernelCIError, kernelci_token

URL, BRANCH, COMMIT = "https://github.com/kernelci/linux.git", "staging-next", "c" * 40


@pytest.fixture
def kci() -> Iterator[FakeKernelCI]:
    with FakeKernelCI(trees=((URL, BRANCH),)) as fake:
        yield fake


def client(kci: FakeKernelCI, token: str | None = "kci-test-token") -> KernelCIClient:
    return KernelCIClient(kci.url, kci.url, token, timeout=(2.0, 5.0))


def test_checkout_then_the_tree_to_completion(kci: FakeKernelCI) -> None:
    c = client(kci)
    answer = c.submit_checkout(URL, BRANCH, COMMIT, ("baseline-x86",), ("qemu-x86",))
    assert answer.error == "" and answer.treeid in kci.trees and answer.node
    assert kci.checkouts == [{"url": URL, "branch": BRANCH, "commit": COMMIT,
                              "jobfilter": ["baseline-x86"], "platformfilter": ["qemu-x86"]}]
    seen = []
    for _ in range(STAGES):
        tree = v.parse_tree(c.tree_nodes(answer.treeid or "", page=3))
        assert not tree.problems
        seen.append(v.is_complete(tree))
    assert seen == [False] * (STAGES - 1) + [True]
    per = v.results(tree)
    assert per["test:checkout/kbuild-gcc-12-x86/baseline-x86/login@qemu-x86"] == "pass"
    assert v.counts(per)["test"] == {"pass": 8}


def test_all_pages_are_read(kci: FakeKernelCI) -> None:
    kci.layout = Layout.sized(2000)
    c = client(kci)
    treeid = c.submit_checkout(URL, BRANCH, COMMIT).treeid or ""
    kci.advance(treeid)
    kci.auto_advance = False
    before = c.requests
    nodes = c.tree_nodes(treeid, page=250)
    assert len(nodes) == len(kci.trees[treeid].nodes) > 1900
    assert len({n["id"] for n in nodes}) == len(nodes)
    assert c.requests - before == -(-len(nodes) // 250)


REFUSALS = [
    ({"token": "wrong"}, "refused", 401, "Unauthorized"),
    ({"commit": "abc"}, "refused", 400, "Invalid commit format"),
    ({"url": "https://example.org/other.git"}, "refused", 404, "Tree not found"),
    ({"jobfilter": tuple(f"j{i}" for i in range(9))}, "refused", 400, "Too many jobs in jobfilter"),
    ({"jobfilter": ("nope",)}, "refused", 404, "Job nope not found"),
]


@pytest.mark.parametrize(("change", "error", "status", "message"), REFUSALS)
def test_refusals_carry_the_pipelines_message(kci: FakeKernelCI, change: dict[str, object],
                                              error: str, status: int, message: str) -> None:
    c = client(kci, str(change.pop("token", "kci-test-token")))
    args = {"url": URL, "branch": BRANCH, "commit": COMMIT, **change}
    answer = c.submit_checkout(**args)  # type: ignore[arg-type]
    assert (answer.error, answer.status, answer.detail) == (error, status, message)
    assert not kci.trees


def test_checkout_faults_are_typed(kci: FakeKernelCI) -> None:
    c = client(kci)
    kci.fault("checkout", "status", 503)
    assert (c.submit_checkout(URL, BRANCH, COMMIT).error, kci.trees) == ("server", {})
    kci.fault("checkout", "malformed")
    assert c.submit_checkout(URL, BRANCH, COMMIT).error == "malformed"
    kci.fault("checkout", "drop")
    assert c.submit_checkout(URL, BRANCH, COMMIT).error == "unreachable"
    kci.stop()
    gone = c.submit_checkout(URL, BRANCH, COMMIT)
    assert gone.error == "unreachable" and "connection refused" in gone.detail


@pytest.mark.parametrize(("kind", "detail", "error"), [
    ("status", 502, "server"), ("malformed", None, "malformed"), ("truncated", None, "malformed"),
    ("drop", None, "unreachable")])
def test_read_faults_are_typed(kci: FakeKernelCI, kind: str, detail: object, error: str) -> None:
    c = client(kci)
    treeid = c.submit_checkout(URL, BRANCH, COMMIT).treeid or ""
    kci.fault("nodes", kind, detail)
    with pytest.raises(KernelCIError) as info:
        c.tree_nodes(treeid)
    assert info.value.kind == error and "\n" not in str(info.value)
    assert "kci-test-token" not in str(info.value)


def test_unknown_tree_has_no_nodes_and_hostile_names_arrive_as_sent(kci: FakeKernelCI) -> None:
    c = client(kci)
    assert c.tree_nodes("0" * 64) == []
    kci.hostile = True
    treeid = c.submit_checkout(URL, BRANCH, COMMIT).treeid or ""
    kci.advance(treeid)
    names = {n["name"] for n in c.tree_nodes(treeid)}
    assert HOSTILE in names


def test_regressions_from_a_marker_file_and_a_stalled_tree(kci: FakeKernelCI, tmp_path: Path) -> None:
    kci.watch = tmp_path
    (tmp_path / "kernelci-breaks").write_text("dmesg.crit\n")
    c = client(kci)
    treeid = c.submit_checkout(URL, BRANCH, COMMIT).treeid or ""
    kci.advance(treeid)
    per = v.results(v.parse_tree(c.tree_nodes(treeid)))
    assert {i for i, r in per.items() if r == "fail"} == {
        f"test:checkout/kbuild-gcc-12-x86/baseline-x86/dmesg.crit@{p}"
        for p in ("qemu-x86", "minnowboard-turbot-E3826")}
    kci.stall = True
    stalled = c.submit_checkout(URL, BRANCH, COMMIT).treeid or ""
    kci.advance(stalled)
    tree = v.parse_tree(c.tree_nodes(stalled))
    assert not v.is_complete(tree) and "running" in v.not_done_text(tree)


def test_a_retried_job_counts_once_with_its_best_result(kci: FakeKernelCI) -> None:
    kci.retried = {"baseline-x86"}
    c = client(kci)
    treeid = c.submit_checkout(URL, BRANCH, COMMIT).treeid or ""
    kci.advance(treeid)
    nodes = c.tree_nodes(treeid)
    jobs = [n for n in nodes if n["kind"] == "job"]
    assert sorted(n["retry_counter"] for n in jobs) == [0, 0, 1, 1]
    assert v.counts(v.results(v.parse_tree(nodes)))["job"] == {"pass": 2}


def kc(tmp_path: Path, token_file: str | None = None) -> KernelCI:
    return KernelCI(api="a", pipeline="p", tree=KernelTree("u", "b"), token_env="KCI_TOKEN",
                    token_file=tmp_path / token_file if token_file else None)


def test_token_from_file_or_environment(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("from-file\n")
    assert kernelci_token(kc(tmp_path, "tok"), {"KCI_TOKEN": "env"}) == "from-file"
    assert kernelci_token(kc(tmp_path, "absent"), {"KCI_TOKEN": "env"}) == "env"
    assert kernelci_token(kc(tmp_path), {"KCI_TOKEN": " env "}) == "env"
    with pytest.raises(AuthError, match=r"no KernelCI token: \$KCI_TOKEN is not set"):
        kernelci_token(kc(tmp_path), {})
    (tmp_path / "empty").write_text("")
    with pytest.raises(AuthError, match="is empty"):
        kernelci_token(kc(tmp_path, "empty"), {})
