"""Texts kcistage shows on pull requests: commit status descriptions and the per-SHA comment."""

from __future__ import annotations

CYCLE_WORDS = {
    "partial": "partial cycle (API and pipeline redeployed, no test kernel)",
    "full": "full cycle (API, pipeline and a test kernel with reference tests)",
}
MAX_NOTES = 20


def one_line(text: str) -> str:
    """Collapse whitespace so a message (an error, a reply) stays on one line."""
    return " ".join(str(text).split())


def status_description(cycle: str, deploy_id: int, result: str) -> str:
    """A commit status description (GitHub keeps 140 characters)."""
    words = {"running": "deploying", "success": "deployed", "failed": "failed",
             "interrupted": "interrupted"}.get(result, result)
    return f"staging: {cycle} cycle, deployment {deploy_id}: {words}"[:140]


def status_state(result: str) -> str:
    """The commit status state for a deployment result."""
    return {"running": "pending", "success": "success"}.get(result, "failure")


def deployment_note(deploy_id: int, cycle: str, trigger: str, result: str,
                    failed_step: str | None = None) -> str:
    """One line of a PR comment about one deployment of its head."""
    text = f"Deployment {deploy_id} ({trigger}): {CYCLE_WORDS.get(cycle, cycle)}: **{result}**"
    if failed_step:
        text += f" (step `{failed_step}` failed)"
    return text


def exclusion_note(reason: str, deploy_id: int | None = None) -> str:
    """One line of a PR comment saying why the PR was left out of staging."""
    where = f" of deployment {deploy_id}" if deploy_id is not None else ""
    return f"Left out{where}: {reason}"


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


def culprit_note(failing: int, passing: int | None, step: str | None) -> str:
    """One line of a PR comment: why the culprit search blamed this commit (its evidence)."""
    at = f" (step `{step}`)" if step else ""
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
