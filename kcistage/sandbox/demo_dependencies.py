"""The demo's scene of a cross-repository change, deployed together once its dependency is ready.

A PR that says `Depends-On:` another repo's PR waits for it, then both are deployed together."""

from __future__ import annotations

from typing import Protocol

import click

from kcistage.app.status_document import pr_rows
from kcistage.sandbox.sandbox import OWNER, Sandbox, TickResult


class Teller(Protocol):
    """What the scene needs of the demo's timeline."""

    def say(self, text: str) -> None: ...
    def tick(self, label: str = "tick", **kwargs: bool) -> TickResult: ...
    def until_idle(self, minutes: int = 1, limit: int = 120) -> TickResult: ...


CORE, PIPELINE = "kernelci-core", "kernelci-pipeline"


def scene(box: Sandbox, t: Teller) -> None:
    """kernelci-pipeline#105 needs kernelci-core#31, still a draft: it waits, then both deploy."""
    box.advance(31)
    t.say(f"a two-repo change: JenySadadia opens {CORE}#31 (a new API, still a draft) and "
          f"{PIPELINE}#105, whose description says 'Depends-On: {CORE}#31'")
    box.open_pr(CORE, 31, "JenySadadia", {"kernelci/api.py": "API = 2\n"}, title="api: v2",
                draft=True)
    box.open_pr(PIPELINE, 105, "JenySadadia", {"config/scheduler.yaml": "runtimes: {v2: 1}\n"},
                title="scheduler: use API v2",
                body=f"Uses the new API.\r\n\r\nDepends-On: {CORE}#31\r\n")
    box.advance(6)
    t.tick()
    _pr(box, f"{PIPELINE}#105")
    t.say(f"JenySadadia marks {CORE}#31 ready for review")
    box.hub.update_pr(f"{OWNER}/{CORE}", 31, draft=False)
    box.advance(1)
    t.until_idle()
    last = box.state()["deployments"][-1]
    together = [f"{name}#{n}" for name, entry in last["target"].items() for n, _ in entry["prs"]
                if f"{name}#{n}" in (f"{CORE}#31", f"{PIPELINE}#105")]
    click.echo(f"          deployment {last['id']} merged {' and '.join(together)} together")
    _pr(box, f"{PIPELINE}#105")


def _pr(box: Sandbox, key: str) -> None:
    """What `kcistage status` says about one PR."""
    for row in pr_rows(box.state()):
        if f"{row['repo']}#{row['number']}" == key:
            click.echo(f"          status: {key} is {row['state']}: {row['reason']}")
