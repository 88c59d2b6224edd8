"""The typed records of core/state.py describe the state file kcistage really writes.

Every key found in a real state (a sandbox run with two deployments, a conflict and an approval)
and in the stored fixture is declared by its TypedDict, and the values
of closed vocabularies are members of their enums.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_type_hints

from kcistage.core import state as records
from kcistage.core.enums import Cause, Cycle, DeployResult, PrState, StepResult, Trigger
from kcistage.sandbox.sandbox import Sandbox

API = "kernelci-api"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "state_v1.json"
ENUMS = {(records.DeploymentRecord, "cycle"): Cycle, (records.DeploymentRecord, "trigger"): Trigger,
         (records.DeploymentRecord, "result"): DeployResult, (records.StepRecord, "result"): StepResult,
         (records.PrRecord, "state"): PrState, (records.PrRecord, "cause"): Cause,
         (records.Exclusion, "cause"): Cause, (records.LeftOut, "cause"): Cause,
         (records.QueuedCycle, "cycle"): Cycle}


def undeclared(value: Any, kind: type, where: str = "state") -> list[str]:
    """Keys of `value` (and of its nested records) that `kind` does not declare, or bad enum values."""
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    hints = get_type_hints(kind, localns=vars(records))
    found = [f"{where}.{key}" for key in value if key not in hints]
    for key, item in value.items():
        enum = ENUMS.get((kind, key))
        if enum is not None and item is not None and item not in {m.value for m in enum}:
            found.append(f"{where}.{key} = {item!r} is not a {enum.__name__}")
        nested = {"deployments": records.DeploymentRecord, "steps": records.StepRecord,
                  "left_out": records.LeftOut, "commands": records.QueuedCycle,
                  "approval": records.Approval, "excluded": records.Exclusion,
                  "observed": records.Observed, "step_group": records.StepGroup}.get(key)
        if nested is None or item is None or key not in hints:
            continue
        for i, element in enumerate(item if isinstance(item, list) else [item]):
            found += undeclared(element, nested, f"{where}.{key}[{i}]")
    if kind is records.State:
        for name, pr in (value.get("prs") or {}).items():
            found += undeclared(pr, records.PrRecord, f"{where}.prs[{name}]")
    return found


def test_the_stored_fixture_is_described() -> None:
    assert undeclared(json.loads(FIXTURE.read_text()), records.State) == []


def test_a_real_state_is_described(box: Sandbox) -> None:
    assert box.deploy(full=True).code == 0
    box.open_pr(API, 4, "broonie", {"api/main.py": "app = 'v1'\n"})
    box.open_pr(API, 6, "broonie", {"api/main.py": "app = 'v2'\n"})  # conflicts with 4
    box.open_pr(API, 7, "stranger", {"doc/seven.md": "seven\n"})
    box.tick()
    box.advance(1)  # the approval comes after the tick that saw the head (same second: refused)
    box.comment(API, 7, "a-wai", "@kcibot deploy")
    box.advance(31)
    box.tick()
    state = box.state()
    assert [d["result"] for d in state["deployments"]] == ["success", "success"]
    assert state["prs"][f"{API}#6"]["excluded"] is not None  # a conflict is recorded
    assert state["prs"][f"{API}#7"]["approval"] is not None
    assert undeclared(state, records.State) == []


def test_the_checker_finds_a_stray_key_and_a_bad_value() -> None:
    state = json.loads(FIXTURE.read_text())
    state["deployments"][0]["surprise"] = 1
    state["deployments"][0]["cycle"] = "medium"
    assert undeclared(state, records.State) == [
        "state.deployments[0].surprise", "state.deployments[0].cycle = 'medium' is not a Cycle"]
