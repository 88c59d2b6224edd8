"""Commit statuses link to the PR's anchor on the status page when github.public_url is set."""

from __future__ import annotations

from pathlib import Path

from kcistage.app.notify import status_link
from kcistage.sandbox.sandbox import Sandbox


def test_statuses_link_to_the_pr_anchor(tmp_path: Path) -> None:
    page = "https://staging.example.org/kcistage/"
    with Sandbox(tmp_path / "sb", overrides={"github": {"public_url": page}}) as box:
        sha = box.open_pr("kernelci-api", 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
        result = box.deploy()
        assert result.code == 0, result.lines
        links = {s["target_url"] for s in box.hub.statuses[sha]}
        assert links == {"https://staging.example.org/kcistage/#kernelci-api-5"}
        assert len(box.hub.statuses[sha]) == 2  # pending, then success


def test_no_link_without_a_page() -> None:
    assert status_link(None, "kernelci-api", 5) is None
    assert status_link("http://h", "kernelci-core", 12) == "http://h/#kernelci-core-12"
