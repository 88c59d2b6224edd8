"""`tick --dry-run` on the shipped config.yaml, pointed at the GitHub stand-in and local repos."""

from __future__ import annotations

from pathlib import Path

import yaml

from kcistage.sandbox.sandbox import Sandbox
from tests.conftest import run_cli

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"


def shipped_against(box: Sandbox, folder: Path) -> Path:
    """The shipped config with only where-things-are changed: stand-in, local remotes, tmp paths."""
    data = yaml.safe_load(SHIPPED.read_text())
    data["github"].update(api_url=box.hub.url, token_file=str(box.root / "token"))
    data.update(state_file=str(folder / "state.json"), workdir=str(folder / "work"))
    for repo in data["repos"]:
        repo["url"] = box.repos[repo["name"]].url
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_dry_run_prints_decision_reason_and_composition(sandbox: Sandbox, tmp_path: Path) -> None:
    cfg = shipped_against(sandbox, tmp_path)
    sha = sandbox.open_pr("kernelci-api", 12, "JenySadadia", {"api/main.py": "app = 2\n"})
    sandbox.open_pr("kernelci-api", 13, "stranger", {"api/models.py": "X = 1\n"})
    result = run_cli(cfg, "tick", "--dry-run", now=sandbox.clock())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "decision: wait" in out and "waiting for settle until" in out
    assert f"#12@{sha[:12]}" in out and "#13@" not in out
    assert not (tmp_path / "state.json").exists()  # a dry run writes nothing
    # a real tick records the first change; a dry run 6 minutes later says it would deploy
    assert run_cli(cfg, "tick", now=sandbox.clock()).returncode == 0
    state_bytes = (tmp_path / "state.json").read_bytes()
    later = sandbox.advance(6)
    result = run_cli(cfg, "tick", "--dry-run", now=later)
    assert result.returncode == 0, result.stderr
    assert "decision: full (change)" in result.stdout and "no full cycle yet" in result.stdout
    assert "plan: a full cycle (change): build the staging branches, then:" in result.stdout
    assert "  kernelci test-kernel" in result.stdout and "  probe " in result.stdout
    assert (tmp_path / "state.json").read_bytes() == state_bytes
