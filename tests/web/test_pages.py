"""GET /, /status.json, /metrics, /healthz over real HTTP; the page in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kcistage.app.status_document import render_json, status_document
from kcistage.shell import statefile
from kcistage.shell.clock import Clock
from kcistage.web import page
from kcistage.web.application import StateReader
from kcistage.web.server import stop
from tests.conftest import run_cli
from tests.web.browser import Browser
from tests.web.conftest import (
    NOW,
    SHA,
    Site,
    deployment,
    iso,
    pr,
    recorded_state,
    start_site,
    write_site,
)

SCREENSHOTS = Path(os.environ.get("KCISTAGE_SCREENSHOTS", "")) if os.environ.get(
    "KCISTAGE_SCREENSHOTS") else None


def test_the_page_shows_everything_and_escapes_what_came_from_github(site: Site) -> None:
    status, headers, body = site.request("GET", "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    html = body.decode()
    # hostile title and login: text, never markup; no raw control character reaches the reader
    assert "<script" not in html and "<img src=x" not in html and "\x1b" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&quot;quoted&quot; &#x27;single&#x27; \\x1b[31mred\\x1b[0m &amp; more" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "culprit of deployment 2 &lt;b&gt;" in html
    # an anchor per PR, linked to GitHub and to the latest deployment that merged it
    assert 'id="kernelci-api-12"' in html and 'href="#kernelci-api-13"' in html
    assert '<a href="https://github.com/kernelci/kernelci-api/pull/12">kernelci-api#12</a>' in html
    assert '<a href="deployments/2">#2</a>' in html and '<a href="deployments/3">#3</a>' in html
    # how old the last poll is, and a refresh without JavaScript
    assert "Last poll of GitHub: <strong>1 minute ago</strong> (2026-03-02 11:59 UTC)" in html
    assert '<meta http-equiv="refresh" content="60">' in html
    # the picture (an image with a text alternative), the recent deployments, the next action
    assert '<img src="data:image/svg+xml;base64,' in html and 'alt="Timeline of the last 3' in html
    assert "<strong>" in html and "Paused</dt><dd>no" in html
    # what would change the excluded PR
    assert "a new push (the new head is tried again)" in html
    head = site.request("HEAD", "/")
    assert head[0] == 200 and head[2] == b""


def test_a_pr_inside_the_running_deployment_reads_deploying_and_a_pause_comes_first(
        tmp_path: Path) -> None:
    state = recorded_state()
    state["deployments"][-1].update(result="running", finished=None, pid=os.getpid(), step="api")
    cfg = write_site(tmp_path, state=state)
    doc = status_document(cfg, state, NOW)
    row = next(r for r in doc["prs"] if r["number"] == 13)
    assert (row["state"], row["reason"]) == ("pending", "deploying in #3 (api, since 11:00 UTC)")
    assert row["change"].startswith("deployment #3 ends")
    html = page.render(doc, state["deployments"])
    assert "deploying in #3 (api, since 11:00 UTC)" in html
    assert '<a href="deployments/3">deployment #3</a>: partial (change), started' in html
    assert "step api" in html
    # status --json says the same
    cli = run_cli(cfg.path, "status", "--json", now=NOW)
    assert {(p["number"], p["reason"]) for p in json.loads(cli.stdout)["prs"]} >= {
        (13, "deploying in #3 (api, since 11:00 UTC)")}


def test_while_paused_next_says_paused_not_a_throttle_wait(tmp_path: Path) -> None:
    state = recorded_state()
    # deployment 3 finished 4 minutes ago with #13; #14 arrived since: throttled until 12:26
    state["deployments"][-1].update(started=iso(-10), finished=iso(-4))
    state["prs"]["kernelci-api#14"] = pr(14, "nuclearcat", "pending", "trusted author", "new")
    state["observed"]["target"]["kernelci-api"]["prs"] = [[13, SHA], [14, SHA]]
    state["changed_since"] = iso(-30)
    cfg = write_site(tmp_path, state=state)
    doc = status_document(cfg, state, NOW)
    assert doc["next"]["waits"] == "throttle" and "throttled until 12:26" in doc["next"]["reason"]
    row = next(r for r in doc["prs"] if r["number"] == 14)
    assert row["change"] == "next deployment after 12:26 (throttle)"
    paused = {"by": "<nuclearcat>", "at": iso(-5), "reason": "kernel freeze"}
    doc = status_document(cfg, state, NOW, {"paused": paused, "excluded": {}, "include": {}})
    assert doc["next"]["waits"] == "pause" and doc["next"]["at"] is None
    assert doc["next"]["reason"].startswith("paused by <nuclearcat> since ")
    row = next(r for r in doc["prs"] if r["number"] == 14)
    assert row["change"] == "the pause ends when an operator resumes (`kcistage resume`)"
    html = page.render(doc, state["deployments"])
    assert "<dt>Next</dt><dd><strong>paused</strong>: paused by &lt;nuclearcat&gt;" in html
    assert '<span class="paused">paused</span> by &lt;nuclearcat&gt; since 2026-03-02 11:55 UTC: ' \
           "kernel freeze" in html


def test_before_the_first_tick_the_page_says_how_to_start_the_timer(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    cfg.state_file.unlink()
    running, server, thread = start_site(cfg)
    try:
        status, headers, body = running.request("GET", "/")
        assert status == 503 and headers["content-type"] == "text/html; charset=utf-8"
        html = body.decode()
        assert "No tick has run yet" in html and "systemctl enable --now kcistage.timer" in html
        assert str(cfg.state_file) not in html  # a public page names no server path
        assert '<meta http-equiv="refresh" content="60">' in html
        cfg.state_file.write_text("{not json")
        status, _, body = running.request("GET", "/")
        assert status == 503 and b"The state file cannot be read" in body
    finally:
        stop(server)
        thread.join(5)


def test_one_deployment_has_its_page_and_anything_else_is_404(tmp_path: Path) -> None:
    state = recorded_state()
    failed = state["deployments"][1]
    failed.update(heads={"kernelci-api": "f" * 40}, reason="step api failed <b>",
                  left_out=[{"repo": "kernelci-api", "number": 15, "sha": SHA,
                             "reason": "conflict", "cause": "conflict"}])
    failed["steps"][0].update(summary='<i>api</i> "down"', tree={
        "treeid": "t", "commit": "c", "baseline": 1, "counts": {"test": {"pass": 3, "fail": 1}},
        "regressions": ["test:<node>@qemu"], "flaky": []})
    state["deployments"].append(dict(deployment(4, "partial", "success", -30, 2, [[13, SHA]]),
                                     search={"probe": 1, "of": 1, "failed": 2}))
    running, server, thread = start_site(write_site(tmp_path, state=state))
    try:
        status, headers, body = running.request("GET", "/deployments/2")
        assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src" not in headers["content-security-policy"]
        html = body.decode()
        assert "<h1>Deployment #2</h1>" in html and '<a href="../">' in html
        assert '<span class="r-failed">failed</span>: step api failed &lt;b&gt;' in html
        assert f"<code>{'f' * 40}</code>" in html  # the staging branch's head, whole
        assert '<a href="https://github.com/kernelci/kernelci-api/pull/12">kernelci-api#12</a>' \
            in html
        assert "kernelci-api#15</a> (conflict)" in html
        assert "&lt;i&gt;api&lt;/i&gt; &quot;down&quot;" in html  # the step's summary, escaped
        assert "test: 1 fail, 3 pass" in html and "regressions: test:&lt;node&gt;@qemu" in html
        assert "6m" in html  # its duration
        # the culprit search it started, with the deployment it made and its verdict
        assert "Culprit search" in html and '<a href="4">#4</a>' in html
        assert "candidate 1 of 1" in html
        assert running.request("HEAD", "/deployments/2")[2] == b""
        search = running.request("GET", "/deployments/4")[2].decode()
        assert '<a href="2">deployment #2</a>' in search
        for path in ("/deployments/99", "/deployments/0", "/deployments/abc", "/deployments/",
                     "/deployments/2/", "/deployments/../../etc/passwd",
                     "/deployments/%2e%2e/%2e%2e/etc/passwd", "/deployments/1e3",
                     "/deployments/99999999999", "/deployments/-1"):
            status, headers, body = running.request("GET", path)
            assert status == 404, path
            assert b"root:" not in body
    finally:
        stop(server)
        thread.join(5)


def test_status_json_is_the_status_json_document(site: Site) -> None:
    status, headers, body = site.request("GET", "/status.json")
    assert status == 200 and headers["content-type"] == "application/json"
    state = statefile.load_full(site.cfg.state_file, NOW)
    doc = json.loads(body)
    assert set(doc) >= {"running", "next", "last", "prs"}
    assert doc["last"] == json.loads(render_json(status_document(site.cfg, state, NOW)))["last"]
    cli = run_cli(site.cfg.path, "status", "--json", now=NOW)
    assert cli.returncode == 0, cli.stderr
    mine, theirs = json.loads(body), json.loads(cli.stdout)
    mine["next"].pop("at"), theirs["next"].pop("at")  # a few ms apart
    assert mine == theirs


def test_metrics_parse_with_prometheus_own_parser(site: Site) -> None:
    site.deliver("ping", {}, "m-1")
    site.deliver("ping", {}, "m-1")
    statefile.write_rate(site.cfg.state_file, {"remaining": 4321, "limit": 5000, "reset": None})
    status, headers, body = site.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for f in families.values() for s in f.samples}
    assert families["kcistage_deployments"].type == "counter"
    assert value[("kcistage_deployments_total", (("cycle", "partial"), ("result", "failed")))] == 1
    assert value[("kcistage_deployments_total", (("cycle", "partial"), ("result", "success")))] == 1
    assert value[("kcistage_deployments_total", (("cycle", "full"), ("result", "success")))] == 1
    assert value[("kcistage_prs", (("state", "excluded"),))] == 1
    assert value[("kcistage_prs", (("state", "deployed"),))] == 1  # #13 is in deployment 3
    assert value[("kcistage_prs", (("state", "pending"),))] == 0
    assert value[("kcistage_running", ())] == 0 and value[("kcistage_paused", ())] == 0
    assert value[("kcistage_github_rate_limit_remaining", ())] == 4321
    assert value[("kcistage_last_success_timestamp_seconds", ())] == \
        (NOW.timestamp() - 56 * 60)  # deployment 3 finished at -60 + 4 minutes
    assert value[("kcistage_webhook_deliveries_total", (("outcome", "accepted"),))] == 1
    assert value[("kcistage_webhook_deliveries_total", (("outcome", "duplicate"),))] == 1
    assert value[("kcistage_state_readable", ())] == 1


def test_the_deployment_counter_never_goes_down_when_history_is_trimmed(site: Site) -> None:
    first = site.app.counter.update(recorded_state()["deployments"])
    trimmed = recorded_state()["deployments"][1:]  # the oldest dropped by the history limit
    assert site.app.counter.update(trimmed) == first


def test_healthz_follows_the_last_poll(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    clock = Clock(NOW)
    running, server, thread = start_site(cfg, clock)
    old = NOW.timestamp() - 3600
    try:
        os.utime(cfg.state_file, (old, old))
        assert running.request("GET", "/healthz")[0] == 200  # observed.at is 1 minute old
        clock.advance(__import__("datetime").timedelta(minutes=5))
        status, _, text = running.request("GET", "/healthz")
        assert status == 503 and b"last poll" in text
        # a run that polled successfully but wrote nothing touches the file: healthy again
        os.utime(cfg.state_file, (clock().timestamp(), clock().timestamp()))
        assert running.request("GET", "/healthz")[0] == 200
        cfg.state_file.write_text("{not json")
        assert running.request("GET", "/healthz")[0] == 503
        assert running.request("GET", "/")[0] == 503
        assert running.request("GET", "/metrics")[0] == 200  # says kcistage_state_readable 0
        cfg.state_file.unlink()
        assert running.request("GET", "/healthz")[0] == 503
        assert running.request("GET", "/nothing-here")[0] == 404
    finally:
        stop(server)
        thread.join(5)


def test_the_state_is_parsed_again_only_when_the_file_changed(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    reader = StateReader(cfg.state_file, Clock(NOW))
    first = reader.read()
    assert reader.read() is first
    state = recorded_state()
    state["prs"].pop("kernelci-api#13")
    statefile.save(cfg.state_file, state, 500)
    assert "kernelci-api#13" not in (reader.read().state or {})["prs"]


def showcase_state() -> dict:
    """A busy morning: a running partial deployment, PRs in every state, a day of history."""
    state = recorded_state()
    records = []
    for i in range(1, 25):
        cycle = "full" if i % 8 == 1 else "partial"
        result = "failed" if i in (7, 15) else "interrupted" if i == 11 else "success"
        records.append(deployment(i, cycle, result, -1440 + i * 55, 95 if cycle == "full" else 9,
                                  [[13, SHA]] if i > 20 else []))
        records[-1]["heads"] = {"kernelci-api": f"{i:02d}" + "c0ffee" * 6 + "00"}  # 40 hex
    records.append(deployment(25, "partial", "running", -6, 0, [[13, SHA], [16, SHA]]))
    records[-1].update(pid=os.getpid(), step="restart-api")
    state["deployments"] = records
    state["next_id"] = 26
    state["prs"].update({
        "kernelci-api#16": pr(16, "JenySadadia", "pending", "trusted author",
                              "api: paginate the node list"),
        "kernelci-api#17": pr(17, "octo-dev", "skipped",
                              "author not trusted and no approval (a maintainer can comment "
                              "`@kcibot deploy`)", "docs: fix a typo in the README"),
        "kernelci-api#18": pr(18, "broonie", "skipped", "draft", "WIP: models v3"),
    })
    state["prs"]["kernelci-api#17"]["cause"] = "untrusted"
    state["prs"]["kernelci-api#18"]["cause"] = "draft"
    return state


def _no_sideways_scroll(browser: Browser) -> list:
    return browser.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_a_real_browser_shows_the_page_at_1280_and_360_pixels(tmp_path: Path) -> None:
    """Loaded by headless chromium: nothing the browser built from the hostile text, no
    horizontal scrolling on a 360-pixel phone, the timeline image decoded; screenshots."""
    running, server, thread = start_site(write_site(tmp_path / "site", state=showcase_state()))
    browser = Browser(tmp_path / "profile")
    try:
        for width, mobile in ((1280, False), (360, True)):
            browser.load(running.url + "#kernelci-api-12", width, mobile=mobile)
            # the DOM holds the hostile title as text: the browser made no element from it
            assert browser.evaluate("document.querySelectorAll('script').length") == 0
            assert browser.evaluate("document.querySelectorAll('img[src=x]').length") == 0
            assert '<script>alert("x")</script>' in browser.evaluate(
                "document.getElementById('kernelci-api-12').textContent")
            # the timeline is a decoded image, as wide as the page allows and no wider
            img = browser.evaluate("(() => {const i = document.querySelector('figure img');"
                                   " return [i.complete, i.naturalWidth, i.width];})()")
            assert img[0] is True and img[1] > 0 and 0 < img[2] <= width, img
            scroll, inner = _no_sideways_scroll(browser)
            assert scroll <= inner, f"{width}px: the page is {scroll}px wide"
            if mobile:  # the PR table became one block per PR, each value labelled
                assert browser.evaluate(
                    "getComputedStyle(document.querySelector('table.rows thead')).display") == "none"
                assert browser.evaluate("document.images[0].currentSrc.length < "
                                        "document.images[0].src.length")  # the narrow picture
            shot = tmp_path / f"status-page-{width}.png"
            browser.screenshot(shot)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
            if SCREENSHOTS:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, SCREENSHOTS / shot.name)
        browser.load(running.url + "deployments/7", 360, mobile=True)
        scroll, inner = _no_sideways_scroll(browser)
        assert scroll <= inner and "deployment #7" in browser.evaluate("document.title")
    finally:
        browser.close()
        stop(server)
        thread.join(5)


def test_a_text_browser_reads_labelled_rows_and_the_timeline_in_words(tmp_path: Path) -> None:
    """lynx (no CSS, no images): each PR's values labelled, the picture as one sentence."""
    lynx = shutil.which("lynx")
    if lynx is None:
        pytest.skip("lynx is not installed (.ci/run installs it)")
    running, server, thread = start_site(write_site(tmp_path / "site", state=showcase_state()))
    try:
        dump = subprocess.run([lynx, "-dump", "-nolist", "-width=100", "-display_charset=utf-8",
                               running.url], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
    finally:
        stop(server)
        thread.join(5)
    assert dump.returncode == 0, dump.stderr
    text = " ".join(dump.stdout.split())
    assert "PR: kernelci-api#12" in text and "state: excluded" in text
    assert "what would change this: a maintainer writes @kcibot deploy aaaaaaaaaaaa" in text
    assert "reason: deploying in #25 (restart-api, since 11:54 UTC)" in text
    assert "Timeline of the last 25 deployments, 2026-03-01 12:55 to 2026-03-02 12:00 UTC" in text
    assert "UTC 15:00 18:00" not in text and "success failed interrupted running" not in text
    assert '<script>alert("x")</script>' in text  # shown as the text it is


def test_serve_runs_from_the_command_line(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [__import__("sys").executable, "-m", "kcistage", "--config", str(cfg.path), "--now",
         NOW.isoformat(), "serve", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert f"listening on http://127.0.0.1:{port}/" in line, line
        running = Site(cfg, None, "127.0.0.1", port)  # type: ignore[arg-type]
        assert running.request("GET", "/healthz")[0] == 200
        assert running.deliver("ping", {}, "from-cli")[0] == 202
        assert running.pokes() == ["from-cli"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_bad_listen_address_is_a_one_line_error(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    proc = run_cli(cfg.path, "serve", "--listen", "nowhere")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "kcistage: --listen: expected HOST:PORT like 127.0.0.1:8080, got 'nowhere'"]


def test_serve_on_a_port_in_use_is_one_line_exit_3(tmp_path: Path) -> None:
    import socket
    cfg = write_site(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli(cfg.path, "serve", "--listen", f"127.0.0.1:{port}")
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [
        f"kcistage: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_webhook_without_a_secret_is_404_for_every_method(tmp_path: Path) -> None:
    running, server, thread = start_site(write_site(tmp_path, secret=None))
    try:
        for method in ("GET", "HEAD", "POST", "PUT"):
            assert running.request(method, "/webhook")[0] == 404, method
        assert running.request("GET", "/")[0] == 200
    finally:
        stop(server)
        thread.join(5)
