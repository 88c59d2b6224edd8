"""tick and deploy: recover, observe, decide, deploy; the culprit search is app/culprit_search.py."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from kcistage.app import controls as operator_controls
from kcistage.app import culprit_search as search
from kcistage.app.context import Context, Output
from kcistage.app.notify import catch_up, end_pending_statuses
from kcistage.app.observe import Observation, look, note_observation, peek
from kcistage.core import controls, messages, progress, rules
from kcistage.core.history import facts, observed_target
from kcistage.core.model import format_time, parse_time, target_prs
from kcistage.core.settings import Config
from kcistage.core.state import DeploymentRecord, StepGroup
from kcistage.errors import KcistageError, LockHeld
from kcistage.shell import pokes, statefile, stopping


def recover(ctx: Context) -> bool:
    """Mark deployments left running by a dead process as interrupted (the caller holds the lock)."""
    changed = False
    for record in ctx.state["deployments"]:
        if record["result"] == "running" and not record.get("waiting"):  # a wait has no process
            record["result"] = "interrupted"
            record["finished"] = format_time(ctx.clock())
            if step := record.get("step"):
                record["steps"].append({"name": step, "result": "interrupted",
                                        "seconds": 0.0, "reason": "kcistage process gone"})
            record["step"] = None
            ctx.out.line(f"deployment {record['id']} was left running by a dead process "
                         f"(pid {record.get('pid')}): marked interrupted")
            group = record.pop("step_group", None)
            if group and _stop_orphan(group):
                ctx.out.line(f"deployment {record['id']}: stopped its orphaned step "
                             f"(process group {group['pgid']})")
            if record.get("marker") and (found := _stop_marked(str(record["marker"]))):
                ctx.out.line(f"deployment {record['id']}: stopped {found} orphaned step "
                             f"process(es) found by their KCISTAGE_RUN marker")
            end_pending_statuses(ctx, record)
            changed = True
    return changed


def _stop_orphan(group: StepGroup) -> bool:
    """Stop the step process group a killed run left behind, if it is of this boot."""
    from kcistage.shell.steps import boot_id, stop_orphan  # (the step runner: not on idle ticks)

    return group.get("boot") == boot_id() and stop_orphan(int(group["pgid"]))


def _stop_marked(marker: str) -> int:
    """Stop the processes of a killed run's steps found by the marker in their environment
    (a step whose process group the run had no time to record)."""
    from kcistage.shell.steps import stop_marked  # (the step runner: not on idle ticks)

    return stop_marked(marker)


def _look(ctx: Context) -> Observation:
    """Recover a dead run's deployment, poll, and record what was seen."""
    if recover(ctx):
        ctx.save()
    obs = look(ctx)
    catch_up(ctx)  # statuses and comments an earlier run could not write
    for action in obs.actions:
        ctx.out.detail(action)
    search.settle(ctx, obs.target)
    return obs


def _waiting(ctx: Context) -> DeploymentRecord | None:
    """The deployment that waits between runs for a step's wait (no process runs it), if any."""
    last = ctx.state["deployments"][-1] if ctx.state["deployments"] else None
    if last is None or last["result"] != "running" or not last.get("waiting"):
        return None
    return last


def _current(ctx: Context, live: bool = False) -> DeploymentRecord | None:
    """The running deployment: one that waits between runs, or (`live`: seen without the lock)
    one another live kcistage is carrying on."""
    last = ctx.state["deployments"][-1] if ctx.state["deployments"] else None
    if last is None or last["result"] != "running":
        return None
    if last.get("waiting") or (live and statefile.pid_alive(int(last.get("pid") or 0))):
        return last
    return None


def _running(last: DeploymentRecord | None) -> rules.Running | None:
    """The running deployment as the rules see it."""
    if last is None:
        return None
    return rules.Running(cycle=last["cycle"], restarts=last.get("restarts", 0),
                         target=last["target"], trigger=last["trigger"])


def tick(ctx: Context) -> int:
    """One poll → decide → (deploy) cycle; returns the exit status."""
    if ctx.dry_run:
        return plan(ctx, None)
    obs = _look(ctx)
    decision = rules.decide(facts(ctx.state, ctx.clock(), obs.target, _running(_current(ctx))),
                            ctx.cfg.schedule)
    paused = operator_controls.paused(ctx)
    decision = controls.hold(decision, paused)
    current = _waiting(ctx)
    if current is not None and not ctx.stop_reason:
        return _go_on(ctx, current, decision, paused is not None)
    if decision.action not in ("partial", "full") or ctx.stop_reason:
        ctx.save()
        ctx.out.line(f"tick: {decision.action}: {decision.reason}")
        return 0
    return _deploy(ctx, decision, prefix="tick")


def _go_on(ctx: Context, record: DeploymentRecord, decision: rules.Decision, paused: bool) -> int:
    """A deployment waits between runs: restart it (rule 4), check its wait when due, or leave it."""
    if decision.action == "restart" and not paused:
        from kcistage.app.deploy import restart

        ctx.out.detail(f"tick: restart: {decision.reason}")
        return _report(ctx, restart(ctx, record), "tick")
    effect = progress.next_effect(record, ctx.clock())
    if effect.kind is progress.Kind.WAIT:
        ctx.save()
        at = f"; next check {rules.hhmm(effect.at)}" if effect.at else ""
        ctx.out.line(f"tick: wait: deployment {record['id']} ({record['cycle']}) step "
                     f"{effect.step} waits for {effect.reason}{at}")
        return 0
    from kcistage.app.deploy import resume

    return _report(ctx, resume(ctx, record), "tick")


def deploy_now(ctx: Context, full: bool) -> int:
    """`kcistage deploy [--full]`: a manual cycle now through the same engine."""
    if ctx.dry_run:
        return plan(ctx, full)
    obs = _look(ctx)
    current = _waiting(ctx)
    if current is not None:
        ctx.save()
        raise LockHeld(f"{_refusal(current)}; deploy again once it has ended")
    decision = rules.decide_manual(facts(ctx.state, ctx.clock(), obs.target), full)
    return _deploy(ctx, decision, prefix="deploy")


def _refusal(current: DeploymentRecord) -> str:
    """Why a deploy by hand does not start: the deployment that runs or waits."""
    held: dict[str, Any] = dict(current.get("waiting") or {})
    if held:
        return (f"deployment {current['id']} ({current['cycle']}) is running: step "
                f"{held.get('step')} waits for {held.get('what')}")
    step = f", step {current['step']}" if current.get("step") else ""
    return f"deployment {current['id']} ({current['cycle']}) is running{step}"


def plan(ctx: Context, full: bool | None) -> int:
    """`--dry-run` (`full` None: a tick; else a deploy by hand): the same poll with nothing
    written (no answer, no status, no save), the same decision, and the plan printed from the
    core's effects. No lock is held: another run may be carrying a deployment on."""
    obs = peek(ctx)
    for action in obs.actions:
        ctx.out.detail(action)
    current = _current(ctx, live=True)
    if full is None:
        decision = controls.hold(
            rules.decide(facts(ctx.state, ctx.clock(), obs.target, _running(current)),
                         ctx.cfg.schedule), operator_controls.paused(ctx))
    elif current is not None:
        ctx.out.line(f"decision: none: {_refusal(current)}; a deploy by hand waits until it ends")
        return 0
    else:
        decision = rules.decide_manual(facts(ctx.state, ctx.clock(), obs.target), full)
    print_dry_run(ctx, decision)
    for line in progress.plan_lines(decision.action, decision.trigger, ctx.cfg.steps, current,
                                    ctx.clock()):
        ctx.out.line(line)
    return 0


def _deploy(ctx: Context, decision: rules.Decision, prefix: str) -> int:
    """Start the decided cycle, then do the culprit-search bookkeeping; 1 when it failed."""
    cycle = decision.action
    if decision.trigger == "command":
        ctx.state["commands"] = []
    ctx.out.detail(f"{prefix}: {cycle} ({decision.trigger}): {decision.reason}")
    target = decision.target or observed_target(ctx.state)
    if decision.trigger == "bisect":
        record = search.deploy(ctx, target)
    else:
        from kcistage.app.deploy import run_deployment  # the deployment machinery: only here

        record = run_deployment(ctx, cycle, decision.trigger or "manual", target)
    return _report(ctx, record, prefix)


def _report(ctx: Context, record: DeploymentRecord, prefix: str) -> int:
    """The run's line about its deployment, the culprit-search bookkeeping once it has ended,
    and the exit status: 0 success or waiting, 1 failed, 3 a git remote down."""
    trigger = record["trigger"]
    if record["result"] == "running":  # waits for a later run
        held: dict[str, Any] = dict(record.get("waiting") or {})
        at = parse_time(held["check_at"]) if held.get("check_at") else None
        note_observation(ctx, observed_target(ctx.state))
        ctx.save()
        ctx.out.line(f"{prefix}: {record['cycle']} ({trigger}): deployment {record['id']} step "
                     f"{held.get('step')} waits for {held.get('what')}"
                     + (f"; next check {rules.hhmm(at)}" if at else ""))
        return 0
    target = record["target"]
    ran = sum(1 for s in record["steps"] if s["result"] != "skipped")
    skipped = len(record["steps"]) - ran
    finished = record["finished"] or format_time(ctx.clock())  # always set once it ran
    seconds = (parse_time(finished) - parse_time(record["started"])).total_seconds()
    ctx.out.line(f"{prefix}: {record['cycle']} ({trigger}): deployment {record['id']} "
                 f"{record['result']} in {seconds:.1f}s: "
                 f"{messages.plural(len(target_prs(target)), 'PR')}, "
                 f"{messages.plural(ran, 'step')} run, {skipped} skipped"
                 + (f", {messages.plural(record['restarts'], 'restart')}" if record.get("restarts") else "")
                 + (f": {record['reason']}" if record.get("reason") and not record.get("error") else ""))
    search.after_deployment(ctx, record)
    note_observation(ctx, observed_target(ctx.state))
    ctx.save()
    if record["result"] == "success":
        return 0
    return 3 if record.get("error") else 1  # a git remote down is not a failed deployment


def print_dry_run(ctx: Context, decision: rules.Decision) -> None:
    """What a dry run prints: the decision, its reason and the composition it would deploy."""
    at = f" at {format_time(decision.at)}" if decision.at else ""
    trigger = f" ({decision.trigger})" if decision.trigger else ""
    ctx.out.line(f"decision: {decision.action}{trigger}{at}: {decision.reason}")
    target = decision.target or observed_target(ctx.state)
    for name, entry in target.items():
        prs = " ".join(f"#{n}@{sha[:12]}" for n, sha in entry["prs"]) or "(no PRs)"
        ctx.out.line(f"  {name}: {entry['base'][:12]} + {prs}")


def run(cfg: Config, clock: Callable[[], datetime], action: Callable[[Context], int],
        dry_run: bool = False, out: Output | None = None, token: str | None = None) -> int:
    """Load the state (under the lock unless a dry run), run `action(ctx)` and return its status."""
    local = urlparse(cfg.github.api_url).hostname in ("127.0.0.1", "localhost", "::1")
    if dry_run:  # no lock, no poke consumed, no signal handling: `plan` writes nothing
        state = statefile.load(cfg.state_file, clock(), readonly=True)
        return action(Context(cfg=cfg, clock=clock, state=state, dry_run=True, token=token,
                              local=local, out=out or Output()))
    # The webhook pokes already waiting are answered by this run's poll; ones that arrive while
    # it runs stay and start the next tick. Consumed whatever happens (even when another run
    # holds the lock: that one polls too), so a poke can never keep the path unit looping.
    waiting = pokes.waiting(cfg.serve.poke_dir)
    lock = statefile.Lock(cfg.state_file)
    try:
        with _taken(lock, cfg, clock):
            state = statefile.load(cfg.state_file, clock())
            ctx = Context(cfg=cfg, clock=clock, state=state, token=token, local=local,
                          out=out or Output())

            def on_sigterm(_signum: int, _frame: object) -> None:
                ctx.stop_reason = "stopped by SIGTERM"
                stopping.request(ctx.stop_reason)  # cuts a wait on GitHub short (raises there)

            main_thread = threading.current_thread() is threading.main_thread()
            stopping.reset()
            previous = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
            if statefile.holds_past(state):  # a state file from before the
                ctx.save()  # history file (or a killed run's leftovers): split it now, losing nothing
            removed = lock.removed
            if removed:
                ctx.out.detail(f"removed {len(removed)} temporary file(s) left by a killed "
                               f"run: {', '.join(p.name for p in removed)}")
            try:
                code = action(ctx)
                if ctx.deferred is not None:  # its work is saved; the run still ends with it
                    raise ctx.deferred
                return code
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
                _record_rate(ctx)
    finally:
        pokes.remove(cfg.serve.poke_dir, waiting)


@contextlib.contextmanager
def _taken(lock: statefile.Lock, cfg: Config, clock: Callable[[], datetime]) -> Iterator[None]:
    """Hold `lock`; when another run holds it, say which deployment that run is carrying on."""
    try:
        lock.__enter__()
    except LockHeld as exc:
        raise LockHeld(f"{exc}{_running_note(cfg, clock())}") from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _running_note(cfg: Config, now: datetime) -> str:
    """`: deployment N (cycle) is running, step S` (or what it waits for) from the state file
    read without the lock."""
    try:
        state = statefile.load(cfg.state_file, now, readonly=True)
    except KcistageError:
        return ""
    last = state["deployments"][-1] if state["deployments"] else None
    if last is None or last["result"] != "running":
        return ""
    return f": {_refusal(last)}"


def _record_rate(ctx: Context) -> None:
    """Leave GitHub's rate-limit figures beside the state file for `serve`."""
    rate = getattr(ctx._gh, "rate", None)
    if rate:
        with contextlib.suppress(KcistageError):  # figures for a dashboard: never fail a run
            statefile.write_rate(ctx.cfg.state_file, rate)
