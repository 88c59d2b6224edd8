"""`kcistage check` on the sandbox: passes on a good setup, one clear FAIL line per broken part.

The sandbox serves its repositories through `git http-backend` behind Basic authentication, so
the read and push checks go through the credential helper as a deployment's git does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kcistage.cli.main import main
from kcistage.sandbox.sandbox import Sandbox
from kcistage.shell import statefile

REPOS = ("kernelci-core", "kernelci-api", "kernelci-pipeline")


def check(box: Sandbox) -> tuple[int, list[str]]:
    """Run `kcistage check` in process; its exit status and output lines."""
    result = CliRunner().invoke(main, ["--config", str(box.config_path), "check"])
    return result.exit_code, result.output.splitlines()


def line(lines: list[str], name: str) -> str:
    found = [x for x in lines if re.match(rf"^(ok  |FAIL|--  ) {re.escape(name)}: ", x)]
    assert len(found) == 1, (name, lines)
    return found[0]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sb", git_http=True) as sandbox:
        yield sandbox


def test_passes_on_the_sandbox_even_while_a_run_holds_the_lock(box: Sandbox) -> None:
    box.config().state_file.parent.mkdir(parents=True, exist_ok=True)
    with statefile.Lock(box.config().state_file):
        code, lines = check(box)
    assert code == 0, lines
    assert lines[-1] == f"{len(lines) - 1} checks passed"
    assert all(x.startswith("ok   ") for x in lines[:-1]), lines
    assert "token of kcibot" in line(lines, "github")
    for repo in REPOS:
        assert "role push" in line(lines, f"{repo} github")
        assert "(git ls-remote)" in line(lines, f"{repo} git")
        assert "would be accepted (git push --dry-run)" in line(lines, f"{repo} push")
    assert "answers 0" in line(lines, "step drain-queue")
    assert box.git_http is not None and box.git_http.pushes() == 0  # dry runs push nothing
    assert not box.config().workdir.exists() and not box.config().state_file.exists()


def test_passes_as_a_github_app(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", git_http=True, app=True) as box:
        code, lines = check(box)
        assert code == 0, lines
        assert "GitHub App 'kci-staging' (id 4242)" in line(lines, "github")
        assert "writes as kci-staging[bot]" in line(lines, "github")
        assert "installation 77 allows" in line(lines, "kernelci-api github")


def test_each_broken_part_has_its_fail_line(box: Sandbox, tmp_path: Path) -> None:
    script = tmp_path / "deploy.sh"
    script.write_text("#!/bin/sh\n")  # not executable
    steps: list[dict[str, Any]] = [
        {"name": "missing-program", "run": ["kcistage-no-such-program", "up"]},
        {"name": "not-executable", "run": [str(script)]},
        {"name": "bad-cwd", "run": ["git", "status"], "cwd": str(tmp_path / "nowhere")},
        {"name": "in-checkout", "run": ["./tools/deploy"], "cwd": "kernelci-api"},
        {"name": "drain-bad", "drain": {"url": f"{box.hub.url}/no/count"}},
        {"name": "probe-bad", "probe": {"url": f"{box.hub.url}/no/such/page"}},
        {"name": "probe-good", "probe": {"url": box.count_url}},
    ]
    box.overrides = {"steps": steps, "notify": {"on_failure": ["kcistage-no-mailer"]}}
    box.write_config()
    box.hub.token_permissions["push"] = False  # a read-only token's user
    assert box.git_http is not None
    box.git_http.read_only = {"kernelci-api"}
    code, lines = check(box)
    assert code == 2, lines
    assert "no write access" in line(lines, "kernelci-core github")
    assert line(lines, "kernelci-api push").startswith("FAIL")
    assert "answered 403" in line(lines, "kernelci-api push")
    assert line(lines, "kernelci-core push").startswith("ok")
    assert "kcistage-no-such-program: not found on PATH" in line(lines, "step missing-program")
    assert "not executable" in line(lines, "step not-executable")
    assert "nowhere is not a folder" in line(lines, "step bad-cwd")
    assert line(lines, "step in-checkout").startswith("--   ")
    assert "HTTP 401" in line(lines, "step drain-bad")  # answers, but no count: broken
    assert "HTTP 401 (expected 200)" in line(lines, "step probe-bad")
    assert line(lines, "step probe-good").startswith("ok") and "answers 200" in \
        line(lines, "step probe-good")
    assert "kcistage-no-mailer: not found" in line(lines, "notify.on_failure")
    assert lines[-1] == f"{len(lines) - 1} checks, 10 failed"


def test_wrong_token_fails_github_and_git(box: Sandbox) -> None:
    (box.root / "token").write_text("ghp_wrong\n")
    code, lines = check(box)
    assert code == 2, lines
    assert "GitHub rejected the token (401)" in line(lines, "github")
    assert "refused the credential" in line(lines, "kernelci-api git")
    assert all("ghp_wrong" not in x for x in lines)


def test_only_services_unreachable_exits_3(box: Sandbox) -> None:
    box.overrides = {"steps": [{"name": "drain", "drain": {"url": "http://127.0.0.1:9/count"}},
                               {"name": "probe", "probe": {"url": "http://127.0.0.1:9/"}}]}
    box.write_config()
    box.hub.stop()  # GitHub's API is down; the git server still answers
    code, lines = check(box)
    assert code == 3, lines
    assert "GitHub unreachable" in line(lines, "github")
    assert "unreachable" in line(lines, "step drain")
    assert "refused" in line(lines, "step probe")
    assert line(lines, "kernelci-api push").startswith("ok")


def test_app_problems(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", git_http=True, app=True) as box:
        box.hub.add_repo("someone/else")
        box.overrides = {"repos": [
            {"name": "kernelci-api", "github": "kernelci/kernelci-api",
             "url": box.git_http.repo_url("kernelci-api") if box.git_http else "", "push": True},
            {"name": "other", "github": "someone/else", "url": "remotes/kernelci-core.git"}],
            "steps": []}
        box.write_config()
        assert box.hub.app is not None
        box.hub.app.permissions = {"metadata": "read", "pull_requests": "read",
                                   "issues": "write", "contents": "read"}
        code, lines = check(box)
        assert code == 2, lines
        assert "lacks statuses: write, contents: write" in line(lines, "kernelci-api github")
        assert "no installation of the App on someone/else" in line(lines, "other github")
        (box.root / "app.pem").unlink()
        code, lines = check(box)
        assert code == 2
        assert "github.app.private_key_file" in line(lines, "credential")


def test_bad_config_is_one_fail_line(box: Sandbox) -> None:
    box.config_path.write_text("github: {tokn_file: x}\nrepos: [{name: a, github: o/a}]\n")
    code, lines = check(box)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("FAIL config: ")
    assert "github.tokn_file: unknown key" in lines[0]
