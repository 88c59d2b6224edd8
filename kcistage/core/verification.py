"""The test kernel's tree judged (pure): nodes read defensively, identities, counts, regressions, flaky.

Nodes come from the KernelCI API as raw JSON: nothing here trusts their shape. A node that
cannot be read is a `Problem` (never an exception); names are kept as sent and made printable
only where they are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kcistage.core.display import printable
from kcistage.core.state import TreeRecord

KINDS = ("checkout", "kbuild", "job", "test")  # counted; other kinds (process, regression) are not
RESULTS = ("pass", "fail", "skip", "incomplete")  # best first: retries count once, with the best
STATES = ("running", "available", "closing", "done")
UNFINISHED = frozenset(("running", "available", "closing"))
BROKEN = frozenset(("fail", "incomplete"))  # what a passing identity must not become
FLAKY_WINDOW = 5  # concluded trees looked back on to call an identity flaky
SHOWN = 10  # regressions named in a summary or a reason; then "and N more"
MAX_NAME = 200  # characters of an identity kept (names are untrusted and unbounded)


@dataclass(frozen=True)
class Node:
    """One node of a tree, as much of it as the judgement needs."""

    id: str
    kind: str
    path: tuple[str, ...]
    platform: str | None
    state: str  # one of STATES
    result: str | None  # one of RESULTS; None while not done

    @property
    def identity(self) -> str:
        """`kind:path/joined@platform`: what retries of one job or test share across trees."""
        text = f"{self.kind}:{'/'.join(self.path)}" + (f"@{self.platform}" if self.platform else "")
        return text[:MAX_NAME]


@dataclass(frozen=True)
class Problem:
    """A node the API sent that cannot be read: which one, which field, what it held."""

    index: int  # its position in the answer
    node: str  # its id when it has one
    field: str
    value: str  # the value as shown (printable, short)

    @property
    def text(self) -> str:
        """One line for people."""
        who = f"node {self.node}" if self.node else f"node #{self.index}"
        return f"{who}: {self.field} {self.value}"


@dataclass(frozen=True)
class Tree:
    """The nodes of one tree as read, with the nodes that could not be read."""

    nodes: tuple[Node, ...]
    problems: tuple[Problem, ...] = ()


def _shown(value: Any) -> str:
    text = "missing" if value is None else printable(repr(value) if not isinstance(value, str)
                                                      else f"'{value}'")
    return text if len(text) <= 60 else text[:57] + "..."


def parse_node(raw: Any, index: int = 0) -> Node | Problem:
    """A node from one raw item of a nodes answer, or the Problem that keeps it from being one."""
    if not isinstance(raw, Mapping):
        return Problem(index, "", "item", f"is {type(raw).__name__}, not an object")
    node_id = raw.get("id")
    ident = printable(node_id)[:40] if isinstance(node_id, str) else ""
    if not isinstance(node_id, str) or not node_id:
        return Problem(index, ident, "id", _shown(node_id))
    kind, state, result = raw.get("kind"), raw.get("state"), raw.get("result")
    if not isinstance(kind, str) or not kind:
        return Problem(index, ident, "kind", _shown(kind))
    if state not in STATES or not isinstance(state, str):
        return Problem(index, ident, "state", "unknown " + _shown(state))
    if result is not None and (result not in RESULTS or not isinstance(result, str)):
        return Problem(index, ident, "result", "unknown " + _shown(result))
    path = raw.get("path")
    if path is None:
        name = raw.get("name")
        path = [name] if isinstance(name, str) else None
    if not isinstance(path, list) or not path or not all(isinstance(p, str) for p in path):
        return Problem(index, ident, "path", _shown(path))
    data = raw.get("data")
    platform = data.get("platform") if isinstance(data, Mapping) else None
    return Node(id=node_id, kind=kind, path=tuple(path),
                platform=platform if isinstance(platform, str) and platform else None,
                state=state, result=result)


def parse_tree(items: Iterable[Any]) -> Tree:
    """Every item of the nodes answers of one tree, read; the unreadable ones as problems."""
    nodes: list[Node] = []
    problems: list[Problem] = []
    for i, raw in enumerate(items):
        parsed = parse_node(raw, i)
        if isinstance(parsed, Node):
            nodes.append(parsed)
        else:
            problems.append(parsed)
    return Tree(tuple(nodes), tuple(problems))


def checkout_node(tree: Tree) -> Node | None:
    """The tree's checkout node (its root), if read."""
    return next((n for n in tree.nodes if n.kind == "checkout"), None)


def is_complete(tree: Tree) -> bool:
    """Its checkout node is done and no node is running, available or closing."""
    root = checkout_node(tree)
    return root is not None and root.state == "done" and not unfinished(tree)


def unfinished(tree: Tree) -> list[Node]:
    """The nodes still running, available or closing."""
    return [n for n in tree.nodes if n.state in UNFINISHED]


def final_result(node: Node) -> str | None:
    """What a node concluded (a done node without a result did not conclude: incomplete)."""
    if node.state != "done":
        return None
    return node.result or "incomplete"


def results(tree: Tree) -> dict[str, str]:
    """identity -> its best concluded result among the nodes sharing it (retries count once)."""
    best: dict[str, str] = {}
    for node in tree.nodes:
        result = final_result(node)
        if node.kind not in KINDS or result is None:
            continue
        ident = node.identity
        if ident not in best or RESULTS.index(result) < RESULTS.index(best[ident]):
            best[ident] = result
    return best


def kind_of(identity: str) -> str:
    """The kind an identity names."""
    return identity.partition(":")[0]


def counts(per_identity: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """kind -> result -> identities, only the kinds and results there are, in a fixed order."""
    table: dict[str, dict[str, int]] = {}
    for ident, result in per_identity.items():
        row = table.setdefault(kind_of(ident), {})
        row[result] = row.get(result, 0) + 1
    return {k: {r: table[k][r] for r in RESULTS if r in table[k]} for k in KINDS if k in table}


def flaky(history: Sequence[Mapping[str, str]]) -> set[str]:
    """Identities that passed in some of the last FLAKY_WINDOW trees and failed or were incomplete in others.

    `history` holds the per-identity results of this step's concluded trees, oldest first."""
    window = history[-FLAKY_WINDOW:]
    passed: set[str] = set()
    broke: set[str] = set()
    for tree in window:
        for ident, result in tree.items():
            if result == "pass":
                passed.add(ident)
            elif result in BROKEN:
                broke.add(ident)
    return passed & broke


def _order(identity: str) -> tuple[int, str]:
    kind = kind_of(identity)
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), identity)


def regressions(baseline: Mapping[str, str], now: Mapping[str, str],
                flaky_ids: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(identity, what it is now: fail | incomplete | missing) for each identity that passed in
    the baseline and does not now, flaky identities left out; builds and checkouts first."""
    skip = set(flaky_ids)
    found = []
    for ident, was in baseline.items():
        if was != "pass" or ident in skip:
            continue
        is_now = now.get(ident, "missing")
        if is_now in BROKEN or is_now == "missing":
            found.append((ident, is_now))
    return sorted(found, key=lambda item: _order(item[0]))


def named(found: Sequence[tuple[str, str]], shown: int = SHOWN) -> list[str]:
    """The first `shown` regressions as `identity (now)`, then `... and N more`."""
    lines = [f"{printable(ident)} ({now})" for ident, now in found[:shown]]
    if len(found) > shown:
        lines.append(f"... and {len(found) - shown} more")
    return lines


def counts_text(table: Mapping[str, Mapping[str, int]]) -> str:
    """`kbuild 12 pass 1 fail, test 800 pass 3 skip`: the counts on one line."""
    parts = [f"{kind} " + " ".join(f"{n} {result}" for result, n in row.items())
             for kind, row in table.items() if row]
    return ", ".join(parts) or "no node concluded"


def first_baseline_ok(per_identity: Mapping[str, str]) -> bool:
    """With nothing to compare against, a tree is good when its checkout passed and a test passed."""
    checkout = [r for i, r in per_identity.items() if kind_of(i) == "checkout"]
    return bool(checkout) and all(r == "pass" for r in checkout) and any(
        r == "pass" for i, r in per_identity.items() if kind_of(i) == "test")


def short(commit: Any) -> str:
    """A kernel commit (or a treeid) as people read it: its first 12 characters."""
    return printable(commit)[:12] if commit else "unknown"


@dataclass(frozen=True)
class Verdict:
    """A complete tree judged: whether the step passed, its one-line summary and its record."""

    passed: bool
    summary: str
    tree: TreeRecord
    failure: str  # why it failed (for the deployment's reason), "" when it passed


def judge(tree: Tree, *, treeid: str, commit: str | None, baseline_id: int | None,
          baseline: Mapping[str, str] | None, history: Sequence[Mapping[str, str]],
          max_regressions: int, informational: bool = False) -> Verdict:
    """A complete tree judged against the baseline's per-identity results (None: no baseline yet).

    `informational`: the kernel moved and the software did not, so regressions are listed for
    information and never fail the step (the tree becomes the new baseline)."""
    now = results(tree)
    seen = set(now) | set(baseline or {})
    flaky_ids = sorted(flaky(history) & seen, key=_order) if baseline is not None else []
    found = regressions(baseline, now, flaky_ids) if baseline is not None else []
    record: TreeRecord = {
        "treeid": treeid, "commit": commit, "baseline": baseline_id, "counts": counts(now),
        "regressions": named(found),
        "flaky": [printable(i) for i in flaky_ids[:SHOWN]]
        + ([f"... and {len(flaky_ids) - SHOWN} more"] if len(flaky_ids) > SHOWN else []),
        "mode": "first" if baseline is None else "new_baseline" if informational else "compare",
    }
    head = f"kernel {short(commit)}: {counts_text(record['counts'])}"
    flaky_note = f"; {len(flaky_ids)} flaky" if flaky_ids else ""
    if baseline is None:
        if first_baseline_ok(now):
            return Verdict(True, f"{head}; first baseline", record, "")
        why = "no baseline yet, and the checkout did not pass or no test passed"
        return Verdict(False, f"{head}; {why}", record, why)
    against = f"against deployment {baseline_id}" if baseline_id is not None else "against the baseline"
    if not found:
        return Verdict(True, f"{head}; no regression {against}{flaky_note}", record, "")
    listed = ", ".join(record["regressions"])
    words = f"{len(found)} regression{'s' if len(found) != 1 else ''} {against}: {listed}"
    if informational:
        return Verdict(True, f"{head}; new baseline (the kernel moved); {words}{flaky_note}",
                       record, "")
    if len(found) <= max_regressions:
        return Verdict(True, f"{head}; {words} (at most {max_regressions} allowed){flaky_note}",
                       record, "")
    return Verdict(False, f"{head}; {words}{flaky_note}", record, words)


def not_done_text(tree: Tree, shown: int = 5) -> str:
    """The nodes still not done and their states, for a timed-out tree's reason."""
    left = sorted(unfinished(tree), key=lambda n: _order(n.identity))
    if not left:
        root = checkout_node(tree)
        return "no checkout node" if root is None else f"checkout node {root.state}"
    text = ", ".join(f"{printable(n.identity)} ({n.state})" for n in left[:shown])
    more = f" and {len(left) - shown} more" if len(left) > shown else ""
    return f"{len(left)} node{'s' if len(left) != 1 else ''} not done: {text}{more}"


def progress_text(tree: Tree) -> str:
    """What a waiting tree has shown so far, on one line."""
    done = sum(1 for n in tree.nodes if n.state == "done")
    return f"{done} of {len(tree.nodes)} nodes done; {counts_text(counts(results(tree)))}"
