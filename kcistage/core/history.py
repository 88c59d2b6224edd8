"""Pure reads of the recorded deployment history: the rules' facts, the staging that is up."""

from __future__ import annotations

from datetime import datetime

from kcistage.core import culprit, rules
from kcistage.core.model import Target, format_time, parse_time


def last_success(deployments: list[dict], before_id: int | None = None) -> dict | None:
    """The newest deployment that succeeded (older than `before_id` when given)."""
    for record in reversed(deployments):
        if record["result"] == "success" and (before_id is None or record["id"] < before_id):
            return record
    return None


def bisect_target(state: dict, target: Target) -> Target | None:
    """The target of the pending culprit-search deployment, if any."""
    search = state.get("bisect")
    if not search:
        return None
    if search.get("final"):
        return target
    return culprit.candidate(search)


def facts(state: dict, now: datetime, target: Target,
          running: rules.Running | None = None) -> rules.Facts:
    """The rules' view of the recorded history (a 'running' deployment has not ended)."""
    deployments = state["deployments"]
    completed = [d for d in deployments if d["result"] in ("success", "failed")]
    ended = [d for d in deployments if d.get("finished")]
    fulls = [d for d in deployments if d["cycle"] == "full"]
    cycles = {c["cycle"] for c in state.get("commands", [])}
    command = "full" if "full" in cycles else ("partial" if cycles else None)
    return rules.Facts(
        now=now, target=target,
        deployed=completed[-1]["target"] if completed else None,
        deployed_ok=bool(completed) and completed[-1]["result"] == "success",
        last_finished=parse_time(ended[-1]["finished"]) if ended else None,
        last_full_started=parse_time(fulls[-1]["started"]) if fulls else None,
        changed_since=parse_time(state["changed_since"]) if state.get("changed_since") else None,
        command=command, bisect=bisect_target(state, target), running=running)


def ended(deployments: list[dict], now: datetime) -> list[dict]:
    """The history as it will be once a dead 'running' deployment is marked interrupted."""
    return [dict(d, result="interrupted", finished=format_time(now))
            if d["result"] == "running" else d for d in deployments]
