"""Which steps run in a cycle, given the files changed per repo (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from kcistage.core.settings import Step

if TYPE_CHECKING:
    import pathspec


@dataclass(frozen=True)
class Plan:
    """Whether one step runs in this cycle, and why."""

    name: str
    run: bool
    reason: str


@lru_cache(maxsize=256)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    """The compiled gitignore-style spec of a pattern list (`**` spans folders)."""
    import pathspec  # only a deployment compares changed files: an idle tick never loads it

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def first_match(step: Step, changed: dict[str, list[str]]) -> str | None:
    """`"<repo>: <file> matches <pattern>"` for the first changed file a step's paths match."""
    for repo, patterns in step.paths or ():
        files = changed.get(repo) or ()
        if not files:
            continue
        spec = _spec(tuple(patterns))
        for name in files:
            if spec.match_file(name):
                return f"{repo}: {name} matches {_which(patterns, name)}"
    return None


def _which(patterns: tuple[str, ...], name: str) -> str:
    """The pattern (of several) that matches `name`, for a readable reason."""
    for pattern in patterns:
        if _spec((pattern,)).match_file(name):
            return pattern
    return ", ".join(patterns)  # only a negation combination matched; name them all


def plan_steps(steps: Sequence[Step], cycle: str,
               changed: dict[str, list[str]] | None) -> list[Plan]:
    """One Plan per step: run or skip in `cycle` given changed files (None: run everything)."""
    plans = []
    for step in steps:
        if cycle not in step.cycles:
            only = " and ".join(step.cycles) or "no"
            plans.append(Plan(step.name, False, f"{only} cycles only"))
        elif cycle == "full":
            plans.append(Plan(step.name, True, "full cycle runs every step"))
        elif changed is None:
            plans.append(Plan(step.name, True, "first deployment"))
        elif step.paths is None:
            plans.append(Plan(step.name, True, "runs in every cycle (no paths)"))
        else:
            hit = first_match(step, changed)
            if hit is not None:
                plans.append(Plan(step.name, True, hit))
            else:
                plans.append(Plan(step.name, False, "no changed file matches its paths"))
    return plans


NOT_NEEDED = "not needed for the search"


def plan_probe(steps: Sequence[Step], cycle: str, ran: Sequence[str], upto: str | None,
               failed_id: int) -> list[Plan]:
    """A culprit-search candidate's steps: those the failed deployment ran, up to the one that
    failed (the rest skipped: not needed for the search). Same steps, same failure to look for."""
    plans = []
    done = False
    for step in steps:
        if done:
            plans.append(Plan(step.name, False, NOT_NEEDED))
        elif cycle not in step.cycles:
            only = " and ".join(step.cycles) or "no"
            plans.append(Plan(step.name, False, f"{only} cycles only"))
        elif step.name not in ran:
            plans.append(Plan(step.name, False, f"not run by deployment {failed_id} either"))
        else:
            plans.append(Plan(step.name, True, f"culprit search: as in deployment {failed_id}"))
        done = done or step.name == upto
    return plans
