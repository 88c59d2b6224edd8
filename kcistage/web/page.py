"""The status page: server-rendered HTML with no JavaScript, readable in a text browser too.

Everything shown is escaped (web.html_text.esc); the one stylesheet is allowed by its hash in
the Content-Security-Policy, which forbids scripts and every other source.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from kcistage.core.display import duration, seconds_between
from kcistage.web import timeline
from kcistage.web.html_text import esc, when

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:75em;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em}
.meta{color:#666;margin-top:0}
dl.summary{display:grid;grid-template-columns:8em 1fr;gap:.3em 1em}dt{font-weight:bold}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f3f3f3}tr:target{background:#fff6c8}
code{font-size:.95em}td:first-child{white-space:nowrap}
.s-deployed,.r-success{color:#2e7d32;font-weight:bold}.s-pending,.r-running{color:#1565c0;font-weight:bold}
.s-excluded,.r-failed{color:#c62828;font-weight:bold}.s-skipped{color:#666}.r-interrupted{color:#ef6c00}
.paused{color:#c62828;font-weight:bold}
footer{margin-top:2em;color:#666;font-size:.9em}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = ("default-src 'none'; style-src 'sha256-" + _STYLE_HASH + "'; img-src data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PR_STATES = ("deployed", "pending", "excluded", "skipped")


def anchor(repo: Any, number: Any) -> str:
    """The id of a PR's row (`<repo>-<number>`), what commit statuses link to."""
    return f"{repo}-{number}"


def render(doc: dict[str, Any], deployments: Sequence[Mapping[str, Any]]) -> str:
    """The whole page from the status document and the recorded deployments (oldest first)."""
    generated = doc.get("generated") or ""
    prs = doc.get("prs") or []
    counts = ", ".join(f"{sum(1 for p in prs if p.get('state') == s)} {s}" for s in PR_STATES)
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>kcistage: staging status</title>'
        f"<style>{STYLE}</style></head><body>\n",
        "<header><h1>kcistage: staging status</h1>"
        f'<p class="meta">As of {when(generated)}. {len(prs)} open pull requests: {counts}.</p>'
        "</header>\n",
        _summary(doc),
        '<section id="deployments"><h2>Recent deployments</h2>\n',
        timeline.render(deployments, generated),
        _deployments(doc.get("last") or [], generated),
        "</section>\n",
        _prs(prs),
        '<footer><p>Machine-readable: <a href="status.json">status.json</a> · '
        '<a href="metrics">metrics</a> · <a href="healthz">healthz</a></p></footer>\n',
        "</body></html>\n",
    ])


def _summary(doc: dict[str, Any]) -> str:
    """Running deployment, pause, next action."""
    running = doc.get("running")
    if running:
        step = running.get("step") or "-"
        text = (f"deployment {esc(running.get('id'))}: {esc(running.get('cycle'))} "
                f"({esc(running.get('trigger'))}), started {when(running.get('started'))}, "
                f"running for {duration(running.get('elapsed'))}; step {esc(step)}; "
                f"restarts {esc(running.get('restarts', 0))}")
        if running.get("alive") is False:
            text += "; its process is gone: the next tick marks it interrupted"
    else:
        text = "none"
    paused = doc.get("paused")
    if paused:
        pause = (f'<span class="paused">paused</span> by {esc(paused.get("by"))} since '
                 f'{when(paused.get("at"))}' + (f": {esc(paused['reason'])}"
                                                if paused.get("reason") else ""))
    else:
        pause = "no"
    nxt = doc.get("next") or {}
    action = nxt.get("action") or "none"
    at = f" at {when(nxt['at'])}" if nxt.get("at") else ""
    return ('<section id="now"><h2>Now</h2><dl class="summary">'
            f"<dt>Running</dt><dd>{text}</dd>"
            f"<dt>Paused</dt><dd>{pause}</dd>"
            f"<dt>Next</dt><dd><strong>{esc(action)}</strong>{at}: {esc(nxt.get('reason'))}</dd>"
            "</dl></section>\n")


def _deployments(last: list[dict[str, Any]], generated: str) -> str:
    """The recent deployments as a table (what a text browser shows instead of the picture)."""
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
        rows.append(f"<tr><td>{esc(dep.get('id'))}</td><td>{esc(dep.get('cycle'))}</td>"
                    f"<td>{esc(dep.get('trigger'))}</td><td class=\"r-{result}\">{result}</td>"
                    f"<td>{when(dep.get('started'))}</td>"
                    f"<td>{duration(seconds_between(dep.get('started'), end))}</td>"
                    f"<td>{len(dep.get('prs') or [])}</td><td>{step_text}</td></tr>")
    return ("<table><thead><tr><th>#</th><th>cycle</th><th>trigger</th><th>result</th>"
            "<th>started</th><th>duration</th><th>PRs</th><th>steps</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>\n")


def _prs(prs: list[dict[str, Any]]) -> str:
    """Every open PR with its state and reason; each row is an anchor."""
    head = '<section id="prs"><h2>Open pull requests</h2>\n'
    if not prs:
        return head + "<p>No open pull request.</p></section>\n"
    rows = []
    for pr in prs:
        ident = esc(anchor(pr.get("repo"), pr.get("number")))
        state = esc(pr.get("state"))
        sha = esc(str(pr.get("sha") or "")[:12])
        rows.append(f'<tr id="{ident}"><td><a href="#{ident}">{esc(pr.get("repo"))}'
                    f"#{esc(pr.get('number'))}</a></td><td>{esc(pr.get('title'))}</td>"
                    f"<td>{esc(pr.get('author'))}</td><td class=\"s-{state}\">{state}</td>"
                    f"<td>{esc(pr.get('reason'))}</td><td><code>{sha}</code></td></tr>")
    return (head + "<table><thead><tr><th>PR</th><th>title</th><th>author</th><th>state</th>"
            "<th>reason</th><th>head</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table></section>\n")
