"""`kcistage check` with `repos[].gate`: the checks it waits for are readable, or one FAIL line
saying what the gate needs."""

from __future__ import annotations

import yaml

from kcistage.sandbox.sandbox import OWNER, Sandbox
from tests.cli.test_check import check, line

API = "kernelci-api"


def test_the_gate_checks_are_read_or_fail_in_one_line(sandbox: Sandbox) -> None:
    data = yaml.safe_load(sandbox.config_path.read_text())
    data["repos"][[r["name"] for r in data["repos"]].index(API)]["gate"] = {"checks": ["e2e"]}
    sandbox.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    head = sandbox.repos[API].branch_head("main")
    sandbox.hub.add_check_run(f"{OWNER}/{API}", head, "e2e")
    code, lines = check(sandbox)
    assert line(lines, f"{API} gate") == f"ok   {API} gate: checks: e2e: readable (1 on main at {head[:12]})"
    assert not any(" gate" in entry for entry in lines if "kernelci-core" in entry)
    sandbox.hub.fail_next(1, 403, verb="GET /repos/{o}/{r}/commits/{ref}/check-runs")
    code, lines = check(sandbox)
    said = line(lines, f"{API} gate")
    assert said.startswith("FAIL") and "repos[].gate needs read access" in said, lines
