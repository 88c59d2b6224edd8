"""reports.py: a head's report says the most it has shown; a deployment showing no more is silent."""

from __future__ import annotations

from kcistage.core import reports

SHA = "0123456789abcdef" * 2 + "01234567"


def deployment(number: int, cycle: str = "partial", failed_step: str | None = None) -> dict:
    return {"id": number, "cycle": cycle, "trigger": "change", "failed_step": failed_step}


def test_pending_only_during_the_first_deployment_of_a_head() -> None:
    first = reports.after(None, deployment(1), "running")
    assert first is not None and reports.status(first)[0] == "pending"
    done = reports.after(first, deployment(1), "success")
    assert done is not None and reports.status(done) == (
        "success", "staging: partial cycle, deployment 1: deployed")
    assert reports.after(done, deployment(2), "running") is None  # never back to pending
    assert reports.after(done, deployment(2), "success") is None  # partial again: nothing new


def test_only_a_fuller_cycle_or_a_better_result_is_written_again() -> None:
    partial = reports.after(None, deployment(1), "success")
    full = reports.after(partial, deployment(2, "full"), "success")
    assert full is not None and "full cycle, deployment 2" in reports.status(full)[1]
    assert reports.after(full, deployment(3), "success") is None  # partial after full
    assert reports.after(full, deployment(4, "full"), "failed") is None  # success is kept
    failed = reports.after(None, deployment(5), "failed")
    assert failed is not None and reports.status(failed)[0] == "failure"
    assert reports.after(failed, deployment(6), "failed") is None
    assert reports.after(failed, deployment(7), "success") is not None


def test_an_interruption_ends_a_pending_status_and_says_nothing_otherwise() -> None:
    assert reports.after(None, deployment(1), "interrupted") is None
    running = reports.after(None, deployment(1), "running")
    ended = reports.after(running, deployment(1), "interrupted")
    assert ended is not None and reports.status(ended)[0] == "failure"
    assert reports.after(ended, deployment(2), "failed") is not None
    assert reports.after(reports.after(None, deployment(1), "success"), deployment(2),
                         "interrupted") is None


def test_the_comment_says_the_result_and_the_notes_and_nothing_while_pending() -> None:
    running = reports.after(None, deployment(3), "running")
    assert reports.comment(SHA, running, []) is None
    failed = reports.after(running, deployment(3, failed_step="api"), "failed")
    body = reports.comment(SHA, failed, ["Left out: conflict with main"])
    assert body is not None and SHA[:12] in body and "**failed**" in body and "`api`" in body
    assert body.index("Deployment 3") < body.index("Left out")
    assert reports.comment(SHA, None, ["Left out: conflict"]) is not None
    assert reports.digest(body) == reports.digest(str(body)) != reports.digest(body + " ")
