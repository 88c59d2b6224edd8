"""messages.py: status descriptions and the per-SHA PR comment."""

from __future__ import annotations

import pytest

from kcistage.core import messages

SHA = "0123456789abcdef" * 2 + "01234567"


@pytest.mark.parametrize("result,state", [
    ("running", "pending"), ("success", "success"), ("failed", "failure"), ("interrupted", "failure"),
])
def test_status_state(result: str, state: str) -> None:
    assert messages.status_state(result) == state


def test_status_description_names_cycle_and_deployment_and_fits() -> None:
    text = messages.status_description("full", 12, "success")
    assert "full cycle" in text and "deployment 12" in text and "deployed" in text
    assert len(messages.status_description("partial", 10**130, "failed")) <= 140


def test_notes_accumulate_without_repeats_and_stay_bounded() -> None:
    notes: list[str] = []
    for i in range(30):
        note = messages.deployment_note(i, "partial", "change", "success")
        notes = messages.add_note(notes, note)
        notes = messages.add_note(notes, note)
    assert len(notes) == messages.MAX_NOTES and notes[-1].startswith("Deployment 29")


def test_pr_comment_says_cycle_result_and_exclusion() -> None:
    notes = [messages.deployment_note(3, "partial", "change", "failed", "api-up"),
             messages.exclusion_note("culprit of failed deployment 3 at 0123456", 3)]
    body = messages.pr_comment(SHA, notes)
    assert SHA[:12] in body and "partial cycle" in body and "**failed**" in body
    assert "`api-up`" in body and "Left out of deployment 3: culprit" in body


@pytest.mark.parametrize("count, word, words, expected", [
    (1, "step", None, "1 step"), (0, "step", None, "0 steps"), (2, "PR", None, "2 PRs"),
    (1, "restart", None, "1 restart"), (3, "body", "bodies", "3 bodies"),
])
def test_plural(count: int, word: str, words: str | None, expected: str) -> None:
    assert messages.plural(count, word, words) == expected
