"""Culprit search of SPEC section 8 as pure functions over plain, JSON-able dicts.

Suspects are the PR commits (repo, number, sha) of the failed target that were not in the last
successful deployment, in merge order. With n suspects, k = n is known to fail; a binary search
over k in [1, n] deploys "failed target minus all suspects, plus the first k suspects" and finds
the smallest failing k in at most ceil(log2 n) deployments. The search state is a plain dict
(stored as is in the JSON state file):

    {"failed": <target>, "suspects": [[repo, number, sha], ...], "lo": 1, "hi": n,
     "culprit": None | [repo, number, sha], "tried": [[k, ok], ...]}
"""

from __future__ import annotations

from typing import Any

from kcistage.model import Target

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
        "failed": failed, "suspects": found, "lo": 1, "hi": len(found),
        "culprit": None, "tried": [],
    }
    if len(found) == 1:
        search["culprit"] = found[0]  # one suspect: it is the culprit, nothing to search
    return search


def _mid(search: dict[str, Any]) -> int:
    return (int(search["lo"]) + int(search["hi"])) // 2


def candidate(search: dict[str, Any]) -> Target:
    """The next target to try: the failed target minus all suspects plus the first mid of them."""
    if search.get("culprit") is not None:
        raise ValueError("culprit search: already finished, no candidate left")
    listed = search["suspects"]
    kept = {_key(*s) for s in listed[: _mid(search)]}
    dropped = {_key(*s) for s in listed} - kept
    return {
        repo: {
            "base": part["base"],
            "prs": [[n, sha] for n, sha in part["prs"] if _key(repo, n, sha) not in dropped],
        }
        for repo, part in search["failed"].items()
    }


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
