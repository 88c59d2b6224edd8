"""The status page: where each PR stands and what would change it, for the contributor who
followed a commit status link; server-rendered HTML with no JavaScript, readable on a phone and
in a text browser.

Everything shown is escaped (web.html_text.esc). The frame, stylesheet and CSP are in
web/layout.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kcistage.core.display import duration, seconds_between
from kcistage.web import timeline
from kcistage.web.html_text import ago, esc, link, when, with_code
from kcistage.web.layout import CSP, cell, document, table

__all__ = ["CSP", "anchor", "no_tick_yet", "render", "unreadable"]
PR_STATES = ("deployed", "pending", "excluded", "skipped")
TITLE = "kcistage: staging status"


def anchor(repo: Any, number: Any) -> str:
    """The id of a PR's row (`<repo>-<number>`), what commit statuses link to."""
    return f"{repo}-{number}"


def render(doc: dict[str, Any], deployments: Sequence[Mapping[str, Any]]) -> str:
    """The whole page from the status document and the recorded deployments (oldest first)."""
    generated = doc.get("generated") or ""
    prs = doc.get("prs") or []
    counts = ", ".join(f"{sum(1 for p in prs if p.get('state') == s)} {s}" for s in PR_STATES)
    polled = doc.get("polled")
    age = seconds_between(polled, generated)
    body = "".join([
        f"<header><h1>{esc(TITLE)}</h1>"
        f'<p class="meta">Last poll of GitHub: <strong>{esc(ago(age))}</strong> '
        f"({when(polled)}); this page reloads itself every minute. "
        f"{len(prs)} open pull requests: {counts}.</p>"
        '<nav><a href="#now">Now</a> <a href="#prs">Pull requests</a> '
        '<a href="#deployments">Deployments</a></nav></header>\n',
        _summary(doc),
        _prs(prs),
        '<section id="deployments"><h2>Recent deployments</h2>\n',
        timeline.render(deployments, generated),
        _deployments(doc.get("last") or [], generated),
        "</section>\n",
        '<footer><p>Machine-readable: <a href="status.json">status.json</a> · '
        '<a href="metrics">metrics</a> · <a href="healthz">healthz</a></p></footer>\n',
    ])
    return document(TITLE, body)


def no_tick_yet() -> str:
    """The page before the first tick (served with 503; it names no server path)."""
    body = (f"<header><h1>{esc(TITLE)}</h1></header><main>"
            "<p><strong>No tick has run yet</strong>: there is no state file yet, so nothing "
            "is known about the pull requests or the deployments.</p>"
            "<p>Start the timer that runs a tick every minute:</p>"
            "<pre><code>sudo systemctl enable --now kcistage.timer</code></pre>"
            "<p>or run one by hand as the service's user: <code>kcistage tick</code>. This page "
            "reloads itself every minute.</p></main>\n")
    return document(TITLE, body)


def unreadable(problem: str) -> str:
    """The page when the state file cannot be read (served with 503)."""
    body = (f"<header><h1>{esc(TITLE)}</h1></header><main><p><strong>The state file cannot be "
            f"read</strong>: {esc(problem)}</p><p><code>kcistage status</code> on the server "
            "says more; the next tick sets a corrupt file aside.</p></main>\n")
    return document(TITLE, body)


def _summary(doc: dict[str, Any]) -> str:
    """Running deployment, pause, next action."""
    running = doc.get("running")
    if running:
        step = running.get("step") or "-"
        ident = esc(running.get("id"))
        text = (f'{link(f"deployments/{ident}", f"deployment #{ident}")}: '
                f"{esc(running.get('cycle'))} ({esc(running.get('trigger'))}), started "
                f"{when(running.get('started'))}, running for "
                f"{duration(running.get('elapsed'))}; step {esc(step)}; "
                f"restarts {esc(running.get('restarts') or 0)}")
        if running.get("waiting"):  # between ticks: no process runs it, by design
            text += f"; waits for {esc(running['waiting'])} (next check {when(running.get('check_at'))})"
        elif running.get("alive") is False:
            text += "; its process is gone: the next tick marks it interrupted"
    else:
        text = "none"
    paused = doc.get("paused")
    if paused:
        pause = (f'<span class="paused">paused</span> by {esc(paused.get("by"))} since '
                 f'{when(paused.get("at"))}' + (f": {esc(paused['reason'])}"
                                                if paused.get("reason") else "")
                 + "; an operator's <code>kcistage resume</code> ends it")
    else:
        pause = "no"
    nxt = doc.get("next") or {}
    action = "paused" if paused and nxt.get("action") == "wait" else (nxt.get("action") or "none")
    at = f" at {when(nxt['at'])}" if nxt.get("at") else ""
    return ('<section id="now"><h2>Now</h2><dl class="summary">'
            f"<dt>Running</dt><dd>{text}</dd>"
            f"<dt>Paused</dt><dd>{pause}</dd>"
            f"<dt>Next</dt><dd><strong>{esc(action)}</strong>{at}: {esc(nxt.get('reason'))}</dd>"
            "</dl></section>\n")


def _deployments(last: list[dict[str, Any]], generated: str) -> str:
    """The recent deployments as a table (a list on a phone; what a text browser reads)."""
    if not last:
        return "<p>No deployment yet.</p>\n"
    rows = []
    for dep in last:
        end = dep.get("finished") or (generated if dep.get("result") == "running" else None)
        steps = dep.get("steps") or []
        bad = [s for s in steps if s.get("result") in ("failed", "timeout", "interrupted")]
        ran = sum(1 for s in steps if s.get("result") != "skipped")
        step_text = f"{ran} run, {len(steps) - ran} skipped" + (
            f"; {esc(bad[0].get('name'))} {esc(bad[0].get('result'))}" if bad else "")
        result = esc(dep.get("result"))
        ident = esc(dep.get("id"))
        rows.append("<tr>" + cell("deployment", link(f"deployments/{ident}", f"#{ident}"))
                    + cell("cycle", esc(dep.get("cycle")))
                    + cell("trigger", esc(dep.get("trigger")))
                    + cell("result", result, f"r-{result}")
                    + cell("started", when(dep.get("started")))
                    + cell("duration", duration(seconds_between(dep.get("started"), end)))
                    + cell("PRs", str(len(dep.get("prs") or []))) + cell("steps", step_text)
                    + "</tr>")
    return table(["#", "cycle", "trigger", "result", "started", "duration", "PRs", "steps"], rows)


def _prs(prs: list[dict[str, Any]]) -> str:
    """Every open PR: state, reason, what would change it; each row is an anchor."""
    head = '<section id="prs"><h2>Open pull requests</h2>\n'
    if not prs:
        return head + "<p>No open pull request.</p></section>\n"
    rows = []
    for pr in prs:
        ident = esc(anchor(pr.get("repo"), pr.get("number")))
        name = f"{esc(pr.get('repo'))}#{esc(pr.get('number'))}"
        state = esc(pr.get("state"))
        sha = esc(str(pr.get("sha") or "")[:12])
        on_github = link(str(pr["url"]), name) if pr.get("url") else name
        latest = pr.get("deployment")
        deployed = link(f"deployments/{esc(latest)}", f"#{esc(latest)}") if latest else "none yet"
        change = pr.get("change")
        rows.append(f'<tr id="{ident}">'
                    + cell("PR", f'{on_github} <a href="#{ident}" title="link to this row">¶</a>',
                           "nowrap")
                    + cell("title", esc(pr.get("title"))) + cell("author", esc(pr.get("author")))
                    + cell("state", state, f"s-{state}") + cell("reason", esc(pr.get("reason")))
                    + cell("what would change this", with_code(change) if change else "-", "change")
                    + cell("head", f"<code>{sha}</code>")
                    + cell("latest deployment", deployed) + "</tr>")
    return (head + table(["PR", "title", "author", "state", "reason", "what would change this",
                          "head", "latest deployment"], rows) + "</section>\n")
