"""The operator controls as data: pause, exclusions by hand and requests to include a PR again.

The controls live in their own small file next to the state file (shell/controls.py), so that
`pause`, `resume`, `exclude` and `include` work while a deployment holds the state lock; every
tick reads them at its next decision. The document:

    {"version": 1,
     "paused":   null | {"by", "at", "reason"},
     "excluded": {"<repo>#<n>": {"by", "at", "reason"}},   # out of staging until included
     "include":  {"<repo>#<n>": {"by", "at"[, "sha"]}}}    # lift a conflict/culprit exclusion
                                                           # at the head the next tick sees (or
                                                           # at the commit `sha`, a prefix of at
                                                           # least 7 hex), then forgotten
Pure: functions return new documents; nothing is read or written here.
"""

from __future__ import annotations

import re
from typing import Any

from kcistage.core.enums import Action, Cause, WaitFor
from kcistage.core.rules import Decision
from kcistage.core.state import Exclusion
from kcistage.core.trust import exclusion_cause

VERSION = 1
MAX_REASON = 200  # an operator's reason, kept on one line
_REF_RE = re.compile(r"^(?:(?P<owner>[A-Za-z0-9._-]+)/)?(?P<repo>[A-Za-z0-9._-]+)#"
                     r"(?P<number>[1-9][0-9]{0,9})$")
# Forms people paste instead: a PR's URL, "repo 12", "repo/pull/12", "repo:12"
_NEAR_RE = re.compile(r"(?:^|/)(?P<repo>[A-Za-z0-9._-]+)(?:/pulls?/|[ :/#]+)#?(?P<number>[0-9]+)/?$")


_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")  # a commit named by hand: at least 7 hex digits


class ControlsProblem(ValueError):
    """A bad argument or a malformed controls document (the message says which)."""


def empty() -> dict[str, Any]:
    """No pause, no exclusion, no request."""
    return {"version": VERSION, "paused": None, "excluded": {}, "include": {}}


def _entry(value: Any, keys: tuple[str, ...], where: str) -> dict[str, str]:
    """One {"by", "at", ...} record with text values."""
    if not isinstance(value, dict) or any(not isinstance(value.get(k), str) for k in keys):
        raise ControlsProblem(f"{where}: expected an object with text {', '.join(keys)}")
    return {k: value[k] for k in keys}


def validate(data: Any) -> dict[str, Any]:
    """A controls document read from disk, checked and normalised (ControlsProblem if not one)."""
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise ControlsProblem('not a controls document (no integer "version")')
    if data["version"] > VERSION:
        raise ControlsProblem(f"version {data['version']} is newer than this kcistage reads ({VERSION})")
    doc = empty()
    if data.get("paused") is not None:
        doc["paused"] = _entry(data["paused"], ("by", "at", "reason"), "paused")
    for section, keys in (("excluded", ("by", "at", "reason")), ("include", ("by", "at"))):
        entries = data.get(section)
        entries = {} if entries is None else entries
        if not isinstance(entries, dict):
            raise ControlsProblem(f"{section}: expected an object")
        for key, value in entries.items():
            parse_ref(key)
            doc[section][key] = _entry(value, keys, f"{section}.{key}")
            sha = value.get("sha") if section == "include" else None
            if sha is not None:
                if not isinstance(sha, str) or not _SHA_RE.match(sha):
                    raise ControlsProblem(f"include.{key}.sha: expected 7 to 40 hex digits")
                doc[section][key]["sha"] = sha
    return doc


def clean_reason(text: str | None) -> str:
    """An operator's reason on one printable line, bounded."""
    words = " ".join("".join(ch if ch.isprintable() else " " for ch in (text or "")).split())
    return words[:MAX_REASON]


def parse_ref(text: str, repos: tuple[str, ...] | None = None,
              full_names: dict[str, str] | None = None) -> tuple[str, int]:
    """`<repo>#<n>` or `<owner>/<name>#<n>` as (repo, number); with `repos`, the repo must be one
    of them, and `full_names` maps each repo's `owner/name` (any case) to its short name."""
    found = _REF_RE.match(text.strip())
    if found and found["owner"] is not None and full_names is None:
        found = None  # stored keys and the short form only
    if not found:
        near = _NEAR_RE.search(text.strip())
        hint = (f"; did you mean {near['repo']}#{int(near['number'])}?" if near and
                int(near["number"]) > 0 else " (e.g. kernelci-api#123 or kernelci/kernelci-api#123)")
        raise ControlsProblem(f"{text!r} is not <repo>#<number>{hint}")
    repo, number = found["repo"], int(found["number"])
    if found["owner"] is not None:
        full = f"{found['owner']}/{repo}"
        names = {k.casefold(): v for k, v in (full_names or {}).items()}
        if full.casefold() not in names:
            known = ", ".join(sorted(full_names or {})) or "none"
            raise ControlsProblem(f"unknown repo {full!r} in {text!r} (repos: {known})")
        repo = names.get(full.casefold(), repo)
    if repos is not None and repo not in repos:
        raise ControlsProblem(f"unknown repo {repo!r} in {text!r} (repos: {', '.join(repos)})")
    return repo, number


def parse_commit_ref(text: str, repos: tuple[str, ...] | None = None,
                     full_names: dict[str, str] | None = None) -> tuple[str, int, str | None]:
    """`<repo>#<n>[@<sha>]` as (repo, number, sha or None); the sha is a commit's first 7 to
    40 hex digits, lower-cased."""
    ref, at, sha = text.strip().partition("@")
    repo, number = parse_ref(ref, repos, full_names)
    if not at:
        return repo, number, None
    if not _SHA_RE.match(sha.lower()):
        raise ControlsProblem(f"{sha!r} in {text!r} is not a commit: give at least its first 7 "
                              "hex digits (e.g. kernelci-api#123@1a2b3c4)")
    return repo, number, sha.lower()


def pause(doc: dict[str, Any], by: str, at: str, reason: str | None) -> dict[str, Any]:
    """Paused from now (a second pause replaces who, when and why)."""
    return {**doc, "paused": {"by": by, "at": at, "reason": clean_reason(reason)}}


def resume(doc: dict[str, Any]) -> dict[str, Any]:
    """Not paused."""
    return {**doc, "paused": None}


def exclude(doc: dict[str, Any], key: str, by: str, at: str, reason: str | None) -> dict[str, Any]:
    """PR `key` out of staging by hand until included again (a pending include is dropped)."""
    excluded = {**doc["excluded"], key: {"by": by, "at": at, "reason": clean_reason(reason)}}
    include = {k: v for k, v in doc["include"].items() if k != key}
    return {**doc, "excluded": excluded, "include": include}


def include(doc: dict[str, Any], key: str, by: str, at: str, sha: str | None = None) -> dict[str, Any]:
    """PR `key` back: its exclusion by hand ends now; a conflict or culprit exclusion at the head
    the next tick sees (with `sha`: at that commit, head or not) is lifted by that tick."""
    excluded = {k: v for k, v in doc["excluded"].items() if k != key}
    request = {"by": by, "at": at, **({"sha": sha} if sha else {})}
    return {**doc, "excluded": excluded, "include": {**doc["include"], key: request}}


def faulty_commits(excluded: Exclusion | None, culprits: dict[str, int] | None) -> dict[str, int]:
    """The commits of a PR proven faulty: sha -> the deployment each broke."""
    found = dict(culprits or {})
    if excluded and exclusion_cause(excluded) is Cause.CULPRIT:
        found.setdefault(excluded["sha"], int(excluded.get("deployment") or 0))
    return found


def nameable(excluded: Exclusion | None, culprits: dict[str, int] | None) -> list[str]:
    """The commits `include <repo>#<n>@<sha>` can name: those proven faulty, and the one of a
    conflict or culprit exclusion."""
    known = set(faulty_commits(excluded, culprits))
    if excluded and exclusion_cause(excluded) in (Cause.CONFLICT, Cause.CULPRIT):
        known.add(excluded["sha"])
    return sorted(known)


def matching(prefix: str, shas: list[str]) -> list[str]:
    """The commits among `shas` that `prefix` names."""
    return sorted({sha for sha in shas if sha.startswith(prefix)})


def forget_includes(doc: dict[str, Any], done: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The document without the include requests a tick has applied (a newer request stays)."""
    include = {k: v for k, v in doc["include"].items() if done.get(k) != v}
    return {**doc, "include": include}


def by_hand_reason(entry: dict[str, str]) -> str:
    """The reason shown for an exclusion by hand: "by hand (alice): breaks login"."""
    return f"by hand ({entry['by']})" + (f": {entry['reason']}" if entry.get("reason") else "")


def hand_exclusion(excluded: dict[str, Any], key: str, sha: str) -> Exclusion | None:
    """An exclusion record (as stored on a PR) for a PR excluded by hand, at its current head;
    `excluded` is the controls' "excluded" section."""
    entry = excluded.get(key)
    if entry is None:
        return None
    return {"sha": sha, "cause": Cause.BY_HAND, "reason": by_hand_reason(entry),
            "by": entry["by"], "at": entry["at"]}


def paused_reason(paused: dict[str, str]) -> str:
    """Why nothing starts: "paused by alice since 2026-…: docker upgrade"."""
    why = f": {paused['reason']}" if paused.get("reason") else ""
    return f"paused by {paused['by']} since {paused['at']}{why}"


def hold(decision: Decision, paused: dict[str, str] | None) -> Decision:
    """The decision of a tick while paused: a cycle it would start waits for `resume`.

    Only ticks are held (by rule, a command or a culprit search); `kcistage deploy` never asks.
    """
    if paused is None:
        return decision
    if decision.action == Action.WAIT and decision.trigger is not None:
        # a cycle waiting for settle or throttle: the pause comes first, it may outlast both
        return Decision(action=Action.WAIT, at=None, trigger=decision.trigger,
                        target=decision.target, waits=WaitFor.PAUSE,
                        reason=f"{paused_reason(paused)}; then the cycle waiting "
                               f"({decision.reason}) waits for `kcistage resume`")
    if decision.action not in (Action.PARTIAL, Action.FULL):
        return decision
    return Decision(action=Action.WAIT, at=None, trigger=decision.trigger, target=decision.target,
                    waits=WaitFor.PAUSE,
                    reason=f"{paused_reason(paused)}; the {decision.action} cycle due "
                           f"({decision.reason}) waits for `kcistage resume`")
