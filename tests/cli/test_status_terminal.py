"""`kcistage status` on a real terminal (a pty), in a narrow one, and into a pipe closed early."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from kcistage.app.status_document import status_document
from kcistage.cli import views
from kcistage.sandbox import demo
from tests.web.conftest import NOW, SHA, pr, recorded_state, write_site

LONG = "a reason " * 12


def _state() -> dict:
    state = recorded_state(prs=30)
    state["prs"]["kernelci-pipeline-extra-long-name#123456"] = dict(
        pr(123456, "a-very-long-login-name-indeed", "skipped", LONG, "title " * 20),
        repo="kernelci-pipeline-extra-long-name", cause="untrusted")
    return state


def _on_a_terminal(cfg_path: Path, env: dict[str, str]) -> bytes:
    """What `kcistage status` writes to a real terminal (a pty) 100 columns wide."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kcistage", "--config", str(cfg_path), "--now", NOW.isoformat(),
         "status"], stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm-256color", **env})
    os.close(secondary)
    out = b""
    while True:
        ready = select.select([primary], [], [], 60)[0]
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal's other side closed: the process ended
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    return out


def test_no_color_on_a_terminal_emits_no_escape_at_all(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    coloured = _on_a_terminal(cfg.path, {})
    assert b"\x1b[" in coloured  # a terminal gets colour by default...
    plain = _on_a_terminal(cfg.path, {"NO_COLOR": "1"})
    assert b"\x1b" not in plain and b"Pull requests" in plain  # ...and nothing, not even bold


def test_the_demo_narration_is_not_bold_under_no_color(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert demo.bold("x") == "x"
    monkeypatch.delenv("NO_COLOR")
    assert demo.bold("x") == "\x1b[1mx\x1b[0m"


def test_ids_and_shas_never_split_at_80_columns(tmp_path: Path) -> None:
    state = _state()
    cfg = write_site(tmp_path, state=state)
    doc = status_document(cfg, state, NOW)
    console = Console(record=True, width=80, force_terminal=True, file=io.StringIO())
    views.render_rich(doc, console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    for row in doc["prs"]:
        ident = f"{row['repo']}#{row['number']}"
        assert any(ident in line for line in lines), ident
        assert any(row["sha"][:12] in line for line in lines)
    for dep in doc["last"]:
        assert any(f" {dep['id']} " in line for line in lines)
    assert any("→ a maintainer writes `@kcibot deploy" in line for line in lines)
    assert lines[0].startswith("Last poll of GitHub: 1m ago (2026-03-02 11:59 UTC)")


def test_plain_status_says_what_the_page_says(tmp_path: Path) -> None:
    state = _state()
    cfg = write_site(tmp_path, state=state)
    text = views.render_plain(status_document(cfg, state, NOW))
    assert text.startswith("Last poll of GitHub: 1m ago (2026-03-02 11:59 UTC)\n")
    assert f"      what would change this: a maintainer writes `@kcibot deploy {SHA[:12]}`" in text
    assert "      what would change this: a new push (the new head is tried again)" in text
    row = next(line for line in text.splitlines() if line.startswith("  kernelci-api#12 "))
    assert row.split()[1:3] == ["excluded", SHA[:12]]
    row = next(line for line in text.splitlines() if line.startswith("  kernelci-api#13 "))
    assert row.split()[1:4] == ["deployed", SHA[:12], "#3"]  # the latest deployment with it


def test_status_into_a_pipe_closed_early_says_nothing_and_exits_0(tmp_path: Path) -> None:
    """`kcistage status | head -1`: the reader leaves; no "Broken pipe", no traceback."""
    cfg = write_site(tmp_path, state=recorded_state(prs=3000))  # far more than a pipe holds
    reading, writing = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kcistage", "--config", str(cfg.path), "--now", NOW.isoformat(),
         "status"], stdin=subprocess.DEVNULL, stdout=writing, stderr=subprocess.PIPE)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        first = pipe.readline()  # what `head -1` reads before it exits
    _, err = proc.communicate(timeout=60)
    assert first.startswith(b"Last poll of GitHub")
    assert err == b"" and proc.returncode == 0
