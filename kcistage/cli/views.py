"""Rendering of `kcistage status` (JSON, plain text, rich) and `kcistage log` from ready documents."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from kcistage.app.status_document import render_json as render_json  # noqa: F401 (re-exported)
from kcistage.app.status_document import spec_document as spec_document  # noqa: F401
from kcistage.core import paths
from kcistage.core.display import duration, minute, parse_time_lenient, printable, seconds_between
from kcistage.errors import KcistageError

_RESULT_STYLE = {"success": "green", "failed": "bold red", "interrupted": "yellow",
                 "running": "cyan", "ok": "green", "timeout": "bold red", "skipped": "dim"}
_PR_STYLE = {"deployed": "green", "pending": "yellow", "excluded": "red", "skipped": "dim"}
_ACTION_STYLE = {"none": "dim", "wait": "yellow", "partial": "cyan", "full": "bold cyan"}
_BAD_STEP = ("failed", "timeout", "interrupted")
_TITLE_MAX = 60


# ---------------------------------------------------------------- small formatting helpers

def clean(value: Any) -> str:
    """Text safe for a terminal: control and format characters shown as escapes, never emitted."""
    return printable(value)


def fmt_time(text: Any) -> str:
    """`YYYY-MM-DD HH:MM UTC` for an ISO time ("-" when absent, the raw text when malformed)."""
    value = parse_time_lenient(text)
    if value is None:
        return clean(text) if text else "-"
    return minute(value)


def fmt_duration(seconds: float | int | None, precise: bool = False) -> str:
    """A duration as durations.human writes it; `-` when there is none."""
    return duration(seconds, precise)


def _elapsed(doc: dict[str, Any]) -> float | None:
    """How long the running deployment has been running."""
    running = doc.get("running") or {}
    elapsed = running.get("elapsed")
    if isinstance(elapsed, (int, float)):
        return float(elapsed)
    return seconds_between(running.get("started"), doc.get("generated"))


def _duration(dep: dict[str, Any], doc: dict[str, Any]) -> str:
    """A deployment's duration; a running one counts up to when the document was made."""
    end = dep.get("finished") or (doc.get("generated") if dep.get("result") == "running" else None)
    return fmt_duration(seconds_between(dep.get("started"), end))


def _steps_summary(dep: dict[str, Any]) -> str:
    """`3 run, 1 skipped` plus the step that failed, if one did."""
    steps = dep.get("steps") or []
    skipped = sum(1 for s in steps if s.get("result") == "skipped")
    text = f"{len(steps) - skipped} run, {skipped} skipped"
    bad = [s for s in steps if s.get("result") in _BAD_STEP]
    if bad:
        text += f" ({clean(bad[0].get('name'))} {clean(bad[0].get('result'))})"
    return text


SUMMARIES = 5  # recent deployments whose steps' summaries `status` prints


def _summary_lines(doc: dict[str, Any]) -> list[str]:
    """`<id> <step>: <summary>` for the steps of recent deployments that recorded what they showed."""
    return [f"{clean(d.get('id'))} {clean(s.get('name'))}: {clean(s.get('summary'))}"
            for d in (doc.get("last") or [])[:SUMMARIES] for s in d.get("steps") or []
            if s.get("summary")]


def _short_title(title: Any) -> str:
    """A PR title cleaned and cut to fit a table row."""
    text = clean(title)
    return text if len(text) <= _TITLE_MAX else text[:_TITLE_MAX - 1] + "…"


def _next_line(nxt: dict[str, Any]) -> str:
    """The next action as one sentence."""
    action = clean(nxt.get("action") or "none")
    reason = clean(nxt.get("reason") or "")
    at = nxt.get("at")
    if action == "none":
        head = "nothing to do"
    elif action == "wait":
        head = f"wait until {fmt_time(at)}" if at else "wait"
    else:
        head = f"{action} cycle " + (f"at {fmt_time(at)}" if at else "at the next tick")
    return f"{head}: {reason}" if reason else head


def _running_lines(doc: dict[str, Any]) -> list[str]:
    """The running deployment in a few lines (empty list when none runs)."""
    run = doc.get("running")
    if not run:
        return []
    lines = [f"deployment {clean(run.get('id'))} · {clean(run.get('cycle'))} · "
             f"{clean(run.get('trigger'))} · started {fmt_time(run.get('started'))} · "
             f"running for {fmt_duration(_elapsed(doc))}",
             f"step {clean(run.get('step') or '-')} · restarts {clean(run.get('restarts', 0))}"]
    if run.get("waiting"):  # between ticks: no process runs it, by design
        lines.append(f"waits for {clean(run['waiting'])} · next check "
                     f"{fmt_time(run.get('check_at'))}")
    elif run.get("alive") is False:
        pid = f" {clean(run['pid'])}" if run.get("pid") is not None else ""
        lines.append(f"process{pid} gone: the next tick or deploy marks it interrupted")
    return lines


# ---------------------------------------------------------------- plain text

def _columns(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns; the last column is not padded."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1]
            for r in [header, *rows]]


def _paused_line(paused: dict[str, Any]) -> str:
    """Who paused, since when, why, and how to release it."""
    why = f": {clean(paused.get('reason'))}" if paused.get("reason") else ""
    return (f"by {clean(paused.get('by'))} since {fmt_time(paused.get('at'))}{why} "
            "(`kcistage resume` releases)")


def render_plain(doc: dict[str, Any]) -> str:
    """Plain text for pipes and logs: no colour, no escape sequences."""
    out = [poll_line(doc), "", "Running"]
    out += ["  " + line for line in _running_lines(doc)] or ["  none"]
    paused = doc.get("paused")
    if paused:
        out += ["", "Paused", "  " + _paused_line(paused)]
    out += ["", "Next", "  " + _next_line(doc.get("next") or {})]
    out += ["", "Recent deployments"]
    last = doc.get("last") or []
    if last:
        rows = [[clean(d.get("id")), clean(d.get("cycle")), clean(d.get("trigger")),
                 clean(d.get("result")), fmt_time(d.get("started")),
                 _duration(d, doc),
                 str(len(d.get("prs") or [])), _steps_summary(d)] for d in last]
        out += _columns(["ID", "CYCLE", "TRIGGER", "RESULT", "STARTED", "DURATION", "PRS", "STEPS"],
                        rows)
    else:
        out.append("  none yet")
    shown = _summary_lines(doc)
    if shown:
        out += ["", "What they showed"] + ["  " + line for line in shown]
    out += ["", "Pull requests"]
    prs = doc.get("prs") or []
    if prs:
        # one line of fixed facts per PR (ids and SHAs never wrap), then its reason and what
        # would change it on lines of their own
        rows = [[_pr_id(p), clean(p.get("state")), clean(p.get("sha"))[:12], _latest(p),
                 clean(p.get("author")), _short_title(p.get("title"))] for p in prs]
        lines = _columns(["PR", "STATE", "SHA", "LATEST", "AUTHOR", "TITLE"], rows)
        out.append(lines[0])
        for line, p in zip(lines[1:], prs, strict=True):
            out.append(line)
            out.append(f"      reason: {clean(p.get('reason') or '-')}")
            if p.get("change"):
                out.append(f"      what would change this: {clean(p['change'])}")
    else:
        out.append("  no open pull requests")
    return "\n".join(out) + "\n"


def _pr_id(pr: dict[str, Any]) -> str:
    return f"{clean(pr.get('repo'))}#{clean(pr.get('number'))}"


def _latest(pr: dict[str, Any]) -> str:
    """The latest deployment that merged the PR (`#25`), `-` when none did."""
    return f"#{clean(pr['deployment'])}" if pr.get("deployment") is not None else "-"


def poll_line(doc: dict[str, Any]) -> str:
    """How old the last poll of GitHub is, as the page says it at its top."""
    age = seconds_between(doc.get("polled"), doc.get("generated"))
    if age is None:
        return "Last poll of GitHub: none recorded yet"
    words = "just now" if age < 60 else f"{fmt_duration(age)} ago"
    return f"Last poll of GitHub: {words} ({fmt_time(doc.get('polled'))})"


# ---------------------------------------------------------------- rich

def render_rich(doc: dict[str, Any], console: Any) -> None:
    """A coloured view for terminals; every value goes in as Text, so no markup is interpreted."""
    from rich.panel import Panel  # lazy: plain and JSON output must not pay for rich's import
    from rich.table import Table
    from rich.text import Text

    def text(value: Any, style: str = "") -> Text:
        return Text(clean(value), style=style)

    console.print(text(poll_line(doc)))
    run = doc.get("running")
    if run:
        body = Text()
        lines = _running_lines(doc)
        body.append(lines[0] + "\n", style="cyan")
        body.append(lines[1])
        for line in lines[2:]:
            body.append("\n" + line, style="bold red")
        console.print(Panel(body, title="Running", title_align="left",
                            border_style="red" if run.get("alive") is False else "cyan"))
    else:
        console.print(Panel(Text("none", style="dim"), title="Running", title_align="left"))

    paused = doc.get("paused")
    if paused:
        console.print(Panel(text(_paused_line(paused), "bold yellow"), title="Paused",
                            title_align="left", border_style="yellow"))

    nxt = doc.get("next") or {}
    console.print(Panel(text(_next_line(nxt), _ACTION_STYLE.get(str(nxt.get("action")), "")),
                        title="Next", title_align="left"))

    table = Table(title="Recent deployments", title_justify="left", expand=False)
    for name in ("ID", "Cycle", "Trigger", "Result", "Started", "Duration", "PRs", "Steps"):
        table.add_column(name, justify="right" if name in ("ID", "PRs", "Duration") else "left",
                         no_wrap=name in ("ID", "Result", "Duration", "PRs"))
    for d in doc.get("last") or []:
        result = d.get("result")
        table.add_row(text(d.get("id")), text(d.get("cycle")), text(d.get("trigger")),
                      text(result, _RESULT_STYLE.get(result, "")), text(fmt_time(d.get("started"))),
                      text(_duration(d, doc)),
                      text(len(d.get("prs") or [])), text(_steps_summary(d)))
    console.print(table if doc.get("last") else
                  Panel(text("none yet", "dim"), title="Recent deployments", title_align="left"))
    shown = _summary_lines(doc)
    if shown:
        # each line is clean already; joined after, so the newlines stay newlines
        console.print(Panel(Text("\n".join(shown)), title="What they showed", title_align="left"))

    _rich_prs(doc.get("prs") or [], console)


def _rich_prs(prs: list[dict[str, Any]], console: Any) -> None:
    """One block per PR: a line of fixed facts that never wraps (the id first, so it is never
    split), then the reason, what would change it and the title, wrapped and indented."""
    from rich.padding import Padding
    from rich.text import Text

    console.print(Text("Pull requests", style="italic"))
    if not prs:
        console.print(Text("  no open pull requests", style="dim"))
        return
    for p in prs:
        state = clean(p.get("state"))
        head = Text("  ")
        head.append(_pr_id(p), style="bold")
        head.append("  ")
        head.append(state, style=_PR_STYLE.get(state, ""))
        head.append(f"  {clean(p.get('sha'))[:12]}  ", style="dim")
        if p.get("deployment") is not None:
            head.append(f"latest {_latest(p)}  ")
        head.append(clean(p.get("author")))
        console.print(head, no_wrap=True, overflow="ellipsis")
        body = Text(clean(p.get("reason") or "-"))
        if p.get("change"):
            body.append("\n→ " + clean(p["change"]), style="italic")
        body.append("\n" + _short_title(p.get("title")), style="dim")
        console.print(Padding(body, (0, 0, 0, 6)))


# ---------------------------------------------------------------- logs

def _ranges(ids: list[int]) -> str:
    """`1-5, 7, 9-12` for a list of ids."""
    runs: list[list[int]] = []
    for n in sorted(set(ids)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _select(workdir: Path, deployments: Sequence[Mapping[str, Any]], deploy_id: int | None,
            step: str | None) -> tuple[int, list[tuple[dict[str, Any], Path]]]:
    """The deployment id and its (step record, log path) pairs to show, in step order."""
    by_id = {d["id"]: d for d in deployments if isinstance(d.get("id"), int)}
    if deploy_id is None:
        if not by_id:
            raise KcistageError("no deployments yet, so no logs")
        deploy_id = max(by_id)
    dep = by_id.get(deploy_id)
    folder = paths.log_folder(Path(workdir), deploy_id)
    if dep is not None:
        steps = [s for s in dep.get("steps") or [] if isinstance(s.get("name"), str)]
        current = dep.get("step")
        if isinstance(current, str) and current not in {s["name"] for s in steps}:
            steps.append({"name": current, "result": "running"})  # the step running right now
    elif folder.is_dir():
        # trimmed from the history but its logs are still on disk: show them in run order
        files = sorted(folder.glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name))
        steps = [{"name": p.stem} for p in files]
    else:
        known = _ranges(list(by_id)) or "none"
        raise KcistageError(f"no deployment {deploy_id}: the history has {known}")
    names = [s["name"] for s in steps]
    if step is not None:
        if step not in names:
            raise KcistageError(f"deployment {deploy_id} has no step {step!r}; its steps: "
                                f"{', '.join(names) or 'none'}")
        steps = [s for s in steps if s["name"] == step]
    return deploy_id, [(s, folder / f"{s['name']}.log") for s in steps]


def find_log(workdir: Path, deployments: Sequence[Mapping[str, Any]], deploy_id: int | None = None,
             step: str | None = None) -> list[Path]:
    """The existing log files of a deployment (default: the latest), in step order."""
    _, chosen = _select(workdir, deployments, deploy_id, step)
    return [path for _, path in chosen if path.is_file()]


def render_log(workdir: Path, deployments: Sequence[Mapping[str, Any]], deploy_id: int | None = None,
               step: str | None = None, out: TextIO | None = None) -> str:
    """`kcistage log [ID] [STEP]`: each step's log under a one-line header.

    Returns the text, or streams it to `out` (and returns "") so huge build logs need no memory.
    """
    if out is None:
        buffer = io.StringIO()
        render_log(workdir, deployments, deploy_id, step, buffer)
        return buffer.getvalue()
    deploy_id, chosen = _select(workdir, deployments, deploy_id, step)
    for record, path in chosen:
        parts = [f"deployment {deploy_id}", f"step {clean(record['name'])}"]
        if record.get("result"):
            parts.append(clean(record["result"]))
        if isinstance(record.get("seconds"), (int, float)):
            parts.append(fmt_duration(record["seconds"], precise=True))
        out.write(f"== {' · '.join(parts)} ==\n")
        try:
            # opened apart from the `with` below: only a failed open means "no log"
            handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
        except FileNotFoundError:
            out.write("(no log)\n")
            continue
        except OSError as exc:
            raise KcistageError(f"{path}: cannot read: {exc.strerror}") from exc
        with handle:
            tail = ""
            while chunk := handle.read(1 << 16):  # logs of kernel builds can be large: stream
                out.write(chunk)
                tail = chunk[-1]
            if tail and tail != "\n":
                out.write("\n")
    return ""
