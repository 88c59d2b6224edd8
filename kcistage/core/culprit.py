"""The culprit search after a failed deployment, as pure functions over a typed, JSON-able state.

Suspects are the PR commits of the failed target that were not in the last successful deployment,
in merge order. Candidate k is "last good + the first k suspects": the failed target's bases and
its PRs that are not suspects (the "base" of the search, candidate 0), plus suspects[:k]; so
candidate n is the failed target itself, which is known to fail.

The search collects evidence, one deployment per candidate: `results` maps a prefix length k to
whether candidate k succeeded. With hi the smallest failing k and lo the largest succeeding k
below it (0 when none: the last good deployment), it deploys the middle of (lo, hi) until hi =
lo + 1. suspects[hi - 1] is then blamed, but only on evidence: candidate hi failed and candidate
lo succeeded *in this search*; when lo is 0 and the base was not deployed by this search, it is
deployed first ("last good" re-checked), and if it fails nobody is blamed: staging fails without
any new PR. A blamed culprit is excluded, then the target without it is deployed (the "rest");
when that fails too, a new search starts from that failure among the suspects after the culprit
(its base, candidate lo, was deployed by this search, so it needs no re-check).

Suspects must stay eligible at the same SHA: one that leaves (closed, pushed over, labelled,
unapproved) leaves the search, and every result whose candidate held it is dropped. With no
failing candidate left, the whole remaining prefix is deployed again to re-establish the failure.

Budget: ceil(log2 n) candidates narrow (0, n] to one suspect, plus the rest deployment, plus one
when "last good" must be re-checked: at most ceil(log2 n) + 1 (+ 1) deployments per culprit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from kcistage.core.dependencies import closure, units
from kcistage.core.enums import DeployResult
from kcistage.core.model import Target

Commit = tuple[str, int, str]  # (repo, number, sha)


@dataclass(frozen=True)
class Suspect:
    """One PR commit under suspicion, with the rest of its Depends-On cycle (one suspect)."""

    repo: str
    number: int
    sha: str
    members: tuple[Commit, ...] = ()  # the other PRs of its cycle: they enter and leave with it
    needs: tuple[tuple[str, int], ...] = ()  # (repo, number) of the suspects it depends on

    @property
    def ref(self) -> str:
        """`<repo>#<number>` (a cycle: each member, joined by +), as said to people."""
        return " + ".join(f"{r}#{n}" for r, n, _ in self.commits())

    def key(self) -> Commit:
        """A hashable identity (repo, number, sha)."""
        return (self.repo, self.number, self.sha)

    def commits(self) -> tuple[Commit, ...]:
        """Every PR commit of this suspect (itself first)."""
        return (self.key(), *self.members)

    def row(self) -> list[Any]:
        """Its JSON row: [repo, number, sha] (+ [members, needs] when it has some)."""
        head: list[Any] = list(self.key())
        if self.members or self.needs:
            head += [[list(m) for m in self.members], [list(x) for x in self.needs]]
        return head

    @classmethod
    def from_row(cls, row: list[Any]) -> Suspect:
        """The inverse of row()."""
        repo, number, sha = str(row[0]), int(row[1]), str(row[2])
        if len(row) == 3:
            return cls(repo, number, sha)
        _, _, _, members, needs = row
        return cls(repo, number, sha, tuple((str(r), int(n), str(h)) for r, n, h in members),
                   tuple((str(r), int(n)) for r, n in needs))


class Move(StrEnum):
    """What the search wants next."""

    PROBE = "probe"  # deploy candidate k
    BLAME = "blame"  # exclude `culprit` (the evidence is in)
    REST = "rest"  # deploy the eligible target, which no longer holds the culprit
    END = "end"  # stop: see `End`


class End(StrEnum):
    """Why a search ended without (further) blame."""

    BASE_FAILS = "staging fails without any new PR"
    ALL_LEFT = "no suspect is left: they were closed, pushed over, labelled or unapproved"
    PASSES = "staging succeeds without the suspects that left"


@dataclass(frozen=True)
class Next:
    """The search's next move: a candidate to deploy, a culprit to blame, or its end."""

    move: Move
    k: int | None = None  # PROBE: the prefix length to deploy
    culprit: Suspect | None = None  # BLAME
    end: End | None = None  # END


@dataclass(frozen=True)
class Search:
    """A culprit search in progress (stored in the state file as to_json())."""

    failed_id: int  # the deployment whose failure is searched
    cycle: str  # its cycle: every candidate runs it
    upto: str | None  # the step that failed: candidates stop after it (None: run them all)
    ran: tuple[str, ...]  # the steps the failed deployment ran (candidates run the same ones)
    base: Target  # candidate 0: the failed bases and the PRs that are not suspects
    suspects: tuple[Suspect, ...]  # still eligible, in merge order
    results: tuple[tuple[int, bool, int], ...]  # (k, candidate k succeeded, deployment id)
    good_id: int | None = None  # the last good deployment (candidate 0 before any re-check)
    checked: bool = False  # candidate 0 was deployed by this search chain (no re-check needed)
    used: int = 0  # deployments made by this search chain
    culprits: tuple[Suspect, ...] = ()  # blamed by this search chain, in order
    rest: bool = False  # the last culprit is blamed: the target without it comes next
    started_id: int = 0  # the failed deployment that started the chain
    departed: tuple[Suspect, ...] = field(default=())  # suspects that left, for the record

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "failed_id": self.failed_id, "cycle": self.cycle, "upto": self.upto,
            "ran": list(self.ran), "base": self.base,
            "suspects": [s.row() for s in self.suspects],
            "results": [[k, ok, i] for k, ok, i in self.results], "good_id": self.good_id,
            "checked": self.checked,
            "used": self.used, "culprits": [s.row() for s in self.culprits],
            "rest": self.rest, "started_id": self.started_id,
            "departed": [s.row() for s in self.departed],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Search:
        """The inverse of to_json; KeyError/TypeError/ValueError on anything else."""

        def suspects(rows: list[list[Any]]) -> tuple[Suspect, ...]:
            return tuple(Suspect.from_row(row) for row in rows)

        return cls(
            failed_id=int(data["failed_id"]), cycle=str(data["cycle"]),
            upto=data["upto"] if data["upto"] is None else str(data["upto"]),
            ran=tuple(str(s) for s in data["ran"]), base=_copy(data["base"]),
            suspects=suspects(data["suspects"]),
            results=tuple((int(k), bool(ok), int(i)) for k, ok, i in data["results"]),
            good_id=None if data["good_id"] is None else int(data["good_id"]),
            checked=bool(data["checked"]), used=int(data["used"]),
            culprits=suspects(data["culprits"]), rest=bool(data["rest"]),
            started_id=int(data["started_id"]), departed=suspects(data.get("departed", [])),
        )


def _copy(target: Target) -> Target:
    return {name: {"base": e["base"], "prs": [[int(n), sha] for n, sha in e["prs"]]}
            for name, e in target.items()}


def _commits(target: Target | None) -> set[tuple[str, int, str]]:
    return {(name, int(n), sha) for name, e in (target or {}).items() for n, sha in e["prs"]}


def suspects(failed: Target, good: Target | None,
             needs: Mapping[str, Sequence[str]] | None = None) -> tuple[Suspect, ...]:
    """PR commits of `failed` absent from `good` (same repo, number and sha), in merge order;
    with `needs` (`<repo>#<n>` -> the keys it depends on): a PR of `failed` depending on a
    suspect is a suspect too, a cycle is one suspect, and a suspect comes after those it needs."""
    known = _commits(good)
    order = [(name, int(n), sha) for name, e in failed.items() for n, sha in e["prs"]]
    new = [c for c in order if c not in known]
    if not needs:
        return tuple(Suspect(*c) for c in new)
    by_key = {f"{r}#{n}": (r, n, h) for r, n, h in order}
    edges = {k: [d for d in needs.get(k, ()) if d in by_key] for k in by_key}
    held = closure({f"{r}#{n}" for r, n, _ in new}, edges)
    rank = {f"{r}#{n}": i for i, (r, n, _) in enumerate(order)}
    inside = {k: [d for d in edges[k] if d in held] for k in held}
    placed: list[Suspect] = []
    for unit in units(inside):  # dependencies first; then stably by merge order below
        lead, *rest = sorted(unit, key=rank.__getitem__)
        after = sorted({(by_key[d][0], by_key[d][1]) for m in unit for d in inside[m] if d not in unit})
        placed.append(Suspect(*by_key[lead], members=tuple(by_key[m] for m in rest), needs=tuple(after)))
    return _stable(placed, rank)


def _stable(placed: list[Suspect], rank: Mapping[str, int]) -> tuple[Suspect, ...]:
    """Suspects in merge order, except that each comes after the suspects it needs."""
    todo = sorted(placed, key=lambda s: rank[f"{s.repo}#{s.number}"])
    done: list[Suspect] = []
    seen: set[tuple[str, int]] = set()
    while todo:
        pick = next(s for s in todo if all(x in seen for x in s.needs))
        todo.remove(pick)
        done.append(pick)
        seen.update((r, n) for r, n, _ in pick.commits())
    return tuple(done)


def start(failed_id: int, failed: Target, good: Target | None, cycle: str,
          failed_step: str | None, ran: tuple[str, ...] | list[str], eligible: Target | None,
          chain: Search | None = None, good_in_chain: bool = False,
          good_id: int | None = None,
          needs: Mapping[str, Sequence[str]] | None = None) -> Search | None:
    """A search for the failure of deployment `failed_id`; None when it added no PR to blame.

    `chain` is the search whose rest deployment failed: this one goes on from it, counting its
    deployments and culprits. Its base needs no re-check when it is exactly the last good
    target and that was deployed by the chain (`good_in_chain`)."""
    found = suspects(failed, good, needs)
    if not found:
        return None
    held = {c for s in found for c in s.commits()}
    base = {name: {"base": e["base"],
                   "prs": [[int(n), sha] for n, sha in e["prs"] if (name, int(n), sha) not in held]}
            for name, e in failed.items()}
    checked = chain is not None and good_in_chain and good is not None and _copy(good) == base
    search = Search(failed_id=failed_id, cycle=cycle, upto=failed_step, ran=tuple(ran), base=base,
                    suspects=found, results=((len(found), False, failed_id),), checked=checked,
                    good_id=good_id,
                    used=chain.used + 1 if chain else 0,  # + the rest deployment that failed
                    culprits=chain.culprits if chain else (),
                    started_id=chain.started_id if chain else failed_id)
    return keep_eligible(search, eligible) if eligible is not None else search


def keep_eligible(search: Search, eligible: Target) -> Search:
    """Drop the suspects no longer eligible at the same SHA, and every result that held one."""
    now = _commits(eligible)
    gone: list[int] = []
    out: set[tuple[str, int]] = set()
    for i, s in enumerate(search.suspects):  # needs come first: a dependent leaves with them
        if any(c not in now for c in s.commits()) or any(x in out for x in s.needs):
            gone.append(i)
            out.update((r, n) for r, n, _ in s.commits())
    if not gone:
        return search
    first = gone[0]  # candidates up to `first` suspects are unchanged; later ones held a leaver
    return replace(search,
                   suspects=tuple(s for i, s in enumerate(search.suspects) if i not in gone),
                   results=tuple(r for r in search.results if r[0] <= first),
                   departed=search.departed + tuple(search.suspects[i] for i in gone))


def candidate(search: Search, k: int) -> Target:
    """Candidate k: the search's base plus the first k suspects, PRs in ascending number."""
    out = _copy(search.base)
    for s in search.suspects[:k]:
        for repo, number, sha in s.commits():
            out.setdefault(repo, {"base": "", "prs": []})["prs"].append([number, sha])
    for entry in out.values():
        entry["prs"].sort()
    return out


def _bounds(search: Search) -> tuple[int, int | None]:
    """(lo, hi): the largest succeeding k below hi (0 by default) and the smallest failing k."""
    failing = [k for k, ok, _ in search.results if not ok]
    hi = min(failing) if failing else None
    passing = [k for k, ok, _ in search.results if ok and (hi is None or k < hi)]
    return (max(passing) if passing else 0), hi


def _known(search: Search, k: int) -> bool | None:
    """Whether candidate k succeeded (None: not deployed by this search)."""
    return next((ok for j, ok, _ in search.results if j == k), None)


def _fresh_base(search: Search) -> bool:
    return search.checked or _known(search, 0) is True


def next_move(search: Search) -> Next:
    """The search's next move from the evidence so far."""
    if search.rest:
        return Next(Move.REST)
    if _known(search, 0) is False:
        return Next(Move.END, end=End.BASE_FAILS)
    n = len(search.suspects)
    if n == 0:
        return Next(Move.END, end=End.ALL_LEFT)
    lo, hi = _bounds(search)
    if hi is None:
        if _known(search, n) is True:
            return Next(Move.END, end=End.PASSES)
        return Next(Move.PROBE, k=n)  # suspects left: does the rest still fail?
    if hi - lo > 1:
        return Next(Move.PROBE, k=(lo + hi) // 2)
    if lo == 0 and not _fresh_base(search):
        return Next(Move.PROBE, k=0)  # re-check "last good" before blaming the first suspect
    return Next(Move.BLAME, culprit=search.suspects[hi - 1])


def record(search: Search, k: int, ok: bool, deploy_id: int) -> Search:
    """The search after candidate k was deployed (as `deploy_id`) with result `ok`."""
    if search.rest:
        raise ValueError("culprit search: the rest deployment is not a candidate")
    results = tuple(r for r in search.results if r[0] != k) + ((k, bool(ok), deploy_id),)
    return replace(search, results=results, used=search.used + 1)


def blame(search: Search) -> tuple[Search, Suspect, int, int | None]:
    """Blame the culprit next_move names: (the search, now waiting for its rest deployment; the
    culprit; the deployment that failed with it; the one that succeeded without it)."""
    move = next_move(search)
    if move.move is not Move.BLAME or move.culprit is None:
        raise ValueError(f"culprit search: nothing to blame yet ({move.move})")
    lo, hi = _bounds(search)
    failing = next(i for k, ok, i in search.results if k == hi and not ok)
    passing = next((i for k, ok, i in search.results if k == lo and ok), search.good_id)
    others = tuple(s for s in search.suspects if s != move.culprit)  # it is out of staging now
    return (replace(search, rest=True, suspects=others, culprits=search.culprits + (move.culprit,)),
            move.culprit, failing, passing)


def skip_rest(eligible: Target, last: Mapping[str, Any] | None) -> bool:
    """The rest deployment is not needed: it equals a candidate that just succeeded."""
    return bool(last and last.get("search", {}).get("probe") is not None
                and last["result"] == DeployResult.SUCCESS and last["target"] == eligible)


def remaining(search: Search) -> int:
    """At most how many more deployments the current culprit can take."""
    if search.rest:
        return 1
    move = next_move(search)
    if move.move is Move.END:
        return 0
    lo, hi = _bounds(search)
    probes = 1 + _log2(len(search.suspects)) if hi is None else _log2(hi - lo)
    recheck = 0 if lo > 0 or _fresh_base(search) else 1
    return probes + recheck + 1


def budget(n: int, checked: bool = False) -> int:
    """The most deployments one culprit among n suspects may take: ceil(log2 n) + 1 (+ 1)."""
    return _log2(n) + 1 + (0 if checked else 1)


def _log2(n: int) -> int:
    return math.ceil(math.log2(n)) if n > 1 else 0


def describe(search: Search) -> str:
    """`culprit search: deployment 2 of at most 4; suspects: api#3, api#4` (status's reason)."""
    text = (f"culprit search: deployment {search.used + 1} of at most "
            f"{search.used + remaining(search)}")
    if search.rest and search.culprits:
        return f"{text}: the target without the culprit {search.culprits[-1].ref}"
    return f"{text}; suspects: {', '.join(s.ref for s in search.suspects) or 'none left'}"
