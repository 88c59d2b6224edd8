"""`kcistage check` with a kernelci step: the API, the pipeline, the token's presence, the kernel branch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kcistage.sandbox.kernelci_standin import FakeKernelCI
from kcistage.sandbox.localrepo import LocalRepo
from kcistage.sandbox.sandbox import Sandbox
from tests.cli.test_check import check, line

TOKEN = "kci-check-token-5678"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[Sandbox, FakeKernelCI]]:
    linux = LocalRepo.create(tmp_path / "linux.git", {"Makefile": "VERSION = 6\n"},
                             branch="staging-next")
    with Sandbox(tmp_path / "sb") as sandbox, FakeKernelCI(token=TOKEN) as kci:
        (sandbox.root / "kci-token").write_text(TOKEN + "\n")
        sandbox.overrides = {"steps": [step(kci.url, str(linux.path))]}
        sandbox.write_config()
        yield sandbox, kci


def step(url: str, tree: str, **kernelci: Any) -> dict[str, Any]:
    return {"name": "test-kernel", "cycles": ["full"], "kernelci": {
        "api": url, "pipeline": url, "token_file": "kci-token",
        "tree": {"url": tree, "branch": "staging-next"}, **kernelci}}


def test_a_good_kernelci_setup_passes(box: tuple[Sandbox, FakeKernelCI]) -> None:
    sandbox, kci = box
    code, lines = check(sandbox)
    assert code == 0, lines
    assert line(lines, "test-kernel api") == f"ok   test-kernel api: {kci.url}/latest/ answers 200"
    assert line(lines, "test-kernel pipeline").startswith("ok   ")
    assert "the KernelCI token is present" in line(lines, "test-kernel token")
    assert "staging-next of " in line(lines, "test-kernel kernel")
    assert all(TOKEN not in x for x in lines)
    assert not kci.checkouts  # check submits nothing


def test_missing_token_and_unreachable_services(box: tuple[Sandbox, FakeKernelCI]) -> None:
    sandbox, kci = box
    (sandbox.root / "kci-token").unlink()
    kci.stop()
    code, lines = check(sandbox)
    assert code == 2, lines  # the token is a setup problem, not a service one
    assert "connection refused" in line(lines, "test-kernel api")
    assert line(lines, "test-kernel pipeline").startswith("FAIL")
    assert "cannot read the KernelCI token_file" in line(lines, "test-kernel token")


def test_api_5xx_alone_exits_3(box: tuple[Sandbox, FakeKernelCI]) -> None:
    sandbox, kci = box
    kci.fault("any", "status", 503)
    code, lines = check(sandbox)
    assert code == 3, lines
    assert "HTTP 503" in line(lines, "test-kernel api")


def test_the_sandbox_with_kernelci_has_the_step_and_passes_check(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", kernelci=True) as sandbox:
        step = next(s for s in sandbox.config().steps if s.name == "test-kernel")
        assert step.kernelci is not None and step.run is None and step.cycles == ("full",)
        assert sandbox.kci is not None and step.kernelci.api == sandbox.kci.url
        code, lines = check(sandbox)
        assert code == 0, lines
        assert "the KernelCI token is present" in line(lines, "test-kernel token")
