"""`kcistage demo`: a scripted morning of staging activity on the offline sandbox."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click

from kcistage.app.status_document import pr_rows, status_document
from kcistage.core.enums import StepResult
from kcistage.core.model import format_time
from kcistage.sandbox.demo_dependencies import scene as dependencies_scene
from kcistage.sandbox.kernelci_standin import MARKER
from kcistage.sandbox.sandbox import OWNER, START, Sandbox, TickResult
from kcistage.sandbox.webhooks import SandboxServe, pull_request_event
from kcistage.web import page


def bold(text: str) -> str:
    """Narration in bold, unless NO_COLOR asks for plain text (click strips it for pipes)."""
    return text if os.environ.get("NO_COLOR") else click.style(text, bold=True)


class Timeline:
    """Prints the story: simulated clock time, what happened, what kcistage said."""

    def __init__(self, box: Sandbox, verbose: bool) -> None:
        self.box, self.verbose = box, verbose

    def say(self, text: str) -> None:
        """A narration line (what people did)."""
        click.echo(f"[{self.box.clock():%H:%M}] {bold(text)}")

    def tick(self, label: str = "tick", **kwargs: bool) -> TickResult:
        """Run a tick and print what kcistage printed, indented."""
        result = self.box.tick(verbose=self.verbose, **kwargs)
        for line in result.lines:
            click.echo(f"[{self.box.clock():%H:%M}]   kcistage {label}> {line}")
        return result

    def until_idle(self, minutes: int = 1, limit: int = 120) -> TickResult:
        """Tick every `minutes` until a deployment runs (or `limit` ticks pass)."""
        for _ in range(limit):
            result = self.box.tick(verbose=self.verbose)
            if any("deployment" in line and " in " in line for line in result.lines):
                for line in result.lines:
                    click.echo(f"[{self.box.clock():%H:%M}]   kcistage tick> {line}")
                return result
            self.box.advance(minutes)
        raise click.ClickException("the demo expected a deployment that never came")


def _webhook_then_tick(t: Timeline, web: SandboxServe, payload: dict[str, Any]) -> None:
    """A delivery to the real serve, the poke it leaves, the tick it starts at once."""
    sent = web.deliver("pull_request", payload)
    click.echo(f"          serve {web.url}webhook: {sent.status} {sent.text} "
               f"({sent.seconds * 1000:.0f} ms)")
    waiting = web.wait_for_poke()
    started = time.perf_counter() - sent.started
    click.echo(f"          poke {waiting[0] if waiting else '(none)'} -> kcistage-poke.path starts "
               f"a tick {started:.2f}s after the delivery (no waiting for the next minute)")
    t.tick()
    again = web.deliver("pull_request", payload, delivery=sent.id)
    click.echo(f"          the tick removed the poke ({len(web.pokes())} left); GitHub redelivers "
               f"the same delivery: {again.status} {again.text}, no poke")


def script(box: Sandbox, t: Timeline, web: SandboxServe) -> None:
    """The story, told through real ticks."""
    t.say("kcistage starts on a fresh server: staging is built from main for the first time")
    t.tick()
    box.advance(5)
    t.tick()
    t.say("the first deployment is a full cycle: its test kernel's checkout goes to the KernelCI "
          "pipeline, and each minute's tick reads the tree once, no process waiting in between")
    _follow_tree(t, box)

    box.advance(10)
    t.say("JenySadadia (trusted) opens kernelci-pipeline#101: a pipeline config change; GitHub "
          "sends the signed pull_request webhook to kcistage serve")
    box.open_pr("kernelci-pipeline", 101, "JenySadadia", {"config/pipeline.yaml": "jobs: {a: 1}\n"},
                title="pipeline: add job a")
    _webhook_then_tick(t, web, pull_request_event("kernelci-pipeline", 101, "opened"))
    t.say("... the tool waits for the settle time and the throttle, then deploys partially:")
    t.until_idle()
    _steps(box)

    box.advance(2)
    t.say("newcomer 'octo-dev' (not trusted) opens kernelci-api#7")
    sha7 = box.open_pr("kernelci-api", 7, "octo-dev", {"api/main.py": "app = 'v2'\n"},
                       title="api: version 2")
    t.tick()
    _pr_line(box, "kernelci-api#7")
    box.advance(3)
    t.say("maintainer a-wai comments '@kcibot deploy' on kernelci-api#7")
    box.comment("kernelci-api", 7, "a-wai", "Looks good.\n@kcibot deploy")
    box.advance(1)
    t.tick()
    _pr_line(box, "kernelci-api#7")
    t.until_idle()
    _steps(box)

    box.advance(31)
    t.say("broonie (trusted) opens kernelci-api#8 whose api build takes a while; "
          "he pushes again while it deploys")
    box.open_pr("kernelci-api", 8, "broonie", {"api/models.py": "MODELS = [1]\n",
                                              ".demo/slow-restart-api": "hold\n"},
                title="api: models")
    box.advance(6)
    pusher = threading.Thread(target=_push_during, args=(box, box.state()["next_id"]), daemon=True)
    pusher.start()
    t.until_idle()
    pusher.join()
    _steps(box)

    box.advance(31)
    t.say("a conflicting PR: broonie opens kernelci-api#9 editing the same line as #7")
    box.open_pr("kernelci-api", 9, "broonie", {"api/main.py": "app = 'v3'\n"}, title="api: v3")
    box.advance(6)
    t.until_idle()
    _pr_line(box, "kernelci-api#9")

    box.advance(5)
    t.say("admin nuclearcat comments '@kcibot trigger' on kernelci-pipeline#101: a full cycle "
          "with the test kernel starts at the next tick, ignoring settle and throttle")
    box.comment("kernelci-pipeline", 101, "nuclearcat", "@kcibot trigger")
    box.advance(1)
    t.tick()
    t.say("the test kernel's checkout is submitted to the KernelCI pipeline; the deployment "
          "waits for its tree with no process running: each minute's tick reads it once")
    _follow_tree(t, box)
    _steps(box)

    box.advance(31)
    t.say("three trusted PRs arrive together; the middle one breaks staging")
    box.open_pr("kernelci-pipeline", 102, "JenySadadia", {"src/trigger.py": "TRIGGER = 2\n"},
                title="trigger: v2")
    box.open_pr("kernelci-pipeline", 103, "JenySadadia", {"BREAKS_STAGING": "oops\n"},
                title="pipeline: broken")
    box.open_pr("kernelci-pipeline", 104, "JenySadadia", {"src/scheduler.py": "RUN = 2\n"},
                title="scheduler: v2")
    box.advance(6)
    t.until_idle()
    _next_line(box)
    t.say("the culprit search deploys 'last good + a prefix of the suspects', one per tick, "
          "then the target without the culprit:")
    for _ in range(4):
        box.advance(1)
        t.tick()
        if box.state()["bisect"] is None:
            break
        _next_line(box)
    _pr_line(box, "kernelci-pipeline#103")
    _ = sha7
    dependencies_scene(box, t)
    _regression_act(t, box)


def _follow_tree(t: Timeline, box: Sandbox, limit: int = 30) -> None:
    """Tick every minute while the running full cycle waits for its tree; print what it showed."""
    for _ in range(limit):
        running = box.state()["deployments"][-1]
        if running["result"] != "running":
            break
        waiting = running.get("waiting")
        if waiting:
            click.echo(f"          status: deployment {running['id']} waits: {waiting['what']}")
        box.advance(1)
        t.tick()
    last = box.state()["deployments"][-1]
    for step in last["steps"]:
        # A failed step's summary is already the failure reason the tick printed.
        if step.get("summary") and step["result"] == StepResult.OK:
            click.echo(f"          deployment {last['id']} {step['name']}: {step['summary']}")


def _regression_act(t: Timeline, box: Sandbox) -> None:
    """A PR that breaks a KernelCI test: the regression check catches it, the search blames it."""
    box.advance(31)
    t.say("JenySadadia opens kernelci-pipeline#106 (a pipeline change that, unknown to her, "
          "breaks the dmesg.crit test) and broonie kernelci-api#11 (harmless)")
    box.open_pr("kernelci-pipeline", 106, "JenySadadia",
                {"config/runtime/baseline.jinja2": "dmesg: strict\n", MARKER: "dmesg.crit\n"},
                title="baseline: stricter dmesg")
    box.open_pr("kernelci-api", 11, "broonie", {"api/users.py": "USERS = 1\n"}, title="api: users")
    box.advance(6)
    t.until_idle()
    t.say("admin nuclearcat asks for a full cycle on kernelci-pipeline#106: '@kcibot trigger'")
    box.comment("kernelci-pipeline", 106, "nuclearcat", "@kcibot trigger")
    box.advance(1)
    t.tick()
    _follow_tree(t, box)
    _next_line(box)
    t.say("the culprit search runs the test kernel at the failed deployment's kernel commit, "
          "against the same baseline, for each candidate (a tick a minute; the waits not shown):")
    for _ in range(80):
        box.advance(1)
        result = box.tick(verbose=t.verbose)
        for line in result.lines:
            if " waits for " not in line:
                click.echo(f"[{box.clock():%H:%M}]   kcistage tick> {line}")
        if box.state()["bisect"] is None and box.state()["deployments"][-1]["result"] != "running":
            break
    _pr_line(box, "kernelci-pipeline#106")
    _pr_line(box, "kernelci-api#11")
    told = [line for c in box.hub.comments(f"{OWNER}/kernelci-pipeline", 106)
            for line in c["body"].splitlines() if "Excluded as the culprit" in line]
    if told:
        click.echo(f"          kernelci-pipeline#106 is told: {told[-1].removeprefix('- ')}")


def _snapshot(box: Sandbox, path: Path) -> None:
    """The status page as serve would show it now, saved as a file to open in a browser."""
    now = box.clock()
    doc = status_document(box.config(), box.state(), now)
    path.write_text(page.render(doc, box.state()["deployments"]), encoding="utf-8")


def _last_time(root: Path) -> str:
    """The sandbox clock's last time, for serve's --now (the sandbox lives in simulated time)."""
    try:
        state = json.loads((root / "state" / "state.json").read_text())
        return str(state["deployments"][-1]["finished"])
    except (OSError, ValueError, KeyError, IndexError):
        return format_time(START)


def _push_during(box: Sandbox, deploy_id: int) -> None:
    """Push to kernelci-api#8 while its deployment's long step runs, then let that step end.

    The step is held until released, so the push lands inside it however slow the machine is."""
    try:
        box.wait_for_step("restart-api", deploy_id)
        box.push("kernelci-api", 8, {"api/models.py": "MODELS = [1, 2]\n"})
        click.echo(f"[{box.clock():%H:%M}] "
                   f"{bold('broonie pushes to kernelci-api#8')}")
        box.wait_for_step("restart-api", deploy_id, count=2)  # the deployment restarted
    finally:
        box.release("restart-api")  # whatever happened, the step must not stay held


def _steps(box: Sandbox) -> None:
    """Print which steps the last deployment ran and skipped."""
    last = box.state()["deployments"][-1]
    ran = [s["name"] for s in last["steps"] if s["result"] != "skipped"]
    skipped = [s["name"] for s in last["steps"] if s["result"] == "skipped"]
    click.echo(f"          deployment {last['id']} ({last['cycle']}, {last['trigger']}): "
               f"ran {', '.join(ran) or 'nothing'}; skipped {', '.join(skipped) or 'nothing'}")


def _next_line(box: Sandbox) -> None:
    """Print what status says the next tick does."""
    doc = status_document(box.config(), box.state(), box.clock())
    click.echo(f"          status: next: {doc['next']['action']}: {doc['next']['reason']}")


def _pr_line(box: Sandbox, key: str) -> None:
    """Print what status says about one PR (its row as `status` shows it, not the raw record)."""
    for row in pr_rows(box.state()):
        if f"{row['repo']}#{row['number']}" == key:
            click.echo(f"          status: {key} is {row['state']}: {row['reason']}")


def run_demo(keep: Path | None = None, verbose: bool = False) -> int:
    """Run the demo in a temporary folder (or `keep`), print the timeline, clean up."""
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="kcistage-demo-"))
    started = time.monotonic()
    try:
        with Sandbox(root, kernelci=True) as box, SandboxServe(box) as web:
            script(box, Timeline(box, verbose), web)
            if keep is not None:
                _snapshot(box, root / "status.html")
            click.echo(f"\nDone in {time.monotonic() - started:.1f}s: "
                       f"{len(box.state()['deployments'])} deployments, "
                       f"{len(box.hub.requests)} requests to the GitHub stand-in.")
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    program = own_command()
    if keep is not None:
        config = shlex.quote(f"{root}/config.yaml")
        now = shlex.quote(_last_time(root))
        click.echo(f"Sandbox kept in {root}. Look around at the sandbox's time:")
        click.echo(f"  {program} --config {config} --now {now} status")
        click.echo(f"  {program} --config {config} --now {now} serve   "
                   "(then open http://127.0.0.1:8080/)")
        click.echo(f"Status page snapshot: file://{root.resolve()}/status.html")
    else:
        click.echo(f"Next: `{program} demo --keep DIR` keeps the sandbox to look around in "
                   "(status, log, serve); docs/operations.md installs kcistage on a server.")
    return 0


def own_command() -> str:
    """How to run this same kcistage again from the same folder: the script that is running
    (for example .venv/bin/kcistage, which need not be on PATH), else `python -m kcistage`."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "kcistage":
        found = shutil.which(str(script)) if "/" not in str(script) else str(script)
        if found:
            return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m kcistage"
