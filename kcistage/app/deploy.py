"""Run one deployment: build the staging branches, run the steps, restart on change, notify."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kcistage.app import controls as operator_controls
from kcistage.app.branches import build
from kcistage.app.context import Context
from kcistage.app.notify import end_pending_statuses, statuses
from kcistage.app.observe import look
from kcistage.core import progress, rules
from kcistage.core.history import facts, is_probe, last_success, observed_target
from kcistage.core.model import Target, format_time, parse_time, target_prs
from kcistage.core.paths import log_path
from kcistage.core.progress import Kind, drain_check, failure_reason, next_effect, plan_record
from kcistage.core.settings import Step, env_name
from kcistage.core.state import DeploymentRecord, StepRecord
from kcistage.core.step_filter import Plan, plan_steps
from kcistage.errors import DeploymentAborted, KcistageError, ServiceError, exit_code_of, one_line
from kcistage.shell import stopping
from kcistage.shell.git import GitStopped
from kcistage.shell.steps import MARKER_VARIABLE, boot_id, poll_drain, run_step

RESTART = "restart"
WAITING = "waiting"  # the deployment waits for a later run (record["waiting"])


def run_deployment(ctx: Context, cycle: str, trigger: str, target: Target,
                   search: dict[str, Any] | None = None, plans: list[Plan] | None = None) -> DeploymentRecord:
    """Deploy `target` as a new deployment record; returns it finished, or running and waiting
    (a step's wait spans runs: a later run resumes it).

    `search` marks a culprit-search deployment (kept on the record); `plans` fixes its steps."""
    state = ctx.state
    record: DeploymentRecord = {
        "id": state["next_id"], "cycle": cycle, "trigger": trigger, "result": "running",
        "started": format_time(ctx.clock()), "finished": None, "pid": os.getpid(), "step": None,
        "restarts": 0, "target": target, "heads": {}, "left_out": [], "steps": [],
        # in the steps' environment (KCISTAGE_RUN), saved before any step starts: a run killed
        # before it could record a step's process group leaves the step findable by it
        "marker": uuid.uuid4().hex,
    }
    if search is not None:
        record["search"] = search
    state["next_id"] += 1
    state["deployments"].append(record)

    def start() -> str:
        ctx.save()
        ctx.out.detail(f"deployment {record['id']}: {cycle} cycle ({trigger}) started")
        return _attempt(ctx, record, target, plans)

    return _carry(ctx, record, start)


def resume(ctx: Context, record: DeploymentRecord) -> DeploymentRecord:
    """Go on with a waiting deployment whose check is due (this run holds the lock)."""
    record["pid"] = os.getpid()
    return _carry(ctx, record, lambda: _advance(ctx, record, _Watch(ctx, record)))


def restart(ctx: Context, record: DeploymentRecord) -> DeploymentRecord:
    """Restart a waiting partial deployment from its first step: its target changed (rule 4)."""
    record["pid"] = os.getpid()
    return _carry(ctx, record, lambda: RESTART)


def _carry(ctx: Context, record: DeploymentRecord, first: Callable[[], str]) -> DeploymentRecord:
    """Carry a deployment on from `first()` until it ends or waits; closed on any error."""
    try:
        outcome = first()
        while outcome == RESTART:
            record["restarts"] = record.get("restarts", 0) + 1
            record["waiting"] = None
            target = observed_target(ctx.state)
            # heads the new target drops will not be deployed: end their pending status
            statuses(ctx, {**record, "target": _new_heads(record["target"], target)}, "interrupted")
            ctx.out.line(f"deployment {record['id']}: target changed, restarting from the first "
                         f"step (restart {record['restarts']})")
            outcome = _attempt(ctx, record, target, None)
        if outcome == WAITING:
            ctx.save()
            return record
        with stopping.held():  # a SIGTERM from here on comes after the outcome is saved
            # one that came before it, even as the last step ended, means not all was done
            if ctx.stop_reason and outcome == "success":
                outcome = "interrupted"
                record["reason"] = f"interrupted: {ctx.stop_reason}"
            record["result"] = outcome
            record["finished"] = format_time(ctx.clock())
            record["step"] = None
            ctx.save()
    except BaseException as exc:  # whatever it is, the deployment ends here, closed
        _close_on_error(ctx, record, exc)
        if isinstance(exc, Exception):
            raise DeploymentAborted(f"deployment {record['id']} interrupted: {record['error']}",
                                    exit_code_of(exc)) from exc
        raise  # SystemExit, KeyboardInterrupt: closed, and on their way
    try:
        _notify_end(ctx, record)
    except KcistageError as exc:  # closed and saved already: the search bookkeeping goes on
        ctx.out.line(f"deployment {record['id']}: could not tell the PRs: {one_line(exc)}")
        ctx.deferred = ctx.deferred or exc
    return record


def _close_on_error(ctx: Context, record: DeploymentRecord, exc: BaseException) -> None:
    """Close a deployment stopped by an error: interrupted, with the cause; pending commit
    statuses resolved while GitHub still answers; saved if the state file can still be written."""
    cause = one_line(exc)
    step = record.get("step")
    if step:
        record["steps"].append({"name": step, "result": "interrupted", "seconds": 0.0,
                                "reason": cause})
    record.pop("step_group", None)
    record.update({"result": "interrupted", "error": cause, "finished": format_time(ctx.clock()),
                   "step": None, "waiting": None,
                   "reason": failure_reason(step, cause) if step else cause})
    ctx.out.detail(f"deployment {record['id']}: interrupted: {cause}")
    end_pending_statuses(ctx, record)
    try:
        ctx.save()
    except Exception as error:  # a full disk: the next run marks the record interrupted
        ctx.out.detail(f"deployment {record['id']}: could not save its end: {one_line(error)}")


def _new_heads(target: Target, previous: Target) -> Target:
    """The PR heads of `target` that `previous` did not hold."""
    old = {(name, n, sha) for name, e in previous.items() for n, sha in e["prs"]}
    return {name: {"base": e["base"], "prs": [p for p in e["prs"] if (name, p[0], p[1]) not in old]}
            for name, e in target.items()}


def _attempt(ctx: Context, record: DeploymentRecord, target: Target, plans: list[Plan] | None) -> str:
    """One pass: branches, the plan, then the steps. Returns success, failed, interrupted,
    restart or waiting."""
    previous = record["target"] if record["restarts"] else {}
    record["steps"] = []
    record.pop("plan", None)
    try:
        built = build(ctx, record, target)
    except GitStopped as exc:  # SIGTERM while git ran: its process group is gone already
        ctx.out.line(f"deployment {record['id']}: {exc}")
        record["reason"] = one_line(exc)
        return "interrupted"
    except ServiceError as exc:  # a remote unreachable or refusing: a service problem (exit 3)
        record["error"] = str(exc)
        record["reason"] = one_line(exc)
        # The deployment is closed and saved; the run then ends with this one line on stderr
        # (said there only, once).
        ctx.deferred = ctx.deferred or exc
        return "interrupted"
    record["statuses"] = "pending"  # from here, an error must resolve them
    statuses(ctx, {**record, "target": _new_heads(record["target"], previous)}, "running")
    # files changed since the last deployment that ran all its steps (not a search candidate)
    good = last_success(ctx.state["deployments"], complete=True)
    changed: dict[str, list[str]] | None = None
    if plans is None and good is not None and good.get("heads"):
        changed = {}
        for name, head in built.items():
            files = ctx.git.changed_files(ctx.cfg.repo(name), good.get("heads", {}).get(name), head)
            if files is None:
                changed = None
                break
            changed[name] = files
    record["plan"] = [plan_record(p.name, p.run, p.reason)
                      for p in plans or plan_steps(ctx.cfg.steps, record["cycle"], changed)]
    return _advance(ctx, record, _Watch(ctx, record))


def _advance(ctx: Context, record: DeploymentRecord, check: _Watch) -> str:
    """Carry out the core's next effects until the deployment ends or waits for a later run."""
    while True:
        effect = next_effect(record, ctx.clock())
        if effect.kind is Kind.CONCLUDE:
            if effect.result != "success":
                record["failed_step"] = record["steps"][-1]["name"]
                record["reason"] = effect.reason
            return str(effect.result)
        if effect.kind is Kind.WAIT:
            return WAITING
        assert effect.step is not None
        if effect.kind is Kind.SKIP:
            record["steps"].append({"name": effect.step, "result": "skipped", "seconds": 0.0,
                                    "reason": effect.reason})
            continue
        if ctx.stop_reason:
            record["reason"] = failure_reason(effect.step, f"interrupted: {ctx.stop_reason}")
            return "interrupted"
        step = next((s for s in ctx.cfg.steps if s.name == effect.step), None)
        if step is None:  # the configuration changed while the deployment waited
            record["waiting"] = None
            record["steps"].append({"name": effect.step, "result": "failed", "seconds": 0.0,
                                    "reason": "no such step in the configuration any more"})
            continue
        record["step"] = step.name
        if step.drain is not None or step.kernelci is not None:  # a wait that spans runs
            held = record.get("waiting")
            since = parse_time(held["since"]) if held and held["step"] == step.name else ctx.clock()
            if step.drain is not None:
                if _check_drain(ctx, record, step, since) == WAITING:
                    return WAITING
            elif _check_kernelci(ctx, record, step, since):
                return WAITING
            continue
        ctx.save()
        ctx.out.detail(f"deployment {record['id']}: step {step.name}: {effect.reason}")
        started = time.monotonic()
        summary: str | None = None
        if step.probe is not None:  # a short wait, within this run
            from kcistage.shell.probe import run_probe

            result, seen = run_probe(step, log_path(ctx.cfg.workdir, record["id"], step.name),
                                     check, ctx.clock)
            detail = summary = seen.summary
        else:
            run = run_step(step, _cwd(ctx, step.cwd), _env(ctx, record),
                           log_path(ctx.cfg.workdir, record["id"], step.name), check,
                           on_start=lambda pid: _started(ctx, record, pid), clock=ctx.clock)
            record.pop("step_group", None)
            result, detail = run.result, run.detail
        seconds = round(time.monotonic() - started, 3)
        if ctx.stop_reason and result not in ("ok", "interrupted"):
            # killed with kcistage (a whole cgroup stopped): not the step's own failure
            result, detail = "interrupted", f"interrupted: {ctx.stop_reason} ({detail})"
        done: StepRecord = {"name": step.name, "result": result, "seconds": seconds,
                            "reason": detail}
        if summary is not None and result != "interrupted":
            done["summary"] = summary
        record["steps"].append(done)
        ctx.out.detail(f"deployment {record['id']}: step {step.name}: {result} "
                       f"({seconds:.1f}s) {detail}")
        if result == "interrupted":
            if ctx.stop_reason is None and check.restart:
                return RESTART
            record["reason"] = failure_reason(step.name, detail)
            return "interrupted"


def _check_kernelci(ctx: Context, record: DeploymentRecord, step: Step, since: datetime) -> bool:
    """Check a kernelci step once (app/kernelci_step.py): True when the deployment waits."""
    from kcistage.app.kernelci_step import check_kernelci  # the KernelCI client: only here

    try:
        return check_kernelci(ctx, record, step, since)
    except stopping.Stopped:  # SIGTERM while asking: the wait stays, the next run asks again
        if not record.get("waiting"):
            record["waiting"] = progress.waiting(step.name, "kernelci", since, since,
                                                 "the test kernel's checkout to submit")
        return True


def _check_drain(ctx: Context, record: DeploymentRecord, step: Step, since: datetime) -> str | None:
    """Check a drain once: its step record when the wait is over, else the wait recorded
    (WAITING: this run ends, a later one checks again)."""
    assert step.drain is not None
    try:
        count, answer = poll_drain(step, log_path(ctx.cfg.workdir, record["id"], step.name),
                                   ctx.clock)
    except stopping.Stopped:  # SIGTERM while asking: the wait stays, the next run asks again
        if not record.get("waiting"):
            record["waiting"] = progress.waiting(step.name, "drain", since, since,
                                                 f"queue to drain at {step.drain.url}")
        return WAITING
    now = ctx.clock()
    found = drain_check(step.drain, since, now, count, answer)
    if found.result is None:
        assert found.check_at is not None
        record["waiting"] = progress.waiting(step.name, "drain", since, found.check_at, found.detail)
        ctx.out.detail(f"deployment {record['id']}: step {step.name}: waits for {found.detail}")
        return WAITING
    record["waiting"] = None
    record["steps"].append({"name": step.name, "result": found.result,
                            "seconds": round((now - since).total_seconds(), 3),
                            "reason": found.detail})
    ctx.out.detail(f"deployment {record['id']}: step {step.name}: {found.result} {found.detail}")
    return None


def _started(ctx: Context, record: DeploymentRecord, pgid: int) -> None:
    """Remember the running step's process group, for the next run if this one is killed."""
    record["step_group"] = {"pgid": pgid, "boot": boot_id()}
    ctx.save()


def _notify_end(ctx: Context, record: DeploymentRecord) -> None:
    """Final statuses and per-SHA PR comments (only what changed), then on_failure."""
    # A git remote down (record["error"]) ends as interrupted: only a pending status is ended.
    statuses(ctx, record, record["result"])
    # a failed culprit-search candidate is evidence, not news: the failure it reproduces was told
    # (an inconclusive one is the operator's to look at, a search candidate's too)
    if record["result"] == "failed" and ctx.cfg.notify.on_failure \
            and (not is_probe(record) or record.get("inconclusive")):
        _run_on_failure(ctx, record)


def _run_on_failure(ctx: Context, record: DeploymentRecord) -> None:
    """Run notify.on_failure once with the step environment plus the failure details."""
    import subprocess

    env = _env(ctx, record)
    step = record.get("failed_step") or ""
    env["KCISTAGE_FAILED_STEP"] = step
    env["KCISTAGE_LOG"] = str(log_path(ctx.cfg.workdir, record["id"], step)) if step else ""
    try:
        with stopping.cut_short():  # SIGTERM ends the wait at once (subprocess.run kills it)
            subprocess.run(list(ctx.cfg.notify.on_failure or ()), env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        ctx.out.line(f"notify.on_failure could not run: {exc}")


def _env(ctx: Context, record: DeploymentRecord) -> dict[str, str]:
    """The steps' environment (KCISTAGE_* variables, no GitHub token)."""
    env = ctx.step_env()
    env.update({
        "KCISTAGE_DEPLOY_ID": str(record["id"]),
        "KCISTAGE_CYCLE": record["cycle"],
        "KCISTAGE_TRIGGER": record["trigger"],
        "KCISTAGE_PRS": " ".join(target_prs(record["target"])),
        "KCISTAGE_WORKDIR": str(ctx.cfg.workdir),
        MARKER_VARIABLE: str(record.get("marker", "")),
    })
    for repo in ctx.cfg.repos:
        env[f"KCISTAGE_REPO_{env_name(repo.name)}_DIR"] = str(ctx.git.checkout_dir(repo))
        env[f"KCISTAGE_REPO_{env_name(repo.name)}_SHA"] = record["heads"].get(repo.name, "")
    return env


def _cwd(ctx: Context, cwd: str | None) -> Path:
    """A step's working folder: a repo's checkout, a path, or the workdir."""
    if cwd is None:
        return ctx.cfg.workdir
    if any(repo.name == cwd for repo in ctx.cfg.repos):
        return Path(ctx.git.checkout_dir(ctx.cfg.repo(cwd)))
    return Path(cwd)


class _Watch:
    """The step runner's check(): SIGTERM at once; while any deployment runs, a GitHub re-poll
    every watch_interval (comments answered, changes recorded, the state's mtime kept fresh for
    /healthz); a restart only for a partial cycle with restarts left (rule 4)."""

    def __init__(self, ctx: Context, record: DeploymentRecord) -> None:
        self.ctx, self.record = ctx, record
        self.last = time.monotonic()
        self.restart = False

    def __call__(self) -> str | None:
        ctx, record = self.ctx, self.record
        if ctx.stop_reason:
            return ctx.stop_reason
        if time.monotonic() - self.last < ctx.cfg.schedule.watch_interval.total_seconds():
            return None
        self.last = time.monotonic()
        try:
            obs = look(ctx)
        except KcistageError as exc:
            ctx.out.detail(f"watch: {exc}")
            return None
        ctx.save()
        if record["cycle"] != "partial" or record["trigger"] == "bisect" \
                or record["restarts"] >= ctx.cfg.schedule.max_restarts:
            return None  # a full cycle or a search candidate is never interrupted
        if operator_controls.paused(ctx):
            return None  # paused: a running deployment goes on unchanged, no restart
        running = rules.Running(cycle="partial", restarts=record["restarts"],
                                target=record["target"], trigger=record["trigger"])
        if rules.decide(facts(ctx.state, ctx.clock(), obs.target, running),
                        ctx.cfg.schedule).action == "restart":
            self.restart = True
            return RESTART
        return None
