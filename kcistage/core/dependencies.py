"""Cross-repository changes: `Depends-On:` lines of a PR description and their effect on eligibility.

One-way as in Zuul: a PR waits for the PRs it names; PRs naming each other form a unit that
enters together.

Keys are `<repo>#<n>` with the short repo name of the configuration. Work is bounded: a
description is scanned once (linear regular expressions, no backtracking between lines), at most
MAX_REFS references are kept, and every reason is one short line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from kcistage.core.enums import Cause, PrState
from kcistage.core.settings import Repo
from kcistage.core.trust import Verdict

MAX_REFS = 10  # references kept per PR; more is a mistake (or an attack), said in one line
MAX_REASON = 160  # a reason longer than this (chains of waits) is cut
MAX_SHOWN = 40  # longest piece of description text a reason may repeat

_LINE = re.compile(r"^[ \t]*depends-on[ \t]*:[ \t]*([^\r\n]*)\r?$", re.IGNORECASE | re.MULTILINE)
_NAME = r"[A-Za-z0-9_.-]{1,100}"
_SHORT = re.compile(rf"^(?P<repo>{_NAME}(?:/{_NAME})?)#(?P<n>[0-9]{{1,9}})$")
_URL = re.compile(rf"^https?://[A-Za-z0-9.-]{{1,253}}(?::[0-9]{{1,5}})?/(?P<owner>{_NAME})/"
                  rf"(?P<name>{_NAME})/pulls?/(?P<n>[0-9]{{1,9}})(?:[/?#][^\s]*)?$")


@dataclass(frozen=True)
class Parsed:
    """The references of one description (as written: `name#n` or `owner/name#n`, lowercased),
    or the one-line problem that makes the PR's dependencies unreadable."""

    refs: tuple[str, ...] = ()
    problem: str = ""


def shown(text: str) -> str:
    """Untrusted text made safe to repeat in a reason: printable, no markup quotes, short."""
    cleaned = "".join(ch for ch in text if ch.isprintable() and ch not in "`<>\"'")
    return cleaned[:MAX_SHOWN] + ("…" if len(cleaned) > MAX_SHOWN else "")


def _ref(value: str) -> str | None:
    """`repo#n` / `owner/name#n` from one reference, or None when it is not one."""
    value = value.strip().strip("<>").strip()
    match = _SHORT.match(value)
    if match:
        return f"{match['repo'].lower()}#{int(match['n'])}"
    match = _URL.match(value)
    if match:
        return f"{match['owner'].lower()}/{match['name'].lower()}#{int(match['n'])}"
    return None


def parse(body: str) -> Parsed:
    """The `Depends-On:` references of a PR description (case-insensitive key, several lines)."""
    refs: list[str] = []
    lines = 0
    for match in _LINE.finditer(body):
        lines += 1
        if lines > MAX_REFS:
            continue  # counted only: the problem below says how many
        value = match[1].strip()
        ref = _ref(value)
        if ref is None:
            return Parsed(problem=f"Depends-On: cannot read {shown(value) or '(empty)'}")
        if ref not in refs:
            refs.append(ref)
    if lines > MAX_REFS:
        return Parsed(problem=f"Depends-On: {lines} lines (at most {MAX_REFS})")
    return Parsed(refs=tuple(refs))


def resolve(ref: str, repos: Sequence[Repo]) -> str | None:
    """The key (`<short name>#<n>`) of a reference in a configured repo, or None."""
    repo, _, number = ref.rpartition("#")
    for candidate in repos:
        if repo in (candidate.name.lower(), candidate.github.lower()):
            return f"{candidate.name}#{number}"
    return None


class Outside(StrEnum):
    """What GitHub says of a dependency that is not among the open PRs."""

    MERGED = "merged"  # merged into its repo's configured base: satisfied
    CLOSED = "closed"  # closed unmerged (or merged into another branch)
    MISSING = "missing"  # no such pull request
    UNKNOWN = "unknown"  # not looked up (yet)


@dataclass(frozen=True)
class Needs:
    """One PR's dependencies: keys of configured repos, or the problem that makes it skipped."""

    keys: tuple[str, ...] = ()
    problem: str = ""


def needs(key: str, refs: Sequence[str], problem: str, repos: Sequence[Repo]) -> Needs:
    """Resolve a PR's references against the configured repos (a line naming itself is ignored)."""
    if problem:
        return Needs(problem=problem)
    keys: list[str] = []
    for ref in refs:
        found = resolve(ref, repos)
        if found is None:
            return Needs(problem=f"Depends-On {shown(ref)}: repo not configured")
        if found != key and found not in keys:
            keys.append(found)
    return Needs(keys=tuple(keys))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def waits_reason(on: str, reason: str) -> str:
    """`waits for <repo>#<n>: <its reason>`, cut to one short line."""
    return _cut(f"waits for {on}: {reason}")


def _waits(on: str, reason: str) -> Verdict:
    return Verdict(False, PrState.PENDING, waits_reason(on, reason), Cause.WAITS)


def _skipped(reason: str) -> Verdict:
    return Verdict(False, PrState.SKIPPED, _cut(reason), Cause.DEPENDS_ON)


_OUTSIDE_WORDS = {Outside.CLOSED: "closed unmerged", Outside.MISSING: "no such pull request"}


def units(edges: Mapping[str, Sequence[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of the dependency graph, dependencies first (Tarjan,
    iterative: no recursion limit whatever the chain length). Members sorted by key."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[tuple[str, ...]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = [d for d in edges.get(node, ()) if d in edges]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:  # returning to the parent: it takes the child's low link
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    members.append(top)
                    if top == node:
                        break
                found.append(tuple(sorted(members, key=sort_key)))
    return found


def sort_key(key: str) -> tuple[str, int]:
    """Keys in merge order: by repo, then PR number."""
    repo, _, number = key.rpartition("#")
    return repo, int(number) if number.isdigit() else 0


@dataclass(frozen=True)
class Judged:
    """Every PR's verdict once dependencies count, and the units (cycles) of two or more."""

    verdicts: dict[str, Verdict]
    groups: dict[str, tuple[str, ...]]  # key -> the members of its cycle (only for cycles)


def apply(verdicts: Mapping[str, Verdict], wanted: Mapping[str, Needs],
          outside: Mapping[str, Outside]) -> Judged:
    """The verdicts once dependencies count.

    `verdicts` are the open PRs' own verdicts (trust, exclusions, own checks); `wanted` their
    resolved dependencies; `outside` what GitHub says of dependencies that are not open PRs.
    A PR whose dependency is not eligible is pending, waiting for it; a unit (cycle) is eligible
    only when all its members are, and every member waits for the first one that is not."""
    final: dict[str, Verdict] = dict(verdicts)
    edges: dict[str, list[str]] = {key: [] for key in verdicts}
    for key, need in wanted.items():
        if key not in verdicts:
            continue
        if need.problem:
            if verdicts[key].eligible:
                final[key] = _skipped(need.problem)
            continue
        for dep in need.keys:
            if dep in verdicts:
                edges[key].append(dep)  # every edge, so that a cycle is seen whatever else holds
                continue
            state = outside.get(dep, Outside.UNKNOWN)
            if state is Outside.MERGED or not final[key].eligible:
                continue  # satisfied, or the PR is out already for its first reason
            if state is Outside.UNKNOWN:
                final[key] = _waits(dep, "not looked up yet")
            else:
                final[key] = _skipped(f"Depends-On {dep}: {_OUTSIDE_WORDS[state]}")
    groups: dict[str, tuple[str, ...]] = {}
    for unit in units(edges):
        if len(unit) > 1:
            groups.update({member: unit for member in unit})
        members = set(unit)
        blocker: tuple[str, str] | None = next(
            ((m, final[m].reason) for m in unit if not final[m].eligible), None)
        for member in unit:
            for dep in edges[member]:
                if dep not in members and not final[dep].eligible:
                    if final[member].eligible:
                        final[member] = _waits(dep, final[dep].reason)
                    blocker = blocker or (member, final[member].reason)
                    break
        if blocker is not None:
            for member in unit:
                if final[member].eligible:
                    final[member] = _waits(blocker[0], blocker[1])
    return Judged(final, groups)


def closure(out: set[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
    """`out` and every PR that depends on one of them, directly or not (they cannot go without)."""
    dependents: dict[str, list[str]] = {}
    for key, deps in edges.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(key)
    found, todo = set(out), list(out)
    while todo:
        for other in dependents.get(todo.pop(), ()):
            if other not in found:
                found.add(other)
                todo.append(other)
    return found
