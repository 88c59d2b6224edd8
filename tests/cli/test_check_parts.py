"""`kcistage check` reports every part and goes on: a silent git remote (bounded probe), branch
protection and rulesets a dry-run push cannot see, a program it may not stat, the webhook secret.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kcistage.app.check import PROBE_TIMEOUT
from kcistage.sandbox.sandbox import OWNER, SECRET_FILE, Sandbox
from tests.cli.test_check import check, line

API = "kernelci-api"
NOBODY = 65534


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sb", git_http=True) as sandbox:
        yield sandbox


def test_a_silent_remote_is_a_fail_line_within_the_probe_bound(box: Sandbox) -> None:
    assert box.git_http is not None
    box.git_http.hang[API] = ""
    started = time.monotonic()
    code, lines = check(box)
    took = time.monotonic() - started
    assert took < PROBE_TIMEOUT + 50, took  # one bounded probe, not git's own minutes
    assert code == 3, lines  # only a service failed
    said = line(lines, f"{API} git")
    assert said.startswith("FAIL") and "did not finish in time" in said, said
    assert "timed out after 10s" in said
    assert line(lines, "kernelci-core push").startswith("ok")  # the others were still checked
    assert line(lines, "serve.webhook_secret_file").startswith("ok")


def test_protection_that_refuses_a_force_push_fails_where_the_dry_run_passes(box: Sandbox) -> None:
    full = f"{OWNER}/{API}"
    subprocess.run(["git", "-C", str(box.root / "remotes" / f"{API}.git"), "branch",
                    "staging.kernelci.org", "main"], check=True)  # pushed by an earlier run
    box.hub.protect_branch(full, "staging.kernelci.org")  # GitHub's default: no force pushes
    code, lines = check(box)
    assert code == 2, lines
    assert line(lines, f"{API} push").startswith("ok")  # git push --dry-run sees nothing
    said = line(lines, f"{API} protection")
    assert said.startswith("FAIL") and "protected and its rules cannot be read" in said, said
    assert line(lines, "kernelci-core protection").startswith("ok")

    box.hub.token_permissions["admin"] = True  # an admin's token reads the rules themselves
    code, lines = check(box)
    assert "GitHub would refuse the force-push of staging.kernelci.org: force pushes are not " \
           "allowed" in line(lines, f"{API} protection")

    box.hub.protect_branch(full, "staging.kernelci.org", allow_force_pushes=True)
    code, lines = check(box)
    assert code == 0, lines
    assert "protected, force pushes allowed" in line(lines, f"{API} protection")

    ruleset = box.hub.add_ruleset(full, ("staging.*",), ("deletion", "non_fast_forward"))
    code, lines = check(box)
    assert code == 2, lines
    said = line(lines, f"{API} protection")
    assert f"force pushes are blocked (ruleset {ruleset})" in said and "deletion" not in said


def test_protection_of_a_repo_that_is_not_pushed_is_not_read(box: Sandbox) -> None:
    box.overrides = {"repos": [{"name": API, "github": f"{OWNER}/{API}", "push": False,
                                "url": box.git_http.repo_url(API) if box.git_http else ""}],
                     "steps": []}
    box.write_config()
    box.hub.protect_branch(f"{OWNER}/{API}", "staging.kernelci.org")
    code, lines = check(box)
    assert code == 0, lines
    assert not [x for x in lines if " protection: " in x]
    assert not [r for r in box.hub.requests if "protection" in r["path"] or "/rules/" in r["path"]]


def test_webhook_secret_file_problems(box: Sandbox) -> None:
    secret = box.root / SECRET_FILE
    secret.write_text("\n")
    code, lines = check(box)
    assert code == 2
    assert "is empty" in line(lines, "serve.webhook_secret_file")
    secret.unlink()
    code, lines = check(box)
    assert "cannot read: No such file or directory" in line(lines, "serve.webhook_secret_file")
    box.overrides = {"serve": {"webhook_secret_file": None}}
    box.write_config()
    code, lines = check(box)
    assert code == 0 and "--   serve.webhook_secret_file: not set" in line(lines, "serve.webhook_secret_file")


def test_a_program_it_may_not_stat_is_a_fail_line_and_the_rest_runs() -> None:
    """A step program inside a folder the service user may not enter (the check runs as that
    user: `nobody` when the tests run as root, who may enter anything)."""
    root = Path(tempfile.mkdtemp(prefix="kcistage-check-"))
    try:
        root.chmod(0o755)
        locked = root / "locked"
        locked.mkdir(mode=0o700 if os.geteuid() == 0 else 0o000)
        config = root / "config.yaml"
        config.write_text(yaml.safe_dump({
            "github": {"api_url": "http://127.0.0.1:9", "token_env": "KCISTAGE_TEST_TOKEN"},
            "state_file": str(root / "state" / "state.json"), "workdir": str(root / "work"),
            "repos": [{"name": "api", "github": "o/api", "url": str(root / "api.git")}],
            "steps": [{"name": "locked", "run": [str(locked / "deploy.sh")]},
                      {"name": "after", "run": ["true"]}],
            "notify": {"on_failure": ["true"]},
        }))
        config.chmod(0o644)
        user = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] \
            if os.geteuid() == 0 else []
        if user and subprocess.run([*user, sys.executable, "-c", "import kcistage"], cwd=root,
                                   capture_output=True, check=False).returncode != 0:
            # a checkout inside a folder only root may enter (mktemp -d makes it 0700)
            pytest.skip("`nobody` cannot import kcistage from this checkout")
        done = subprocess.run([*user, sys.executable, "-m", "kcistage", "--config", str(config),
                               "check"], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "KCISTAGE_TEST_TOKEN": "t"}, cwd=root,
                              check=False)
    finally:
        (root / "locked").chmod(0o700)
        shutil.rmtree(root)
    lines = done.stdout.splitlines()
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == 2, (done.stdout, done.stderr)
    said = line(lines, "step locked")
    assert said.startswith("FAIL") and "deploy.sh: cannot stat: Permission denied" in said, said
    assert line(lines, "step after").startswith("ok")  # and the rest ran
    assert line(lines, "notify.on_failure").startswith("ok")
    assert line(lines, "serve.webhook_secret_file").startswith("--")


def test_a_github_that_does_not_answer_is_a_fail_line_within_the_probe_bound(box: Sandbox) -> None:
    box.hub.slow_next(2, 60)  # GET /user (and its one retry on loopback): no answer for a minute
    started = time.monotonic()
    code, lines = check(box)
    assert time.monotonic() - started < PROBE_TIMEOUT + 50
    assert code == 3, lines
    said = line(lines, "github")
    assert said.startswith("FAIL") and "GitHub unreachable" in said, said
    assert line(lines, f"{API} git").startswith("ok")  # git and the rest were still checked
    assert line(lines, "serve.webhook_secret_file").startswith("ok")
