"""A `kernelci` step, one check per run: choose the kernel, submit the checkout, read the tree, judge.

The deployment engine calls `check_kernelci` when the step starts and whenever its wait is due.
It either records what the deployment waits for (`record["waiting"]`, kind "kernelci", with the
step's progress in `data`) and returns True, or appends the step's record (`summary`, `tree`)
and returns False. An inconclusive end (the pipeline unreachable or refusing, the API silent, the
tree not complete in time) is a failed step whose `summary` and `reason` begin `inconclusive:`,
with `record["inconclusive"] = True`: the deployment's reason should be that summary as is, no
culprit search starts and no PR is blamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kcistage.app.context import Context
from kcistage.core import kernelci_wait as wait
from kcistage.core import verification as v
from kcistage.core.model import format_time
from kcistage.core.paths import log_path
from kcistage.core.settings import KernelCI, Step
from kcistage.core.state import DeploymentRecord, StepRecord, TreeRecord
from kcistage.core.verification_plan import Mode, concluded_trees, failed_deployment, plan_kernel
from kcistage.errors import AuthError
from kcistage.shell import kernelci as client_module
from kcistage.shell import tree_files


def _log(ctx: Context, record: DeploymentRecord, step: Step, text: str) -> None:
    path = log_path(ctx.cfg.workdir, record["id"], step.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"{format_time(ctx.clock())} {text}\n")


def _begin(ctx: Context, record: DeploymentRecord, step: Step, kc: KernelCI
           ) -> dict[str, Any] | wait.Next:
    """The wait's first data: which commit and how it is judged (or an inconclusive end)."""
    plan = plan_kernel(kc.kernel, ctx.state["deployments"], record, step.name)
    commit = plan.commit
    if commit is None:
        try:
            commit = client_module.tip_commit(kc.tree.url, kc.tree.branch)
        except client_module.KernelCIError as exc:
            return wait.ended_inconclusive(f"the test kernel's tip cannot be read: {exc}")
    _log(ctx, record, step, f"kernel {commit}: {plan.why}")
    baseline = plan.baseline.deployment if plan.baseline is not None else None
    return wait.start_data(commit, plan.mode, baseline)


def _judge(ctx: Context, record: DeploymentRecord, step: Step, kc: KernelCI,
           data: Mapping[str, Any], tree: v.Tree) -> v.Verdict:
    """A complete tree judged against the baseline's results and the step's history."""
    workdir, name = ctx.cfg.workdir, step.name
    baseline_id = data.get("baseline")
    baseline = tree_files.load_results(workdir, baseline_id, name) if baseline_id else None
    if baseline is None:
        baseline_id = None  # its results are gone: judged as a first baseline
    before = failed_deployment(record) or record["id"]
    ids = concluded_trees(ctx.state["deployments"], name, before=before)[-v.FLAKY_WINDOW:]
    history = [h for h in (tree_files.load_results(workdir, i, name) for i in ids) if h is not None]
    verdict = v.judge(tree, treeid=str(data.get("treeid")), commit=data.get("commit"),
                      baseline_id=baseline_id, baseline=baseline, history=history,
                      max_regressions=kc.max_regressions,
                      informational=data.get("mode") == Mode.NEW_BASELINE)
    tree_files.save_results(workdir, record["id"], name, v.results(tree))
    return verdict


def _partial(data: Mapping[str, Any], tree: v.Tree | None) -> TreeRecord:
    return {"treeid": data.get("treeid"), "commit": data.get("commit"),
            "baseline": data.get("baseline"),
            "counts": v.counts(v.results(tree)) if tree is not None else {},
            "regressions": [], "flaky": []}


def check_kernelci(ctx: Context, record: DeploymentRecord, step: Step, since: datetime) -> bool:
    """Check the step once; True: the deployment waits (record["waiting"] set), False: the step's
    record is appended (ok or failed; inconclusive also sets record["inconclusive"])."""
    kc = step.kernelci
    assert kc is not None
    held = record.get("waiting")
    data: dict[str, Any] | wait.Next = dict(held["data"]) if held and held["step"] == step.name \
        else _begin(ctx, record, step, kc)
    tree: v.Tree | None = None
    verdict: v.Verdict | None = None
    if isinstance(data, wait.Next):
        nxt = data
        data = {}
    elif data.get("phase") == "checkout":
        nxt = _submit(ctx, kc, data)
    else:
        api = client_module.KernelCIClient(kc.api, kc.pipeline)
        try:
            tree = v.parse_tree(api.tree_nodes(str(data.get("treeid"))))
        except client_module.KernelCIError as exc:
            nxt = wait.after_read_error(kc, data, since, ctx.clock(), str(exc), exc.kind)
        else:
            found = wait.after_read(kc, data, since, ctx.clock(), tree)
            if found is None:
                verdict = _judge(ctx, record, step, kc, data, tree)
                nxt = wait.Next("ok" if verdict.passed else "failed", verdict.summary,
                                data, reason=verdict.failure)
            else:
                nxt = found
        finally:
            api.close()
    now = ctx.clock()
    _log(ctx, record, step, nxt.summary)
    if nxt.result is None:
        assert nxt.check_at is not None
        record["waiting"] = {"step": step.name, "kind": "kernelci", "since": format_time(since),
                             "check_at": format_time(nxt.check_at), "what": nxt.summary,
                             "data": nxt.data}
        ctx.out.detail(f"deployment {record['id']}: step {step.name}: waits: {nxt.summary}")
        return True
    record["waiting"] = None
    done: StepRecord = {"name": step.name, "result": nxt.result,
                        "seconds": round((now - since).total_seconds(), 3),
                        "reason": nxt.reason or nxt.summary, "summary": nxt.summary,
                        "tree": verdict.tree if verdict is not None else _partial(data, tree)}
    record["steps"].append(done)
    if nxt.inconclusive:
        record["inconclusive"] = True
    ctx.out.detail(f"deployment {record['id']}: step {step.name}: {nxt.result}: {nxt.summary}")
    return False


def _submit(ctx: Context, kc: KernelCI, data: dict[str, Any]) -> wait.Next:
    """One try of the checkout (the token read now: it is never stored)."""
    try:
        token = client_module.kernelci_token(kc)
    except AuthError as exc:
        return wait.ended_inconclusive(str(exc))
    pipeline = client_module.KernelCIClient(kc.api, kc.pipeline, token)
    try:
        answer = pipeline.submit_checkout(kc.tree.url, kc.tree.branch, str(data["commit"]),
                                          kc.jobfilter, kc.platformfilter)
    finally:
        pipeline.close()
    return wait.after_checkout(kc, data, ctx.clock(), answer)
