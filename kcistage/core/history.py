"""Pure reads of the recorded deployment history: the rules' facts, the staging that is up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kcistage.core import culprit, rules
from kcistage.core.enums import DeployResult
from kcistage.core.model import Target, format_time, parse_time
from kcistage.core.state import DeploymentRecord, State
from kcistage.core.verification_plan import failed_deployment


def is_probe(record: Mapping[str, Any]) -> bool:
    """A culprit-search candidate: evidence for the search, run only up to the step that failed."""
    search = record.get("search") or {}
    return search.get("probe") is not None


def last_success(deployments: list[DeploymentRecord], before_id: int | None = None,
                 complete: bool = False) -> DeploymentRecord | None:
    """The newest deployment that succeeded (older than `before_id` when given; with `complete`,
    not a culprit-search candidate, whose later steps were skipped)."""
    for deployment in deployments[::-1]:  # (reversed() loses the record type in mypy)
        older = before_id is None or int(deployment["id"]) < before_id
        if deployment["result"] == DeployResult.SUCCESS and older \
                and not (complete and is_probe(deployment)):
            return deployment
    return None


@dataclass(frozen=True)
class SearchDeploy:
    """The culprit-search deployment the next tick makes."""

    search: culprit.Search
    target: Target
    k: int | None  # the candidate's prefix length; None for the target without the culprit
    reason: str


def load_search(state: State) -> culprit.Search | None:
    """The stored culprit search (None when there is none or it is unreadable)."""
    raw = state.get("bisect")
    if not raw:
        return None
    try:
        return culprit.Search.from_json(raw)
    except (KeyError, TypeError, ValueError):
        return None


def current_heads(state: State, target: Target) -> Target:
    """`target` without the PRs whose record shows another head (or none: closed).

    The records are the freshest word on a head: a poll that updated them and then failed
    before the eligible target was recorded must still keep a pushed-over suspect out."""
    records = state.get("prs")
    if records is None:
        return target
    heads = {(r["repo"], r["number"]): r["sha"] for r in records.values()}
    return {name: {**entry, "prs": [[n, sha] for n, sha in entry["prs"] if heads.get((name, n)) == sha]}
            for name, entry in target.items()}


def search_deploy(state: State, target: Target) -> SearchDeploy | None:
    """The pending culprit-search deployment, given the eligible target (None: none pending).

    A suspect whose head moved leaves the search here, before any candidate is composed."""
    search = load_search(state)
    if search is None:
        return None
    target = current_heads(state, target)
    search = culprit.keep_eligible(search, target)
    move = culprit.next_move(search)
    reason = culprit.describe(search)
    if move.move is culprit.Move.PROBE and move.k is not None:
        return SearchDeploy(search, culprit.candidate(search, move.k), move.k, reason)
    deployments = state["deployments"]
    if move.move is culprit.Move.REST \
            and not culprit.skip_rest(target, deployments[-1] if deployments else None):
        return SearchDeploy(search, target, None, reason)
    return None


def _counts(record: DeploymentRecord) -> bool:
    """Whether a record is a deployment for the rules (a failed candidate is only evidence; an
    inconclusive one counts as not deployed, like an interrupted one)."""
    if record.get("inconclusive"):
        return False
    result = record["result"]
    return result == DeployResult.SUCCESS or (result == DeployResult.FAILED and not is_probe(record))


def facts(state: State, now: datetime, target: Target,
          running: rules.Running | None = None) -> rules.Facts:
    """The rules' view of the recorded history (a 'running' deployment has not ended)."""
    deployments = state["deployments"]
    completed = [d for d in deployments if _counts(d)]
    ends = [d["finished"] for d in deployments if d.get("finished")]
    fulls = [d for d in deployments if d["cycle"] == "full"]
    cycles = {c["cycle"] for c in state.get("commands", [])}
    command = "full" if "full" in cycles else ("partial" if cycles else None)
    pending = search_deploy(state, target)
    return rules.Facts(
        now=now, target=target,
        deployed=completed[-1]["target"] if completed else None,
        deployed_ok=bool(completed) and completed[-1]["result"] == "success",
        last_finished=parse_time(ends[-1]) if ends and ends[-1] else None,
        last_full_started=parse_time(fulls[-1]["started"]) if fulls else None,
        changed_since=parse_time(changed) if (changed := state.get("changed_since")) else None,
        command=command, running=running,
        bisect=pending.target if pending else None,
        bisect_cycle=pending.search.cycle if pending else "partial",
        bisect_reason=pending.reason if pending else "")


def ended(deployments: list[DeploymentRecord], now: datetime) -> list[DeploymentRecord]:
    """The history as it will be once a dead 'running' deployment is marked interrupted (one
    that waits between runs has no process, by design: it goes on)."""
    return [{**d, "result": "interrupted", "finished": format_time(now)}
            if d["result"] == "running" and not d.get("waiting") else d for d in deployments]


def observed_target(state: State) -> Target:
    """The eligible target of the last poll (a run asks only after it has polled)."""
    observed = state["observed"]
    if observed is None:
        raise ValueError("no poll recorded yet")
    return observed["target"]


def _ids(values: Any) -> set[int]:
    """The integers in a list (or one integer), ignoring anything else."""
    items = values if isinstance(values, list) else [values]
    return {v for v in items if isinstance(v, int) and not isinstance(v, bool)}


def _search_ids(raw: Mapping[str, Any] | None) -> set[int]:
    """Every deployment the stored culprit search names: the failed one, the chain's start, the
    last good one and each candidate's deployment (its evidence)."""
    if not isinstance(raw, Mapping):
        return set()
    ids = _ids([raw.get("failed_id"), raw.get("started_id"), raw.get("good_id")])
    for row in raw.get("results") or []:
        if isinstance(row, list) and len(row) == 3:
            ids |= _ids(row[2])
    return ids


def _trees(deployments: list[DeploymentRecord], before: set[int | None]) -> set[int]:
    """What a `kernelci` step reads of the past, per step name and for each `before` (None: now;
    else a failed deployment a culprit search judges with the history as it was then): the
    baseline and the last FLAKY_WINDOW concluded trees (core/verification_plan chooses both)."""
    names = {s["name"] for d in deployments for s in d["steps"] if "tree" in s}
    if not names:
        return set()  # no kernelci step: an idle tick need not load the verification
    from kcistage.core.verification import FLAKY_WINDOW
    from kcistage.core.verification_plan import concluded_trees, find_baseline

    ids: set[int] = set()
    for name in names:
        for when in before:
            ids.update(concluded_trees(deployments, name, before=when)[-FLAKY_WINDOW:])
            found = find_baseline(deployments, name, before=when)
            if found is not None:
                ids.add(found.deployment)
    return ids


def hot(state: State) -> set[int]:
    """The ids of the deployments a run's decisions read; the others can live in the history file.

    Kept: every running (or waiting) deployment and the newest; the last finished (L of the
    rules), the last full (F), the last deployment that counts (rule 6's failed target), the last
    success and the last complete success (the step filter's diff and the culprit search's last
    good); every deployment the culprit search names; per `kernelci` step, its baseline and the
    last FLAKY_WINDOW concluded trees (also as they were before the searched failure) and every
    baseline a kept tree names; a deployment a PR still shows as running (statuses to catch up).
    A test holds facts() and the verification plan to giving the same answers on these alone."""
    deployments = state["deployments"]
    if not deployments:
        return set()
    keep = {int(deployments[-1]["id"])}
    keep |= {int(d["id"]) for d in deployments if d["result"] == DeployResult.RUNNING or d.get("waiting")}
    picks = (
        next((d for d in deployments[::-1] if d.get("finished")), None),
        next((d for d in deployments[::-1] if d["cycle"] == "full"), None),
        next((d for d in deployments[::-1] if _counts(d)), None),
        last_success(deployments), last_success(deployments, complete=True))
    keep |= {int(d["id"]) for d in picks if d is not None}
    search = state.get("bisect")
    keep |= _search_ids(search)
    failed = {f for d in deployments if d["result"] == DeployResult.RUNNING
              if (f := failed_deployment(d)) is not None}
    if search and isinstance(search.get("failed_id"), int):
        failed.add(search["failed_id"])
    keep |= failed
    keep |= _trees(deployments, {None, *failed})
    for record in deployments:
        if int(record["id"]) in keep:
            for step in record["steps"]:
                tree = step.get("tree")
                keep |= _ids(tree["baseline"] if tree else None)
    for pr in (state.get("prs") or {}).values():
        for shown in (pr.get("shown") or {}).values():
            if shown.get("result") == DeployResult.RUNNING:
                keep |= _ids(shown.get("deployment"))
    return keep & {int(d["id"]) for d in deployments}
