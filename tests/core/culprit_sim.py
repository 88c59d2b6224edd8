"""A simulated staging for the culprit search: drives kcistage.core.culprit the way the engine does.

Suspects are api PRs 1..n (index i is PR i + 1); the last good deployment holds api PR 100 and
pipeline PR 200, which stay in every candidate. A candidate fails when the base is broken or it
holds a faulty suspect. Used by tests/core/test_culprit.py and tests/benchmarks/bench_culprit.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcistage.core import culprit
from kcistage.core.culprit import End, Move


def sha(n: int) -> str:
    return f"{n:040x}"


def target(api: list[int], pipeline: list[int] = (200,)) -> dict:  # type: ignore[assignment]
    return {"api": {"base": "a" * 40, "prs": [[n, sha(n)] for n in sorted(api)]},
            "pipeline": {"base": "b" * 40, "prs": [[n, sha(n)] for n in sorted(pipeline)]}}


@dataclass
class Segment:
    """One search of the chain: its suspects, whether its base was fresh, deployments it made."""

    n: int
    checked: bool
    deployments: int = 0


@dataclass
class Outcome:
    """How a simulated search went."""

    deployments: int = 0
    blamed: list[int] = field(default_factory=list)  # suspect indexes, in blame order
    end: End | None = None  # why it stopped without blame (None: staging good again)
    segments: list[Segment] = field(default_factory=list)
    targets: list[dict] = field(default_factory=list)  # every deployed target, in order
    reasons: list[str] = field(default_factory=list)  # describe() before each deployment


def simulate(n: int, bad: set[int], base_broken: bool = False,
             leaves: dict[int, list[int]] | None = None,
             needs: dict[int, list[int]] | None = None) -> Outcome:
    """Run a search over n suspects; `leaves` maps a deployment count to suspects leaving then;
    `needs` maps a suspect index to the indexes it depends on (Depends-On): a PR is eligible
    only with them, and a candidate holding a PR without one would fail (it never may)."""
    leaves = leaves or {}
    needs = needs or {}
    left: set[int] = set(leaves.get(0, []))
    blamed: set[int] = set()
    keyed = {f"api#{i + 1}": [f"api#{d + 1}" for d in deps] for i, deps in needs.items()}

    def fails(t: dict) -> bool:
        held = {(repo, int(k), s) for repo, e in t.items() for k, s in e["prs"]}
        numbers = {k for repo, k, _ in held if repo == "api"}
        assert all(d + 1 in numbers for i, deps in needs.items() if i + 1 in numbers for d in deps), \
            "a PR deployed without a PR it depends on"
        return base_broken or any(("api", i + 1, sha(i + 1)) in held for i in bad)

    def eligible() -> dict:
        ok = {i for i in range(n) if i not in left and i not in blamed}
        while True:  # a PR waits for what it depends on (a cycle: all or none)
            keep = {i for i in ok if all(d in ok for d in needs.get(i, ()))}
            if keep == ok:
                break
            ok = keep
        return target([100] + [i + 1 for i in sorted(ok)])

    good = target([100])
    failed = target([100] + list(range(1, n + 1)))
    deployments = [{"id": 1, "result": "success", "target": good},
                   {"id": 2, "result": "failed", "target": failed}]
    out = Outcome()
    search = culprit.start(2, failed, good, "partial", "restart", ("restart",), eligible(), good_id=1,
                           needs=keyed)
    assert search is not None
    out.segments.append(Segment(len(search.suspects), search.checked))

    def deploy(t: dict, probe: int | None) -> bool:
        assert search is not None
        out.reasons.append(culprit.describe(search))
        ok = not fails(t)
        deployments.append({"id": len(deployments) + 1, "result": "success" if ok else "failed",
                            "target": t, "search": {"probe": probe}})
        out.deployments += 1
        out.segments[-1].deployments += 1
        out.targets.append(t)
        left.update(leaves.get(out.deployments, []))
        return ok

    for _ in range(10 * n + 20):
        search = culprit.keep_eligible(search, eligible())
        move = culprit.next_move(search)
        if move.move is Move.PROBE:
            assert move.k is not None
            ok = deploy(culprit.candidate(search, move.k), move.k)
            search = culprit.record(search, move.k, ok, deployments[-1]["id"])
        elif move.move is Move.BLAME:
            search, suspect, failing, passing = culprit.blame(search)
            assert deployments[failing - 1]["result"] == "failed"
            assert passing is not None and deployments[passing - 1]["result"] == "success"
            with_it = {tuple(p) for p in deployments[failing - 1]["target"]["api"]["prs"]}
            without = {tuple(p) for p in deployments[passing - 1]["target"]["api"]["prs"]}
            assert with_it - without == {(n, h) for _, n, h in suspect.commits()} and without < with_it
            for _, number, _ in suspect.commits():
                blamed.add(number - 1)
                out.blamed.append(number - 1)
        elif move.move is Move.REST:
            rest = eligible()
            if culprit.skip_rest(rest, deployments[-1]):
                return out
            if deploy(rest, None):
                return out
            last_good = next(d for d in reversed(deployments) if d["result"] == "success")
            chained = culprit.start(deployments[-1]["id"], rest, last_good["target"], "partial",
                                    "restart", ("restart",), eligible(), chain=search,
                                    good_in_chain=last_good["id"] > search.started_id,
                                    good_id=last_good["id"], needs=keyed)
            if chained is None:
                out.end = End.BASE_FAILS
                return out
            search = chained
            out.segments.append(Segment(len(search.suspects), search.checked))
        else:
            out.end = move.end
            return out
    raise AssertionError("the search did not end")
