"""Culprit search of SPEC section 8 as pure functions over plain, JSON-able dicts.

Suspects are the PR commits (repo, number, sha) of the failed target that were not in the last
successful deployment, in merge order. With n suspects, k = n is taken to fail; a binary search
over k in [1, n] deploys "last good + the first k suspects" (k = 0 is the last good itself) and
finds the smallest failing k in at most ceil(log2 n) deployments. A culprit whose own candidate
was seen failing is *confirmed*; one found without that (a single suspect, or k = n never
deployed by the search) is only presumed, and the engine lifts the blame when staging still
fails without it (the failure then came with the base or a full-cycle-only step). The state is
a plain dict (stored as is in the JSON state file):

    {"failed": <target>, "good": <target> | None, "suspects": [[repo, number, sha], ...],
     "lo": 1, "hi": n, "culprit": None | [repo, number, sha], "tried": [[k, ok], ...]}"""

from __future__ import annotations

from typing import Any

from kcistage.core.model import Target

Suspect = list  # [repo, number, sha]


def _key(repo: str, number: int, sha: str) -> tuple[str, int, str]:
    # Tuples so JSON round-tripped lists compare equal to fresh ones.
    return (repo, int(number), sha)


def suspects(failed: Target, good: Target | None) -> list[list]:
    """PR commits of `failed` absent from `good` (same repo, number and sha), in merge order."""
    known = set()
    for repo, part in (good or {}).items():
        known.update(_key(repo, n, sha) for n, sha in part["prs"])
    return [
        [repo, int(n), sha]
        for repo, part in failed.items()
        for n, sha in part["prs"]
        if _key(repo, n, sha) not in known
    ]


def start(failed: Target, good: Target | None) -> dict[str, Any] | None:
    """A new search for the failure of `failed`; None when no PR can be blamed."""
    found = suspects(failed, good)
    if not found:
        return None
    search: dict[str, Any] = {
        "failed": failed, "good": good, "suspects": found, "lo": 1, "hi": len(found),
        "culprit": None, "tried": [],
    }
    if len(found) == 1:
        search["culprit"] = found[0]  # one suspect: it is the culprit, nothing to search
    return search


def _mid(search: dict[str, Any]) -> int:
    return (int(search["lo"]) + int(search["hi"])) // 2


def candidate(search: dict[str, Any]) -> Target:
    """The next target to try: the last good target plus the first mid suspects.

    Without a last good deployment, the failed target minus the suspects stands in for it."""
    if search.get("culprit") is not None:
        raise ValueError("culprit search: already finished, no candidate left")
    listed = search["suspects"]
    added = listed[: _mid(search)]
    suspected = {_key(*s) for s in listed}
    good = search.get("good")
    out: Target = {}
    for repo, part in search["failed"].items():
        if good is not None and repo in good:
            base, prs = good[repo]["base"], [list(p) for p in good[repo]["prs"]]
        else:
            base = part["base"]
            prs = [[n, sha] for n, sha in part["prs"] if _key(repo, n, sha) not in suspected]
        numbers = {int(r[1]) for r in added if r[0] == repo}
        prs = [p for p in prs if int(p[0]) not in numbers]
        prs += [[int(r[1]), r[2]] for r in added if r[0] == repo]
        out[repo] = {"base": base, "prs": sorted(prs)}
    return out


def confirmed(search: dict[str, Any]) -> bool:
    """Whether the culprit's own candidate was deployed and failed during the search."""
    culprit = search.get("culprit")
    if culprit is None:
        return False
    k = [_key(*s) for s in search["suspects"]].index(_key(*culprit)) + 1
    return any(int(t) == k and not ok for t, ok in search.get("tried", []))


def advance(search: dict[str, Any], ok: bool) -> dict[str, Any]:
    """The search after deploying candidate(search) gave `ok`; sets "culprit" when found."""
    if search.get("culprit") is not None:
        raise ValueError("culprit search: already finished, nothing to advance")
    mid = _mid(search)
    lo, hi = (mid + 1, int(search["hi"])) if ok else (int(search["lo"]), mid)
    result = dict(search, lo=lo, hi=hi, tried=[*search.get("tried", []), [mid, bool(ok)]])
    if lo >= hi:
        result["culprit"] = search["suspects"][hi - 1]
    return result


def without(target: Target, repo: str, number: int) -> Target:
    """A copy of `target` with PR `number` of `repo` removed (the rest unchanged)."""
    return {
        name: {
            "base": part["base"],
            "prs": [
                [n, sha] for n, sha in part["prs"] if not (name == repo and int(n) == int(number))
            ],
        }
        for name, part in target.items()
    }
