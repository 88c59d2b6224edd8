"""GET /metrics: Prometheus text exposition (format 0.0.4) built from the status document."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kcistage.core.display import parse_time_lenient as parse

CYCLES = ("partial", "full")
RESULTS = ("success", "failed", "interrupted")
PR_STATES = ("deployed", "pending", "excluded", "skipped")
ACTIONS = ("none", "wait", "partial", "full")
DELIVERIES = ("accepted", "duplicate", "ignored", "refused")


class DeploymentCounter:
    """Finished deployments by cycle and result, counted once each and never decreasing.

    The state file keeps only the newest deployments, so counting its records would go down when
    an old one is dropped; this counter adds each finished deployment once, as a counter must
    (it starts again from the kept history when `serve` restarts, which Prometheus handles)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {(c, r): 0 for c in CYCLES for r in RESULTS}
        self._counted = 0  # highest deployment id counted
        self._lock = threading.Lock()

    def update(self, deployments: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], int]:
        """Count the finished deployments not counted yet; return the counts."""
        with self._lock:
            for record in deployments:
                ident = record.get("id")
                if not isinstance(ident, int) or ident <= self._counted:
                    continue
                if record.get("result") == "running":
                    break  # counted once it ends (only the newest can be running)
                key = (str(record.get("cycle")), str(record.get("result")))
                self.counts[key] = self.counts.get(key, 0) + 1
                self._counted = ident
            return dict(self.counts)


def _label(value: Any) -> str:
    """A label value escaped as the text format requires."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else f"{float(value):.1f}"


def _timestamp(text: Any) -> float | None:
    value = parse(text)
    return value.timestamp() if value else None


def _last_tree(doc: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The newest recorded KernelCI tree: (its deployment, its step)."""
    for dep in doc.get("last") or []:
        for step in reversed(dep.get("steps") or []):
            if isinstance(step.get("tree"), Mapping):
                return dep, step
    return None


def _regression_total(names: Sequence[Any]) -> int:
    """How many regressions a tree record names (its last line may be `... and N more`)."""
    lines = list(names)
    if lines and str(lines[-1]).startswith("... and ") and str(lines[-1]).split()[2].isdigit():
        return len(lines) - 1 + int(str(lines[-1]).split()[2])
    return len(lines)


def _tree_metrics(doc: Mapping[str, Any], metric: Any) -> None:
    """The last tree's identities per kind and result, its regressions and flaky identities."""
    found = _last_tree(doc)
    if found is None:
        return
    dep, step = found
    tree = step["tree"]
    labels = {"step": str(step.get("name")), "deployment": str(dep.get("id"))}
    counts = tree.get("counts") if isinstance(tree.get("counts"), Mapping) else {}
    metric("kcistage_tree_identities", "gauge",
           "The last KernelCI tree's identities (retries once) by kind and result.",
           [({**labels, "kind": str(k), "result": str(r)}, float(n))
            for k, row in counts.items() if isinstance(row, Mapping)
            for r, n in row.items() if isinstance(n, (int, float)) and not isinstance(n, bool)])
    metric("kcistage_tree_regressions", "gauge",
           "Regressions of the last KernelCI tree against its baseline.",
           [(labels, float(_regression_total(tree.get("regressions") or [])))])
    metric("kcistage_tree_flaky", "gauge", "Flaky identities of the last KernelCI tree.",
           [(labels, float(_regression_total(tree.get("flaky") or [])))])


def render(doc: dict[str, Any], deployments: Mapping[tuple[str, str], int],
           last_success: Mapping[str, Any] | None, last_poll: datetime | None,
           rate: dict[str, Any] | None, deliveries: Mapping[str, int]) -> str:
    """The exposition text. `deployments` comes from DeploymentCounter, `last_success` is the
    newest successful deployment record, `rate` the tick's record of GitHub's rate-limit headers
    (None when unknown), `deliveries` the receiver's counts."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str,
               samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")

    success_at = _timestamp(last_success.get("finished")) if last_success else None
    if success_at is not None:
        metric("kcistage_last_success_timestamp_seconds", "gauge",
               "When the newest successful deployment finished (Unix time).", [({}, success_at)])
    if last_poll is not None:
        metric("kcistage_last_poll_timestamp_seconds", "gauge",
               "When a tick last polled GitHub successfully (Unix time).",
               [({}, last_poll.timestamp())])
    metric("kcistage_deployments_total", "counter",
           "Finished deployments by cycle and result, since this serve started.",
           [({"cycle": c, "result": r}, n) for (c, r), n in sorted(deployments.items())])
    prs = doc.get("prs") or []
    metric("kcistage_prs", "gauge", "Open pull requests by state.",
           [({"state": s}, sum(1 for p in prs if p.get("state") == s)) for s in PR_STATES])
    running = doc.get("running")
    metric("kcistage_running", "gauge", "1 while a deployment runs.", [({}, 1 if running else 0)])
    if running:
        metric("kcistage_running_seconds", "gauge", "How long the running deployment has run.",
               [({}, float(running.get("elapsed") or 0))])
    metric("kcistage_paused", "gauge", "1 while automatic cycles are paused.",
           [({}, 1 if doc.get("paused") else 0)])
    action = (doc.get("next") or {}).get("action")
    metric("kcistage_next_action", "gauge", "1 for the action the next tick would take.",
           [({"action": a}, 1 if a == action else 0) for a in ACTIONS])
    if rate and isinstance(rate.get("remaining"), int):
        metric("kcistage_github_rate_limit_remaining", "gauge",
               "GitHub API requests left in the current rate-limit window, as last seen.",
               [({}, rate["remaining"])])
    if running and running.get("waiting_seconds") is not None:
        metric("kcistage_waiting_seconds", "gauge",
               "How long the running deployment's step has waited between runs (a drain or a tree).",
               [({}, float(running["waiting_seconds"]))])
    _tree_metrics(doc, metric)
    metric("kcistage_webhook_deliveries_total", "counter",
           "Webhook deliveries received by this serve, by outcome.",
           [({"outcome": o}, deliveries.get(o, 0)) for o in DELIVERIES])
    return "\n".join(lines) + "\n"
