"""The pure renderers, without a socket: the timeline picture, the page's edge cases, metrics text."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kcistage.web import metrics, page, timeline
from kcistage.web.html_text import esc
from tests.web.conftest import deployment, iso


def test_the_timeline_has_a_time_axis_lanes_and_patterns_not_only_colours() -> None:
    records = [deployment(1, "full", "success", -200, 100), deployment(2, "partial", "failed", -50, 5),
               deployment(3, "partial", "running", -10, 0)]
    bars = timeline.bars(records, iso(0), timeline.SHOWN)
    assert [(b.ident, b.result, round((b.end - b.start).total_seconds())) for b in bars] == [
        (1, "success", 6000), (2, "failed", 300), (3, "running", 600)]  # running: up to now
    svg = timeline.svg(bars, timeline.WIDE)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    # a time axis: NOW is 12:00, the first deployment started at 08:40; hourly labels between
    assert ">UTC</text>" in svg and ">09:00</text>" in svg and ">11:00</text>" in svg
    # results differ by pattern as well as colour, and the legend names them
    assert 'fill="url(#hatch)"' in svg and 'fill="url(#stripes)"' in svg
    assert all(f">{word}</text>" in svg for word in ("success", "failed", "interrupted", "running"))
    assert ">full</text>" in svg and ">partial</text>" in svg
    alt = timeline.describe(bars)
    assert "1 full (upper lane), 2 partial (lower lane)" in alt
    assert "1 success (solid), 1 failed (hatched), 1 running (striped)" in alt


def test_the_timeline_is_an_image_with_a_narrow_version_for_phones() -> None:
    records = [deployment(i, "partial", "success", -1000 + i * 5, 1) for i in range(1, 101)]
    assert [b.ident for b in timeline.bars(records, iso(0), timeline.SHOWN)] == list(range(41, 101))
    html = timeline.render(records, iso(0))
    assert '<source media="(max-width: 40em)" srcset="data:image/svg+xml;base64,' in html
    assert '<img src="data:image/svg+xml;base64,' in html and 'alt="Timeline of the last 60' in html
    assert "<svg" not in html  # no SVG text for a text browser to run together
    assert "no deployment yet" in timeline.svg([], timeline.WIDE)
    assert timeline.describe([]) == "Timeline: no deployment yet."


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
