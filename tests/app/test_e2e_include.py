"""`include` through the real CLI on the sandbox: it applies to the head GitHub shows when the tick
applies it, and a commit proven faulty stays excluded whatever happens to the branch until it is
included by name (`include <repo>#<n>@<sha>`)."""

from __future__ import annotations

import subprocess

from kcistage.sandbox.sandbox import OWNER, Sandbox
from kcistage.shell.controls import load as load_controls
from tests.app.test_e2e_culprit import failing_tick, first_deploy, search_ticks
from tests.conftest import run_cli

PIPE = "kernelci-pipeline"
OPERATOR = {"SUDO_USER": "alice", "USER": "root"}


def cli(box: Sandbox, *args: str) -> subprocess.CompletedProcess:
    return run_cli(box.config_path, *args, now=box.clock(), env=OPERATOR)


def proven_faulty(box: Sandbox) -> str:
    """PIPE#2 found the culprit of a failed deployment; its faulty head."""
    first_deploy(box)
    box.open_pr(PIPE, 1, "JenySadadia", {"src/a.py": "A = 1\n"})
    bad = box.open_pr(PIPE, 2, "JenySadadia", {"BREAKS_STAGING": "yes\n"})
    failing_tick(box)
    search_ticks(box)
    pr = box.state()["prs"][f"{PIPE}#2"]
    assert (pr["state"], pr["cause"], pr["excluded"]["sha"]) == ("excluded", "culprit", bad), pr
    return bad


def pr2(box: Sandbox) -> dict:
    return box.state()["prs"][f"{PIPE}#2"]


def deployed_heads(box: Sandbox, since: int) -> list[list]:
    return [p for d in box.state()["deployments"] if d["id"] > since
            for p in d["target"][PIPE]["prs"]]


def test_include_after_the_head_moved_keeps_the_faulty_commit_excluded(box: Sandbox) -> None:
    bad = proven_faulty(box)
    # The author pushes a fix; the operator, reading the state of the last tick (still the
    # faulty head), includes the PR before the next tick has seen the push.
    fixed = box.push(PIPE, 2, {"BREAKS_STAGING": None, "src/b.py": "B = 2\n"})
    done = cli(box, "include", f"{PIPE}#2")
    assert done.returncode == 0 and "included; takes effect at the next tick" in done.stdout, done
    box.advance(1)
    lines = box.tick().lines
    assert pr2(box)["sha"] == fixed and pr2(box)["state"] == "pending", pr2(box)
    assert f"{PIPE}#2: the culprit exclusion at {bad[:12]} stays (the head is now {fixed[:12]}); " \
           f"`kcistage include {PIPE}#2@{bad[:12]}` lifts it" in lines, lines
    # The author force-pushes back to the faulty commit: excluded again at once.
    box.force_push(PIPE, 2, bad)
    before = box.state()["next_id"]
    box.advance(1)
    box.tick()
    assert (pr2(box)["state"], pr2(box)["cause"], pr2(box)["excluded"]["sha"]) == \
           ("excluded", "culprit", bad), pr2(box)
    box.advance(40)
    box.tick()
    assert [2, bad] not in deployed_heads(box, before - 1)
    # Named by hand (a 7-digit prefix): the faulty commit is tried again.
    done = cli(box, "include", f"{OWNER}/{PIPE}#2@{bad[:7].upper()}")
    assert done.returncode == 0 and f"included at {bad[:12]}" in done.stdout, done
    box.advance(1)
    lines = box.tick().lines
    assert f"{PIPE}#2: culprit exclusion at {bad[:12]} lifted by hand by alice" in lines, lines
    assert pr2(box)["state"] == "pending" and pr2(box)["excluded"] is None
    assert bad not in (pr2(box).get("culprits") or {})
    bodies = [c["body"] for c in box.hub.comments(f"{OWNER}/{PIPE}", 2)]
    assert any(f"Included again at {bad[:12]} by hand by alice" in b for b in bodies), bodies


def test_include_at_a_commit_names_an_excluded_one(box: Sandbox) -> None:
    bad = proven_faulty(box)
    for wrong in (f"{PIPE}#2@{bad[:6]}", f"{PIPE}#2@xyz1234", f"{PIPE}#2@"):
        done = cli(box, "include", wrong)
        assert done.returncode == 2 and "at least its first 7" in done.stderr, done
        assert "Traceback" not in done.stderr
    other = "0" * 7 if not bad.startswith("0000000") else "1" * 7
    done = cli(box, "include", f"{PIPE}#2@{other}")
    assert done.returncode == 0, done
    assert done.stdout.startswith(f"{PIPE}#2 is not excluded at {other} (excluded commits: "
                                  f"{bad[:12]}): nothing to include"), done.stdout
    assert load_controls(box.config().state_file)["include"] == {}  # nothing requested
    # the plain form at the faulty head lifts it, as before
    assert cli(box, "include", f"{PIPE}#2").returncode == 0
    box.advance(1)
    box.tick()
    assert pr2(box)["state"] == "pending" and bad not in (pr2(box).get("culprits") or {})
