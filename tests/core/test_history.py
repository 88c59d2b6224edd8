"""history.py: the rules' facts read from recorded deployments (pure, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kcistage.core import culprit
from kcistage.core.history import ended, facts, last_success, search_deploy

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
A = {"kernelci-api": {"base": "a" * 40, "prs": [[1, "1" * 40]]}}
B = {"kernelci-api": {"base": "a" * 40, "prs": [[1, "1" * 40], [2, "2" * 40]]}}


def dep(i: int, result: str, cycle: str = "partial", target: dict = A, minutes: int = 0) -> dict:
    start = T0 + timedelta(minutes=minutes)
    return {"id": i, "cycle": cycle, "trigger": "change", "result": result,
            "started": start.isoformat(), "steps": [], "target": target,
            "finished": None if result == "running" else (start + timedelta(minutes=5)).isoformat()}


def state(*deployments: dict, **extra) -> dict:
    return {"deployments": list(deployments), "commands": [], "bisect": None,
            "changed_since": None, **extra}


def test_empty_history() -> None:
    f = facts(state(), T0, A)
    assert (f.deployed, f.deployed_ok, f.last_finished, f.last_full_started) == (None, False, None, None)
    assert f.command is None and f.bisect is None


@pytest.mark.parametrize("deps,deployed,ok", [
    ([dep(1, "success")], A, True),
    ([dep(1, "success"), dep(2, "failed", target=B)], B, False),
    ([dep(1, "success"), dep(2, "interrupted", target=B)], A, True),  # interrupted: not deployed
    ([dep(1, "failed"), dep(2, "running", target=B)], A, False),
])
def test_deployed_is_the_last_completed(deps: list, deployed: dict, ok: bool) -> None:
    f = facts(state(*deps), T0, A)
    assert (f.deployed, f.deployed_ok) == (deployed, ok)


def test_last_finished_counts_interrupted_and_full_start() -> None:
    f = facts(state(dep(1, "success", "full"), dep(2, "interrupted", minutes=60)), T0, A)
    assert f.last_finished == T0 + timedelta(minutes=65)
    assert f.last_full_started == T0


def test_commands_full_wins_and_bisect_target() -> None:
    search = culprit.start(2, B, A, "full", "test-kernel", ["test-kernel"], None, good_id=1)
    assert search is not None
    s = state(dep(1, "success"), dep(2, "failed", "full", target=B),
              commands=[{"cycle": "partial"}, {"cycle": "full"}], bisect=search.to_json())
    f = facts(s, T0, B)
    # one suspect: "last good" (A) is re-checked first, in the failed deployment's cycle
    assert f.command == "full" and f.bisect == A and f.bisect_cycle == "full"
    assert f.bisect_reason == ("culprit search: deployment 1 of at most 2; "
                               "suspects: kernelci-api#2")
    gone = facts(s, T0, A)  # the suspect left: nothing to search
    assert gone.bisect is None


def test_a_failed_candidate_is_evidence_not_the_deployed_target() -> None:
    probe = dict(dep(3, "failed", target=A), search={"probe": 0, "failed": 2})
    f = facts(state(dep(1, "success"), dep(2, "failed", target=B), probe), T0, B)
    assert (f.deployed, f.deployed_ok) == (B, False)  # rule 6 still holds for B
    passed = dict(probe, result="success")
    f = facts(state(dep(1, "success", target=B), dep(2, "failed", target=B), passed), T0, A)
    assert (f.deployed, f.deployed_ok) == (A, True)
    assert last_success([dep(1, "success", target=B), passed], complete=True)["id"] == 1


def test_last_success_and_ended() -> None:
    deps = [dep(1, "success"), dep(2, "failed"), dep(3, "running")]
    assert last_success(deps)["id"] == 1
    assert last_success(deps, before_id=1) is None
    after = ended(deps, T0)
    assert [d["result"] for d in after] == ["success", "failed", "interrupted"]
    assert deps[2]["result"] == "running"  # the input is not changed


def test_a_suspect_pushed_over_leaves_before_the_next_candidate_whatever_the_target_says() -> None:
    """A poll that refreshed the PR records, then failed (5xx, rate limit) before the eligible
    target was recorded, leaves a stale target behind: the records still decide."""
    three = {"kernelci-api": {"base": "a" * 40, "prs": [[1, "1" * 40], [2, "2" * 40], [3, "3" * 40]]}}
    search = culprit.start(2, three, A, "partial", "api", ["api"], None, good_id=1)
    assert search is not None and len(search.suspects) == 2
    records = {f"kernelci-api#{n}": {"repo": "kernelci-api", "number": n, "sha": str(n) * 40}
               for n in (1, 2, 3)}
    records["kernelci-api#2"]["sha"] = "9" * 40  # pushed over
    s = state(dep(1, "success"), dep(2, "failed", target=three), bisect=search.to_json(), prs=records)
    pending = search_deploy(s, three)  # the stale target still holds #2 at its old head
    assert pending is not None
    assert all(pair != [2, "2" * 40] for pair in pending.target["kernelci-api"]["prs"])
    assert [s.number for s in pending.search.suspects] == [3]
    assert [s.number for s in pending.search.departed] == [2]
