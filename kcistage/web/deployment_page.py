"""`GET /deployments/<id>`: one deployment, what it merged, each step, its culprit search.

Read from the recorded deployment alone (step logs are not served). Everything shown is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kcistage.core.display import duration, seconds_between
from kcistage.web.html_text import esc, link, when
from kcistage.web.layout import cell, document, table

_ID = re.compile(r"^/deployments/([1-9][0-9]{0,9})$")


def deployment_id(path: str) -> int | None:
    """The id in `/deployments/<id>`; None for anything else (`../`, letters, zero, huge)."""
    found = _ID.match(path)
    return int(found.group(1)) if found else None


def render(record: Mapping[str, Any], deployments: Sequence[Mapping[str, Any]],
           state: Mapping[str, Any], repos: Mapping[str, str], generated: str) -> str:
    """The page of `record`; `repos` maps a short repo name to its GitHub `owner/name`."""
    ident = esc(record.get("id"))
    result = esc(record.get("result"))
    end = record.get("finished") or (generated if record.get("result") == "running" else None)
    facts = [("cycle", esc(record.get("cycle"))), ("trigger", esc(record.get("trigger"))),
             ("result", f'<span class="r-{result}">{result}</span>'
                        + (f": {esc(record['reason'])}" if record.get("reason") else "")),
             ("started", when(record.get("started"))),
             ("finished", when(record.get("finished")) if record.get("finished") else "not yet"),
             ("duration", duration(seconds_between(record.get("started"), end))),
             ("restarts", esc(record.get("restarts") or 0))]
    if record.get("result") == "running" and record.get("step"):
        facts.append(("running step", esc(record.get("step"))))
    if record.get("error"):
        facts.append(("error", esc(record.get("error"))))
    summary = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    body = "".join([
        f'<header><p><a href="../">← staging status</a></p><h1>Deployment #{ident}</h1></header>\n',
        f'<section id="summary"><dl class="summary">{summary}</dl></section>\n',
        _staging(record, repos),
        _steps(record.get("steps") or []),
        _search(record, deployments, state),
    ])
    return document(f"kcistage: deployment #{record.get('id')}", body,
                    refresh=record.get("result") == "running")


def not_found(text: str) -> str:
    """The 404 page for an unknown or malformed deployment id."""
    return document("kcistage: no such deployment",
                    f'<p><a href="../">← staging status</a></p><h1>No such deployment</h1>'
                    f"<p>{esc(text)}</p>\n", refresh=False)


def _pr_link(repos: Mapping[str, str], repo: Any, number: Any) -> str:
    name = f"{esc(repo)}#{esc(number)}"
    github = repos.get(str(repo))
    return link(f"https://github.com/{github}/pull/{number}", name) if github else name


def _staging(record: Mapping[str, Any], repos: Mapping[str, str]) -> str:
    """Each repo: its base, the staging branch's head, the PRs merged (linked), those left out."""
    heads = record.get("heads") or {}
    left = record.get("left_out") or []
    rows = []
    for name, entry in (record.get("target") or {}).items():
        prs = ", ".join(f"{_pr_link(repos, name, n)} at <code>{esc(str(sha)[:12])}</code>"
                        for n, sha in entry.get("prs") or []) or "none (the base alone)"
        out = ", ".join(f"{_pr_link(repos, lo.get('repo'), lo.get('number'))} "
                        f"({esc(lo.get('reason') or lo.get('cause'))})"
                        for lo in left if lo.get("repo") == name) or "-"
        rows.append("<tr>" + cell("repo", esc(name))
                    + cell("base", f"<code>{esc(str(entry.get('base') or '')[:12])}</code>")
                    + cell("staging head", f"<code>{esc(heads.get(name) or '-')}</code>")
                    + cell("PRs merged", prs) + cell("left out", out) + "</tr>")
    if not rows:
        return '<section id="staging"><h2>Staging</h2><p>Nothing was merged.</p></section>\n'
    return ('<section id="staging"><h2>Staging</h2>\n'
            + table(["repo", "base", "staging head", "PRs merged", "left out"], rows)
            + "</section>\n")


def _tree(tree: Mapping[str, Any]) -> str:
    """A kernelci step's tree: counts per kind and result, regressions, flaky tests."""
    counts = tree.get("counts") or {}
    parts = ["; ".join(f"{esc(kind)}: " + ", ".join(f"{esc(n)} {esc(result)}"
                                                    for result, n in (by or {}).items())
                       for kind, by in counts.items())]
    if tree.get("regressions"):
        parts.append("regressions: " + ", ".join(esc(r) for r in tree["regressions"]))
    if tree.get("flaky"):
        parts.append("flaky: " + ", ".join(esc(r) for r in tree["flaky"]))
    if tree.get("baseline") is not None:
        baseline = esc(tree["baseline"])
        parts.append(f"compared with {link(baseline, f'deployment #{baseline}')}")
    return "<br>".join(p for p in parts if p)


def _steps(steps: list[Mapping[str, Any]]) -> str:
    """Each step: result, duration, what it showed."""
    if not steps:
        return '<section id="steps"><h2>Steps</h2><p>No step ran yet.</p></section>\n'
    rows = []
    for step in steps:
        result = esc(step.get("result"))
        shown = [esc(step[key]) for key in ("summary", "reason") if step.get(key)]
        if isinstance(step.get("tree"), Mapping):
            shown.append(_tree(step["tree"]))
        rows.append("<tr>" + cell("step", esc(step.get("name")))
                    + cell("result", result, f"r-{result}")
                    + cell("duration", duration(step.get("seconds")))
                    + cell("summary", "<br>".join(shown) or "-") + "</tr>")
    return ('<section id="steps"><h2>Steps</h2>\n'
            + table(["step", "result", "duration", "summary"], rows) + "</section>\n")


def _search(record: Mapping[str, Any], deployments: Sequence[Mapping[str, Any]],
            state: Mapping[str, Any]) -> str:
    """The culprit search this deployment belongs to (or started): its deployments, verdicts."""
    info = record.get("search") or {}
    failed = info.get("failed")
    if failed is None and any((d.get("search") or {}).get("failed") == record.get("id")
                              for d in deployments):
        failed = record.get("id")
    if failed is None:
        return ""
    head = '<section id="search"><h2>Culprit search</h2>\n'
    lines = [f"<p>The search for the failure of {link(esc(failed), f'deployment #{esc(failed)}')}"
             + (" (this deployment)" if failed == record.get("id") else "") + ".</p>"]
    rows = []
    for dep in deployments:
        what = dep.get("search") or {}
        if what.get("failed") != failed:
            continue
        if what.get("probe") is not None:
            role = f"candidate {esc(what['probe'])} of {esc(what.get('of'))}: the last good " \
                   f"staging plus the first {esc(what['probe'])} suspects"
        else:
            blamed = ", ".join(f"{esc(r)}#{esc(n)}" for r, n, *_ in what.get("rest") or [])
            role = f"the target without the culprit {blamed}"
        result = esc(dep.get("result"))
        rows.append("<tr>" + cell("deployment", link(esc(dep.get("id")), f"#{esc(dep.get('id'))}"))
                    + cell("what it tried", role) + cell("verdict", result, f"r-{result}") + "</tr>")
    if rows:
        lines.append(table(["deployment", "what it tried", "verdict"], rows))
    bisect = state.get("bisect") or {}
    if bisect.get("failed_id") == failed:
        suspects = ", ".join(f"{esc(r)}#{esc(n)} at <code>{esc(str(s)[:12])}</code>"
                             for r, n, s in bisect.get("suspects") or []) or "none left"
        lines.append(f"<p>Still running; suspects: {suspects}.</p>")
    culprits = [f"{esc(p.get('repo'))}#{esc(p.get('number'))}"
              for p in (state.get("prs") or {}).values()
              if (p.get("excluded") or {}).get("cause") == "culprit"
              and (p.get("excluded") or {}).get("deployment") in (failed, record.get("id"))]
    if culprits:
        lines.append(f"<p>Blamed: {', '.join(culprits)} (excluded at that head).</p>")
    return head + "".join(lines) + "</section>\n"
