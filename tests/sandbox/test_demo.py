"""`kcistage demo` runs offline, tells the whole story and leaves nothing behind."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from kcistage.cli.main import main


def test_demo_tells_the_story_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a temp folder of its own: demos run by other processes come and go in the shared one
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(Path(tempfile.gettempdir()).glob("kcistage-demo-*"))
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    # the first deployment is full, then a trusted change deploys partially with only its steps
    assert "full (change): deployment 1 success" in out
    assert "ran drain-queue, restart-pipeline; skipped build-kernelci-images" in out
    # a signed webhook delivery to a real serve pokes a tick at once; a redelivery is a duplicate
    assert "/webhook: 202 accepted: the next tick polls GitHub" in out
    assert "kcistage-poke.path starts a tick" in out
    assert "the tick removed the poke (0 left); GitHub redelivers the same delivery: 200 duplicate" in out
    # an untrusted PR waits for a maintainer's approval
    assert "kernelci-api#7 is skipped: author not trusted and no approval" in out
    assert "kernelci-api#7 is pending: approved by a-wai" in out
    # a push during a deployment restarts it once
    assert "restarting from the first step (restart 1)" in out
    assert "1 restart" in out and "restart(s)" not in out
    # a conflicting PR is left out and told why
    assert "kernelci-api#9 is excluded: conflict with #7 in api/main.py (on main at " in out
    # an admin trigger runs a full cycle at once
    assert "full (command)" in out and "test-kernel" in out
    # a failure is pinned on the faulty PR
    assert "kernelci-pipeline#103 is excluded: culprit" in out
    # the search shows in status, deploys each composition once and ends with staging good
    assert "next: partial: culprit search: deployment 1 of at most 4; suspects:" in out
    assert "culprit search over after 3 deployments" in out
    # a two-repo change waits for the PR it depends on, then both are deployed together
    assert "kernelci-pipeline#105 is pending: waits for kernelci-core#31: draft" in out
    assert "merged kernelci-core#31 and kernelci-pipeline#105 together" in out
    assert "with kernelci-core#31 (Depends-On)" in out
    # the test kernel is followed to the end across ticks (no process waits) and judged
    assert "deployment 1 waits: tree " in out and "; first baseline" in out
    assert re.search(r"test-kernel: kernel \w+: .*; no regression against deployment \d+", out)
    # a PR that breaks a test: caught by the regression check, blamed by test name, excluded
    regression = re.compile(r"2 regressions against deployment \d+: test:checkout/"
                            r"kbuild-gcc-12-x86/baseline-x86/dmesg\.crit@")
    assert len(regression.findall(out)) == 1, out  # said once, by the tick that failed
    assert re.search(r"kernelci-pipeline#106 is excluded: culprit of deployment \d+", out)
    # its harmless companion is deployed again by the search, and the demo says so as status does
    assert re.search(r"kernelci-api#11 is deployed: trusted author broonie; deployed in "
                     r"deployment \d+", out)
    assert re.search(r"kernelci-pipeline#106 is told: Excluded as the culprit: deployment \d+ "
                     r"failed with this commit \(step `test-kernel`\): 2 regressions: "
                     r"`test:checkout/kbuild-gcc-12-x86/baseline-x86/dmesg\.crit@", out)
    assert "Next: `" in out and "demo --keep DIR`" in out
    assert set(Path(tempfile.gettempdir()).glob("kcistage-demo-*")) == before
    assert Path(tempfile.gettempdir()) == tmp_path



def test_demo_ends_saying_what_to_do_next_with_a_command_that_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The --keep hint's status command runs as printed (the sandbox's time, this program)."""
    import shlex
    import subprocess

    from kcistage.sandbox import demo

    keep = tmp_path / "kept"
    result = CliRunner().invoke(main, ["demo", "--keep", str(keep)])
    assert result.exit_code == 0, result.output
    hints = [line.strip() for line in result.output.splitlines() if line.endswith(" status")]
    assert len(hints) == 1 and " --now " in hints[0], result.output
    done = subprocess.run(shlex.split(hints[0]), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr
    assert "Recent deployments" in done.stdout and "process" not in done.stdout
    assert "serve" in result.output and (keep / "status.html").is_file()
    # run as a script that is not on PATH, the hint names that script; else python -m kcistage
    monkeypatch.setattr(demo.sys, "argv", [".venv/bin/kcistage", "demo"])
    assert demo.own_command() == ".venv/bin/kcistage"
    monkeypatch.setattr(demo.sys, "argv", ["/x/kcistage/__main__.py", "demo"])
    assert demo.own_command() == f"{shlex.quote(demo.sys.executable)} -m kcistage"
