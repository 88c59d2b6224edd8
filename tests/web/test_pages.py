"""GET /, /status.json, /metrics, /healthz over real HTTP; the page in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
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
from tests.web.conftest import NOW, Site, iso, recorded_state, start_site, write_site

SCREENSHOTS = Path(os.environ.get("KCISTAGE_SCREENSHOTS", "")) if os.environ.get(
    "KCISTAGE_SCREENSHOTS") else None


def test_the_page_shows_everything_and_escapes_what_came_from_github(site: Site) -> None:
    status, headers, body = site.request("GET", "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    html = body.decode()
    # hostile title and login: text, never markup; no raw control character reaches the reader
    assert "<script" not in html and "<img" not in html and "\x1b" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&quot;quoted&quot; &#x27;single&#x27; \\x1b[31mred\\x1b[0m &amp; more" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "culprit of deployment 2 &lt;b&gt;" in html
    # an anchor per PR, the picture, the recent deployments and the next action
    assert 'id="kernelci-api-12"' in html and 'href="#kernelci-api-13"' in html
    assert "<svg" in html and html.count("<rect") >= 3 + 4  # 3 bars + the legend
    assert "deployment 2: partial (change), failed after 6m," in html
    assert "<strong>" in html and "Paused</dt><dd>no" in html
    head = site.request("HEAD", "/")
    assert head[0] == 200 and head[2] == b""


def test_the_page_shows_a_running_deployment_and_a_pause(tmp_path: Path) -> None:
    state = recorded_state()
    state["deployments"][-1].update(result="running", finished=None, pid=os.getpid(), step="api")
    doc = status_document(write_site(tmp_path, state=state), state, NOW)
    doc["paused"] = {"by": "<nuclearcat>", "at": iso(-5), "reason": "kernel freeze"}
    html = page.render(doc, state["deployments"])
    assert "deployment 3: partial (change), started" in html and "step api" in html
    assert '<span class="paused">paused</span> by &lt;nuclearcat&gt; since 2026-03-02 11:55 UTC: ' \
           "kernel freeze" in html


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


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


def test_a_real_browser_renders_the_page_without_running_anything(site: Site, tmp_path: Path) -> None:
    dom = _chromium("--dump-dom", site.url + "#kernelci-api-12", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    # the rendered DOM holds the hostile title as text: the browser built no element from it
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;" in text
    assert 'id="kernelci-api-12"' in text and "<svg" in text
    shot = tmp_path / "page.png"
    taken = _chromium(f"--screenshot={shot}", "--window-size=1200,900", site.url, tmp=tmp_path)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / f"status-page-{int(time.time())}.png")


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
