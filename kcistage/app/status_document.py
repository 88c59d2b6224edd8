"""The status document (`status --json`, the web page), built from the state file alone (no GitHub request)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kcistage.core import controls, culprit, guidance, rules
from kcistage.core.enums import Cause
from kcistage.core.history import ended, facts, last_success, load_search
from kcistage.core.model import format_time, parse_time, pr_ref
from kcistage.core.rules import hhmm
from kcistage.core.settings import Config
from kcistage.core.state import DeploymentRecord, State
from kcistage.shell import controls as controls_file
from kcistage.shell.statefile import pid_alive

RECENT = 20
# The documented `status --json` keys (docs/commands.md); anything else is for the human views.
_RUNNING_KEYS = ("id", "cycle", "trigger", "started", "step", "waiting", "restarts")
_PAUSED_KEYS = ("by", "at", "reason")
_NEXT_KEYS = ("action", "at", "reason")
_LAST_KEYS = ("id", "cycle", "trigger", "result", "reason", "started", "finished", "prs", "steps")
_STEP_KEYS = ("name", "result", "seconds", "summary")
_TREE_KEYS = ("treeid", "commit", "baseline", "counts", "regressions", "flaky")
_PR_KEYS = ("repo", "number", "author", "sha", "state", "reason")


def status_document(cfg: Config, state: State, now: datetime,
                    operator: dict[str, Any] | None = None) -> dict[str, Any]:
    """`status --json`'s object, plus extras the views use (pid, alive, elapsed, title).

    `operator` is the controls document (pause, exclusions by hand); read from beside the state
    file when not given."""
    if operator is None:
        operator = controls_file.load(cfg.state_file)
    deployments = state["deployments"]
    current = deployments[-1] if deployments and deployments[-1]["result"] == "running" else None
    running: dict[str, Any] | None = None
    alive = False
    if current is not None:
        alive = bool(current.get("pid")) and pid_alive(int(current["pid"]))
        running = {key: current.get(key) for key in
                   ("id", "cycle", "trigger", "started", "step", "restarts")}
        held = current.get("waiting")
        running["waiting"] = held["what"] if held else None
        running["check_at"] = held["check_at"] if held else None
        running["pid"] = current.get("pid")
        running["alive"] = alive or bool(held)  # a wait between runs has no process, by design
        running["elapsed"] = (now - parse_time(current["started"])).total_seconds()

    held = current.get("waiting") if current is not None else None
    if running is not None and held:  # (for /metrics: how long the step has waited)
        running["waiting_seconds"] = max(0.0, (now - parse_time(held["since"])).total_seconds())
    nxt = _next(cfg, state, now, current, alive, operator["paused"])
    observed = state.get("observed")
    prs = pr_rows(state, operator["excluded"], current)
    guide = guidance.Next(action=nxt["action"], at=parse_time(nxt["at"]) if nxt["at"] else None,
                          waits=nxt.get("waits"), paused=operator["paused"] is not None,
                          running=current["id"] if current is not None else None)
    for row in prs:
        _guide(cfg, state, row, guide)
    return {
        "running": running,
        "paused": operator["paused"],
        "next": nxt,
        "last": [_deployment(d) for d in reversed(deployments[-RECENT:])],
        "prs": prs,
        "generated": format_time(now),
        "polled": observed["at"] if observed else None,
    }


def _guide(cfg: Config, state: State, row: dict[str, Any], nxt: guidance.Next) -> None:
    """Add to a PR row its GitHub address and what would change its state (`change`)."""
    repo = next((r for r in cfg.repos if r.name == row["repo"]), None)
    record: dict[str, Any] = dict(state["prs"].get(f"{row['repo']}#{row['number']}") or {})
    excluded: dict[str, Any] = dict(record.get("excluded") or {})
    row["url"] = f"https://github.com/{repo.github}/pull/{row['number']}" if repo else None
    row["change"] = guidance.what_changes(guidance.Standing(
        repo=row["repo"], number=row["number"], sha=row["sha"], state=row["state"],
        cause=row.get("cause"), base=repo.base if repo else "its base",
        label=cfg.trust.skip_label,
        conflict_with=tuple(f"{row['repo']}#{n}" for n in excluded.get("conflict_with") or ()),
        needs=tuple(str(ref) for ref in record.get("needs") or ()),
        deploying=row.get("deploying")), nxt, cfg.github.bot)


def _next(cfg: Config, state: State, now: datetime, current: DeploymentRecord | None,
          alive: bool, paused: dict[str, str] | None = None) -> dict[str, Any]:
    """The next action as the next tick would decide it."""
    held = current.get("waiting") if current is not None else None
    if current is not None and held:
        return {"action": "wait", "at": held["check_at"],
                "reason": f"deployment {current['id']} ({current['cycle']}) is running: step "
                          f"{held['step']} waits for {held['what']}; next check "
                          f"{rules.hhmm(parse_time(held['check_at']))}"}
    if current is not None and alive:
        step = f", step {current['step']}" if current.get("step") else ""
        search = load_search(state) if current.get("search") else None
        during = f"; {culprit.describe(search)}" if search is not None else ""
        return {"action": "wait", "at": None,
                "reason": f"deployment {current['id']} ({current['cycle']}) is running{step}{during}"}
    observed = state.get("observed")
    if not observed:
        return {"action": "none", "at": None,
                "reason": f"no poll recorded in {cfg.state_file} yet: the next tick looks at GitHub"}
    if current is not None:  # left by a dead process: the next tick marks it interrupted now
        state = {**state, "deployments": ended(state["deployments"], now)}
    decision = controls.hold(rules.decide(facts(state, now, observed["target"]), cfg.schedule),
                             paused)
    action = decision.action if decision.action in ("none", "wait", "partial", "full") else "wait"
    at = decision.at if decision.at is not None else (now if action in ("partial", "full") else None)
    return {"action": action, "at": format_time(at) if at else None, "reason": decision.reason,
            "waits": decision.waits}


def _deployment(record: DeploymentRecord) -> dict[str, Any]:
    """One entry of `last`."""
    return {
        "id": record["id"], "cycle": record["cycle"], "trigger": record["trigger"],
        "result": record["result"], "reason": record.get("reason"),
        "started": record["started"], "finished": record["finished"],
        "prs": [pr_ref(name, n, sha) for name, e in record["target"].items() for n, sha in e["prs"]],
        "steps": [_step(s) for s in record["steps"]],
    }


def _step(step: Mapping[str, Any]) -> dict[str, Any]:
    """One step of `last`: what it showed (`summary`: its own line, else its reason) and, for a
    kernelci step, its tree (section keys only)."""
    out = {"name": step["name"], "result": step["result"], "seconds": step["seconds"],
           "summary": step.get("summary"), "reason": step.get("reason")}
    tree = step.get("tree")
    if isinstance(tree, Mapping):
        out["tree"] = {key: tree.get(key) for key in _TREE_KEYS}
    return out


def _spec_step(step: dict[str, Any]) -> dict[str, Any]:
    out = _pick(step, _STEP_KEYS)
    out["summary"] = step.get("summary") or step.get("reason") or None
    if step.get("tree") is not None:
        out["tree"] = _pick(step["tree"], _TREE_KEYS)
    return out


def pr_rows(state: State, by_hand: dict[str, Any] | None = None,
            running: DeploymentRecord | None = None) -> list[dict[str, Any]]:
    """Every open PR with its state: eligible ones are deployed when in the staging that is up,
    `deploying in #N (<step>, since <time>)` while the `running` deployment holds them.

    An exclusion by hand made since the last tick (`by_hand`: the controls' "excluded") shows at
    once, as it will be from the next decision. Each row also has `cause`, `deploying` (the
    running deployment's id or None) and `deployment` (the latest that merged the PR)."""
    by_hand = by_hand or {}
    good = last_success(state["deployments"])
    up = {(name, n, sha) for name, e in good["target"].items() for n, sha in e["prs"]} if good else set()
    up_id = good["id"] if good else None
    inside = ({(name, n, sha) for name, e in running["target"].items() for n, sha in e["prs"]}
              if running is not None else set())
    latest: dict[tuple[str, int], int] = {}
    for record in state["deployments"]:  # oldest first: the newest wins
        for name, entry in record["target"].items():
            for n, _sha in entry["prs"]:
                latest[(name, n)] = record["id"]
    rows = []
    for pr in sorted(state.get("prs", {}).values(), key=lambda p: (p["repo"], p["number"])):
        pr_state, reason = pr.get("state", "pending"), pr.get("reason", "")
        cause = pr.get("cause")
        deploying = None
        key = f"{pr['repo']}#{pr['number']}"
        if key in by_hand and pr.get("cause") != Cause.BY_HAND and pr_state != "skipped":
            pr_state, cause = "excluded", Cause.BY_HAND
            reason = f"{controls.by_hand_reason(by_hand[key])} (from the next tick)"
        elif key not in by_hand and pr.get("cause") == Cause.BY_HAND:
            reason = f"{reason} (included again: back at the next tick)"
            cause = None
        elif pr_state == "pending" and running is not None and \
                (pr["repo"], pr["number"], pr["sha"]) in inside:
            deploying = running["id"]
            step = running.get("step") or "starting"
            since = hhmm(parse_time(running["started"]))
            reason = f"deploying in #{running['id']} ({step}, since {since} UTC)"
        elif pr_state == "pending" and pr.get("cause") is not None:
            pass  # held back (waits for a dependency, its own checks run): the reason says so
        elif pr_state == "pending" and (pr["repo"], pr["number"], pr["sha"]) in up:
            pr_state, reason = "deployed", f"{reason}; deployed in deployment {up_id}"
        elif pr_state == "pending" and cause is None:
            reason = f"{reason}; waiting for the next deployment"
        rows.append({"repo": pr["repo"], "number": pr["number"], "author": pr["author"],
                     "sha": pr["sha"], "state": pr_state, "reason": reason,
                     "title": pr.get("title", ""), "cause": cause, "deploying": deploying,
                     "deployment": max((d for d in (latest.get((pr["repo"], pr["number"])),
                                                     pr.get("deployment")) if d is not None),
                                       default=None)})
    return rows


def _pick(data: dict[str, Any] | None, keys: Iterable[str]) -> dict[str, Any]:
    """Only `keys` of `data`, in that order (absent keys as null)."""
    data = data or {}
    return {key: data.get(key) for key in keys}


def spec_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The document reduced to exactly the documented keys."""
    running = doc.get("running")
    return {
        "running": _pick(running, _RUNNING_KEYS) if running else None,
        "paused": _pick(doc["paused"], _PAUSED_KEYS) if doc.get("paused") else None,
        "next": _pick(doc.get("next"), _NEXT_KEYS),
        "last": [dict(_pick(dep, _LAST_KEYS), prs=list(dep.get("prs") or []),
                      steps=[_spec_step(s) for s in dep.get("steps") or []])
                 for dep in doc.get("last") or []],
        "prs": [_pick(pr, _PR_KEYS) for pr in doc.get("prs") or []],
    }


def render_json(doc: dict[str, Any]) -> str:
    """`status --json`: one object with the documented keys only, ASCII-escaped, newline-terminated."""
    return json.dumps(spec_document(doc), indent=2) + "\n"
