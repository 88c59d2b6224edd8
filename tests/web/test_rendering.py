"""The pure renderers, without a socket: the timeline picture, the page's edge cases, metrics text."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kcistage.web import metrics, page, timeline
from kcistage.web.html_text import esc
from tests.web.conftest import deployment, iso


def test_the_timeline_puts_cycles_in_lanes_and_shows_a_running_deployment() -> None:
    records = [deployment(1, "full", "success", -200, 100), deployment(2, "partial", "failed", -50, 5),
               deployment(3, "partial", "running", -10, 0)]
    bars = timeline.bars(records, iso(0))
    assert [(b["id"], b["result"], round(b["seconds"])) for b in bars] == [
        (1, "success", 6000), (2, "failed", 300), (3, "running", 600)]  # running: up to now
    svg = timeline.render(records, iso(0))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('fill="#1565c0"') == 2  # the running bar and its legend square
    assert "deployment 3: partial (change), running after 10m" in svg
    assert "the tallest bar is 1h40m" in svg


def test_the_timeline_keeps_the_newest_sixty_and_says_when_there_is_none() -> None:
    records = [deployment(i, "partial", "success", -1000 + i, 1) for i in range(1, 101)]
    assert [b["id"] for b in timeline.bars(records, iso(0))] == list(range(41, 101))
    assert "no deployment yet" in timeline.render([], iso(0))


def test_an_empty_state_renders_a_whole_page() -> None:
    doc = {"running": None, "next": {"action": "none", "at": None,
                                      "reason": "no poll yet: the next tick looks at GitHub"},
           "last": [], "prs": [], "generated": iso(0)}
    html = page.render(doc, [])
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>\n")
    assert "No deployment yet." in html and "No open pull request." in html
    assert "no poll yet: the next tick looks at GitHub" in html


def test_escaping_covers_markup_quotes_and_control_characters() -> None:
    assert esc('<a href="x">\'') == "&lt;a href=&quot;x&quot;&gt;&#x27;"
    assert esc("red\x1b[31m\u202etxt\x00") == "red\\x1b[31m\\u202etxt\\x00"
    assert esc(None) == ""


def test_metrics_label_values_are_escaped_and_absent_facts_are_left_out() -> None:
    text = metrics.render({"prs": [], "next": {"action": 'we"ird\\\n'}}, {("partial", 'a"b'): 2},
                          None, None, None, {})
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "kcistage_last_success_timestamp_seconds" not in families
    assert "kcistage_github_rate_limit_remaining" not in families
    sample = families["kcistage_deployments"].samples[0]
    assert sample.labels == {"cycle": "partial", "result": 'a"b'} and sample.value == 2
    assert all(s.value == 0 for s in families["kcistage_next_action"].samples)
