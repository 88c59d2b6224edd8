"""A `kernelci` step's wait, one check at a time (pure): submit the checkout, read the tree, conclude.

The wait spans runs; what it needs between checks lives in a plain dict (the deployment's
`waiting.data`): the phase, the kernel commit, the checkout tries, the treeid, when the API last
answered. Each function takes what one check observed and says what happens next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kcistage.core.durations import human
from kcistage.core.enums import StepResult
from kcistage.core.model import format_time, parse_time
from kcistage.core.settings import KernelCI
from kcistage.core.verification import Tree, is_complete, not_done_text, progress_text, short
from kcistage.core.verification_plan import inconclusive

CHECKOUT_TRIES = 3  # an unreachable pipeline or a 5xx: tries a minute apart
CHECKOUT_RETRY = timedelta(minutes=1)
API_PATIENCE = timedelta(minutes=30)  # the API unreadable this long in a row: inconclusive
SHOWN_PROBLEMS = 3


@dataclass(frozen=True)
class CheckoutAnswer:
    """What the pipeline answered to a checkout: the tree, or why not."""

    treeid: str | None = None  # set when accepted
    node: str | None = None  # the checkout node's id
    error: str = ""  # "unreachable" | "server" (5xx) | "refused" (4xx) | "malformed"
    detail: str = ""  # the error in words (a refusal: the pipeline's message)
    status: int | None = None


@dataclass(frozen=True)
class Next:
    """What a check decided: wait until `check_at` (result None), or the step is over."""

    result: str | None  # StepResult when over
    summary: str  # one line: what it showed, or what it waits for
    data: dict[str, Any] = field(default_factory=dict)
    check_at: datetime | None = None
    reason: str = ""  # over and failed: the deployment's reason ("inconclusive: ..." or not)
    inconclusive: bool = False


def ended_inconclusive(summary: str) -> Next:
    reason = inconclusive(summary)
    return Next(StepResult.FAILED, reason, reason=reason, inconclusive=True)


def start_data(commit: str, mode: str, baseline: int | None) -> dict[str, Any]:
    """The wait's data when the step starts, its kernel commit chosen."""
    return {"phase": "checkout", "commit": commit, "mode": mode, "baseline": baseline, "tries": 0}


def after_checkout(kc: KernelCI, data: dict[str, Any], now: datetime,
                   answer: CheckoutAnswer) -> Next:
    """The pipeline's answer to one checkout try."""
    if answer.treeid:
        kept = {**data, "phase": "tree", "treeid": answer.treeid, "node": answer.node,
                "last_read": format_time(now)}
        return Next(None, f"tree {short(answer.treeid)} of kernel {short(data.get('commit'))} "
                    "submitted",
                    kept, now + kc.interval)
    if answer.error in ("refused", "malformed"):
        said = f" ({answer.status})" if answer.status else ""
        return ended_inconclusive(f"the pipeline refused the checkout{said}: {answer.detail}"
                     if answer.error == "refused" else
                     f"the pipeline's answer to the checkout is unreadable: {answer.detail}")
    tries = int(data.get("tries", 0)) + 1
    what = (f"the pipeline answered {answer.status}" if answer.error == "server"
            else "the pipeline cannot be reached") + f" ({answer.detail})" * bool(answer.detail)
    if tries >= CHECKOUT_TRIES:
        return ended_inconclusive(f"{what} at {kc.pipeline}: {tries} tries a minute apart")
    return Next(None, f"checkout to retry: {what}", {**data, "tries": tries},
                now + CHECKOUT_RETRY)


def _deadline(kc: KernelCI, since: datetime, now: datetime, check_at: datetime) -> datetime:
    return min(check_at, max(since + kc.timeout, now))


# Answers that say the tree cannot be read at all (a 404 or another refusal, JSON that is not a
# page of nodes): waiting would not change them. No answer or a 5xx may pass: they are waited on.
FINAL_ERRORS = frozenset(("not_found", "refused", "malformed"))


def after_read_error(kc: KernelCI, data: dict[str, Any], since: datetime, now: datetime,
                     error: str, kind: str = "unreachable") -> Next:
    """The API could not be read this time (`kind`: unreachable | server | not_found | refused |
    malformed): wait, unless it has not answered for API_PATIENCE or its answer is final."""
    if kind in FINAL_ERRORS:
        return ended_inconclusive(f"the KernelCI API's answer for tree {short(data.get('treeid'))} "
                                  f"cannot be used: {error}")
    last = parse_time(data["last_read"]) if data.get("last_read") else since
    if now - last >= API_PATIENCE:
        return ended_inconclusive(f"the KernelCI API could not be read for {human((now - last).total_seconds())}"
                     f" ({error})")
    if now >= since + kc.timeout:
        return ended_inconclusive(f"tree {short(data.get('treeid'))} not complete after "
                     f"{human(kc.timeout.total_seconds())}; the API last said: {error}")
    return Next(None, f"tree {short(data.get('treeid'))}: the API cannot be read ({error})", data,
                _deadline(kc, since, now, now + kc.interval))


def after_read(kc: KernelCI, data: dict[str, Any], since: datetime, now: datetime,
               tree: Tree) -> Next | None:
    """A tree read that is not complete (None: it is complete, to be judged)."""
    treeid = short(data.get("treeid"))  # (64 hex digits: the first 12 name it for people)
    if tree.problems:
        shown = "; ".join(p.text for p in tree.problems[:SHOWN_PROBLEMS])
        more = len(tree.problems) - SHOWN_PROBLEMS
        return ended_inconclusive(f"the API answered {len(tree.problems)} unreadable node"
                     f"{'s' if len(tree.problems) != 1 else ''} in tree {treeid}: {shown}"
                     + (f" and {more} more" if more > 0 else ""))
    if not tree.nodes:
        return ended_inconclusive(f"the API has no node of tree {treeid}")
    if is_complete(tree):
        return None
    kept = {**data, "last_read": format_time(now)}
    if now >= since + kc.timeout:
        return ended_inconclusive(f"tree {treeid} not complete after {human(kc.timeout.total_seconds())}: "
                     f"{not_done_text(tree)}")
    return Next(None, f"tree {treeid} of kernel {short(data.get('commit'))}: {progress_text(tree)}",
                kept, _deadline(kc, since, now, now + kc.interval))
