"""Texts kcistage shows on pull requests: commit status descriptions and the per-SHA comment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kcistage.core.display import printable

CYCLE_WORDS = {
    "partial": "partial cycle (API and pipeline redeployed, no test kernel)",
    "full": "full cycle (API, pipeline and a test kernel with reference tests)",
}
MAX_NOTES = 20


def one_line(text: str) -> str:
    """Collapse whitespace so a message (an error, a reply) stays on one line."""
    return " ".join(str(text).split())


def status_description(cycle: str, deploy_id: int, result: str, verified: str = "") -> str:
    """A commit status description (GitHub keeps 140 characters); `verified`: the test kernel's words."""
    words = {"running": "deploying", "success": "deployed", "failed": "failed",
             "interrupted": "interrupted"}.get(result, result)
    text = f"staging: {cycle} cycle, deployment {deploy_id}: {words}"
    return (text + (f"; {verified}" if verified else ""))[:140]


def status_state(result: str) -> str:
    """The commit status state for a deployment result."""
    return {"running": "pending", "success": "success"}.get(result, "failure")


def deployment_note(deploy_id: int, cycle: str, trigger: str, result: str,
                    failed_step: str | None = None, page: str | None = None) -> str:
    """One line of a PR comment about one deployment of its head (`page`: the status page URL)."""
    text = f"Deployment {deploy_id} ({trigger}): {CYCLE_WORDS.get(cycle, cycle)}: **{result}**"
    if failed_step:
        text += f" (step `{failed_step}` failed)"
    if page:
        text += f" ([details]({page}/deployments/{int(deploy_id)}))"
    return text


def code(text: Any, limit: int = 120) -> str:
    """Untrusted text (a node name) as a Markdown code span: shown literally, never markup, links
    or mentions; control characters visible; bounded."""
    shown = printable(text).replace("`", "'")
    return f"`{shown[:limit] + '...' if len(shown) > limit else shown}`"


def _regressions(tree: Mapping[str, Any]) -> tuple[int, list[str]]:
    """(how many, each shown as a code span with what it is now) of a tree record's regressions."""
    lines = [str(r) for r in tree.get("regressions") or []]
    more = 0
    if lines and lines[-1].startswith("... and ") and lines[-1].split()[2].isdigit():
        more = int(lines.pop().split()[2])
    shown = []
    for line in lines:
        name, sep, now = line.rpartition(" (")
        shown.append(f"{code(name)} ({now}" if sep else code(line))
    return len(lines) + more, shown + ([f"and {more} more"] if more else [])


def tree_note(step: str, tree: Mapping[str, Any], summary: str, passed: bool,
              inconclusive: bool = False) -> str:
    """A line of a full cycle's PR comment: the kernel commit built and tested, the counts, and the
    regressions or "no regression against deployment N" (an inconclusive run says so)."""
    if inconclusive:
        return f"Test kernel (step `{step}`): {one_line(printable(summary))}; no pull request is blamed"
    rows = tree.get("counts") or {}
    counts = ", ".join(f"{printable(kind)} " + " ".join(f"{n} {printable(r)}" for r, n in row.items())
                       for kind, row in rows.items() if isinstance(row, Mapping)) or "no results"
    commit = str(tree.get("commit") or "")[:12] or "unknown"
    head = f"Test kernel `{printable(commit)}` built and tested (step `{step}`): {counts}"
    total, shown = _regressions(tree)
    baseline = tree.get("baseline")
    if tree.get("mode") == "first" or baseline is None:
        return f"{head}; the first baseline"
    if not total:
        return f"{head}; no regression against deployment {baseline}"
    words = f"{plural(total, 'regression')} against deployment {baseline}: {', '.join(shown)}"
    if tree.get("mode") == "new_baseline":
        return f"{head}; the new baseline (the kernel moved, not the software); {words}"
    return f"{head}; {words}" + ("" if not passed else " (within the allowance)")


def tree_words(tree: Mapping[str, Any], inconclusive: bool = False) -> str:
    """The test kernel in a few words, for a commit status."""
    if inconclusive:
        return "test kernel inconclusive"
    total, _ = _regressions(tree)
    commit = printable(str(tree.get("commit") or ""))[:12]
    if tree.get("mode") == "first" or tree.get("baseline") is None:
        return f"kernel {commit} tested: first baseline"
    if tree.get("mode") == "new_baseline":
        return f"kernel {commit} tested: new baseline"
    return f"kernel {commit} tested: " + (plural(total, "regression") if total else "no regression")


def exclusion_note(reason: str, deploy_id: int | None = None) -> str:
    """One line of a PR comment saying why the PR was left out of staging."""
    where = f" of deployment {deploy_id}" if deploy_id is not None else ""
    return f"Left out{where}: {reason}"


def together_note(partners: list[str]) -> str:
    """One line of a PR comment: the PRs it was deployed with because of Depends-On."""
    return f"Deployed together with {', '.join(partners)} (Depends-On)."


def add_note(notes: list[str], note: str) -> list[str]:
    """The notes with `note` appended (a note already there is not repeated), bounded in length."""
    if note in notes:
        return notes
    return (notes + [note])[-MAX_NOTES:]


def pr_comment(sha: str, notes: list[str]) -> str:
    """The body of the one comment kcistage keeps per PR head SHA."""
    lines = [f"**kcistage** — staging report for `{sha[:12]}`", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "_This comment is updated in place when what it says about this commit changes._"]
    return "\n".join(lines)


def culprit_note(failing: int, passing: int | None, step: str | None,
                 tree: Mapping[str, Any] | None = None) -> str:
    """One line of a PR comment: why the culprit search blamed this commit (its evidence); `tree`:
    the failed step's KernelCI tree, whose regressions are named."""
    at = f" (step `{step}`)" if step else ""
    total, shown = _regressions(tree) if tree is not None else (0, [])
    if total:
        at += f": {plural(total, 'regression')}: {', '.join(shown)}"
    without = (f"; deployment {passing} without it succeeded" if passing is not None
               else "; the last good deployment without it succeeded")
    return (f"Excluded as the culprit: deployment {failing} failed with this commit{at}{without}. "
            "A new push re-admits it.")


def not_blamed_note(failed: int, base_failed: int) -> str:
    """One line of a PR comment: the search cleared this suspect (staging fails without it)."""
    return (f"Not blamed for deployment {failed}: staging fails without any new PR "
            f"(deployment {base_failed}, without this commit, failed too).")


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 step`, `2 steps`, `0 PRs`: a count with its noun agreeing (`words` for irregular ones)."""
    return f"{count} {word if count == 1 else (words or word + 's')}"
