"""The culprit search carried out (docs/rules.md): core/culprit.py decides, this module acts and tells.

After every poll the stored search drops suspects that left and ends or waits; a tick deploys its
next candidate (or the target without the culprit); after every deployment the result becomes
evidence, the culprit it proves is excluded and told why, and a failure starts a search.
"""

from __future__ import annotations

from kcistage.app.context import Context
from kcistage.app.notify import note_pr
from kcistage.app.observe import pr_key
from kcistage.core import culprit, messages
from kcistage.core.culprit import End, Move, Search, Suspect
from kcistage.core.enums import Cause, Cycle, DeployResult, PrState, StepResult, Trigger
from kcistage.core.history import last_success, load_search, observed_target, search_deploy
from kcistage.core.model import Target
from kcistage.core.state import DeploymentRecord, Exclusion, TreeRecord
from kcistage.core.step_filter import plan_probe
from kcistage.core.trust import exclusion_reason
from kcistage.core.verification_plan import find_baseline


def _store(ctx: Context, search: Search | None) -> None:
    ctx.state["bisect"] = search.to_json() if search is not None else None


def settle(ctx: Context, eligible: Target) -> None:
    """After a poll: drop suspects no longer eligible at their SHA, end a search that is over."""
    if not ctx.state.get("bisect"):
        return
    search = load_search(ctx.state)
    if search is None:
        ctx.out.line("culprit search dropped: its stored state is from an older kcistage")
        _store(ctx, None)
        return
    if set(search.base) - {repo.name for repo in ctx.cfg.repos}:
        ctx.out.line("culprit search dropped: it names a repo no longer in the configuration")
        _store(ctx, None)
        return
    kept = culprit.keep_eligible(search, eligible)
    for gone in kept.departed[len(search.departed):]:
        ctx.out.line(f"culprit search: {gone.ref}@{gone.sha[:12]} left the search "
                     "(closed, pushed over, labelled or unapproved)")
    _resolve(ctx, kept, eligible)


def _resolve(ctx: Context, search: Search, eligible: Target | None) -> None:
    """Blame what the evidence proves, end a search that is over, else store it for next tick."""
    while True:
        move = culprit.next_move(search)
        if move.move is Move.BLAME:
            search, suspect, failing, passing = culprit.blame(search)
            _blame(ctx, search, suspect, failing, passing)
            continue
        if move.move is Move.END:
            _end(ctx, search, move.end or End.ALL_LEFT)
            return
        deployments = ctx.state["deployments"]
        last = deployments[-1] if deployments else None
        if move.move is Move.REST and eligible is not None and culprit.skip_rest(eligible, last):
            assert last is not None
            ctx.out.line(f"culprit search over: deployment {last['id']} already deployed the target "
                         f"without {_refs(search.culprits)}, and it succeeded")
            _store(ctx, None)
            return
        _store(ctx, search)
        return


def _refs(suspects: tuple[Suspect, ...]) -> str:
    return ", ".join(s.ref for s in suspects) or "none"


def _blame(ctx: Context, search: Search, suspect: Suspect, failing: int,
           passing: int | None) -> None:
    """Exclude the culprit at its SHA (a Depends-On cycle: each member) and tell each PR the evidence."""
    without = f"deployment {passing}" if passing is not None else "the last good deployment"
    together = " (a Depends-On cycle, blamed together)" if suspect.members else ""
    ctx.out.line(f"{suspect.ref}@{suspect.sha[:12]} is the culprit{together}: deployment {failing} "
                 f"failed with it, {without} without it succeeded: excluded at that commit")
    for repo, number, sha in suspect.commits():
        pr = ctx.state["prs"].get(pr_key(repo, number))
        if pr is None:
            continue  # closed meanwhile
        # the commit stays faulty whatever happens to the branch: a force-push back to it is
        # excluded again (observe), until `include <repo>#<n>@<sha>` lifts it
        pr.setdefault("culprits", {})[sha] = failing
        if pr.get("sha") != sha:
            continue  # pushed again meanwhile: a new head is a new chance
        excluded: Exclusion = {"sha": sha, "cause": Cause.CULPRIT, "deployment": failing}
        pr["excluded"] = excluded
        reason = exclusion_reason(excluded, sha, ctx.cfg.repo(repo))
        pr["state"], pr["reason"], pr["cause"] = PrState.EXCLUDED, reason, Cause.CULPRIT
        note_pr(ctx, pr, sha, messages.culprit_note(failing, passing, search.upto,
                                                    _tree(ctx, failing, search.upto)))


def _tree(ctx: Context, deployment: int, step: str | None) -> TreeRecord | None:
    """The KernelCI tree the failed step of a deployment read, if it was a kernelci step."""
    for record in ctx.state["deployments"]:
        if record["id"] == deployment:
            for found in record["steps"]:
                if found["name"] == step and "tree" in found:
                    return found["tree"]
    return None


def _end(ctx: Context, search: Search, end: End) -> None:
    """A search that ends without (further) blame."""
    _store(ctx, None)
    if end is End.BASE_FAILS:
        base_failed = next(i for k, ok, i in search.results if k == 0 and not ok)
        ctx.out.line(f"culprit search for deployment {search.failed_id}: {end.value} "
                     f"(deployment {base_failed} without them failed too): no PR blamed")
        for repo, number, sha in (c for suspect in search.suspects for c in suspect.commits()):
            pr = ctx.state["prs"].get(pr_key(repo, number))
            if pr is not None and pr.get("sha") == sha:
                note_pr(ctx, pr, sha, messages.not_blamed_note(search.failed_id, base_failed))
        return
    ctx.out.line(f"culprit search for deployment {search.failed_id} ended: {end.value}: "
                 "no PR blamed")


def deploy(ctx: Context, target: Target) -> DeploymentRecord:
    """Run the search's next deployment: a candidate (its steps cut after the failed one) or the
    target without the culprit (a whole cycle)."""
    from kcistage.app.deploy import run_deployment  # the deployment machinery: only to deploy

    pending = search_deploy(ctx.state, observed_target(ctx.state))
    if pending is None:  # nothing pending after all: deploy what the rules decided, in full
        return run_deployment(ctx, Cycle.PARTIAL, Trigger.BISECT, target)
    search = pending.search
    ctx.out.detail(pending.reason)
    if pending.k is None:
        info = {"rest": [list(c) for s in search.culprits for c in s.commits()],
                "failed": search.failed_id}
        return run_deployment(ctx, search.cycle, Trigger.BISECT, pending.target, search=info)
    info = {"probe": pending.k, "of": len(search.suspects), "failed": search.failed_id}
    plans = plan_probe(ctx.cfg.steps, search.cycle, search.ran, search.upto, search.failed_id)
    return run_deployment(ctx, search.cycle, Trigger.BISECT, pending.target, search=info,
                          plans=plans)


def after_deployment(ctx: Context, record: DeploymentRecord) -> None:
    """Turn a finished deployment into evidence, or start a search when it failed."""
    ok = record["result"] == DeployResult.SUCCESS
    if record["result"] not in (DeployResult.SUCCESS, DeployResult.FAILED):
        return  # interrupted: the same deployment is tried again
    if record.get("inconclusive"):  # no evidence against any PR: nobody blamed, no search
        search = load_search(ctx.state)
        if search is not None and (record.get("search") or {}).get("failed") == search.failed_id:
            _store(ctx, None)  # a candidate that shows nothing: the search cannot go on
            ctx.out.line(f"culprit search for deployment {search.failed_id} stopped: deployment "
                         f"{record['id']} was inconclusive: no PR blamed")
        else:
            ctx.out.line(f"deployment {record['id']} inconclusive: no culprit search, no PR blamed")
        return
    search = load_search(ctx.state)
    info = record.get("search") or {}
    if search is not None and info.get("failed") == search.failed_id:
        if info.get("probe") is not None:
            k = int(info["probe"])
            if record["target"] != culprit.candidate(search, k):
                ctx.out.line(f"culprit search for deployment {search.failed_id} stopped: "
                             f"deployment {record['id']} could not merge its candidate as "
                             "decided: no PR blamed")
                _store(ctx, None)
                return
            _resolve(ctx, culprit.record(search, k, ok, record["id"]), None)
            return
        if ok:
            ctx.out.line(f"culprit search over after {search.used + 1} deployments: staging is "
                         f"good without {_refs(search.culprits)}")
            _store(ctx, None)
            return
        _start(ctx, record, chain=search)
        return
    if search is not None and ok:
        ctx.out.line(f"culprit search for deployment {search.failed_id} dropped: deployment "
                     f"{record['id']} succeeded")
        _store(ctx, None)
    if not ok:
        _start(ctx, record, chain=None)


def _tree_baseline(ctx: Context, record: DeploymentRecord) -> DeploymentRecord | None:
    """For a failed kernelci step: its baseline deployment, the last known good for the test
    kernel (partial cycles since then never ran the step, so their PRs are suspects too)."""
    step = next((s for s in ctx.cfg.steps if s.name == record.get("failed_step")), None)
    if step is None or step.kernelci is None:
        return None
    found = find_baseline(ctx.state["deployments"], step.name, before=record["id"])
    if found is None:
        return None
    return next((d for d in ctx.state["deployments"] if d["id"] == found.deployment), None)


def _start(ctx: Context, record: DeploymentRecord, chain: Search | None) -> None:
    """A search for the failure of `record` (going on from `chain` when it was the target
    without chain's culprit)."""
    good = _tree_baseline(ctx, record) or last_success(ctx.state["deployments"],
                                                        before_id=record["id"])
    ran = [s["name"] for s in record["steps"] if s["result"] != StepResult.SKIPPED]
    search = culprit.start(
        record["id"], record["target"], good["target"] if good else None, record["cycle"],
        record.get("failed_step"), ran, None, chain=chain,
        good_in_chain=bool(good and chain and good["id"] > chain.started_id),
        good_id=good["id"] if good else None,
        needs={key: pr.get("needs") or [] for key, pr in ctx.state["prs"].items() if pr.get("needs")})
    if search is None:
        _store(ctx, None)
        ctx.out.line(f"deployment {record['id']} failed with no PR added since the last good "
                     "deployment: no PR blamed")
        return
    names = _refs(search.suspects)
    if chain is not None:
        ctx.out.line(f"deployment {record['id']} failed without {_refs(chain.culprits)} too: "
                     f"the culprit search goes on among {len(search.suspects)} suspects: {names}")
    else:
        ctx.out.line(f"deployment {record['id']} failed: culprit search among "
                     f"{len(search.suspects)} suspects: {names} (at most "
                     f"{culprit.budget(len(search.suspects))} deployments per culprit)")
    _resolve(ctx, search, None)
