"""Tests of the status views (JSON, plain, rich) and of `kcistage log` on real files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from kcistage.cli import views as status
from kcistage.errors import KcistageError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def doc() -> dict:
    return load("status_doc.json")


def rich_text(doc: dict) -> str:
    console = make_console()
    status.render_rich(doc, console)
    return console.export_text()


def make_console() -> Console:
    """A recording terminal console that prints into a buffer, not the test output."""
    return Console(record=True, width=140, force_terminal=True, color_system="truecolor",
                   file=io.StringIO())


# ---------------------------------------------------------------- JSON

def check_spec_shape(out: dict) -> None:
    """SPEC section 2's keys and types, nothing more."""
    assert set(out) == {"running", "paused", "next", "last", "prs"}
    if out["running"] is not None:
        run = out["running"]
        assert set(run) == {"id", "cycle", "trigger", "started", "step", "waiting", "restarts"}
        assert run["waiting"] is None or isinstance(run["waiting"], str)
        assert isinstance(run["id"], int) and isinstance(run["restarts"], int)
        assert run["cycle"] in ("partial", "full")
    assert set(out["next"]) == {"action", "at", "reason"}
    assert out["next"]["action"] in ("none", "wait", "partial", "full")
    assert isinstance(out["next"]["reason"], str)
    for dep in out["last"]:
        assert set(dep) == {"id", "cycle", "trigger", "result", "reason", "started", "finished", "prs",
                            "steps"}
        assert dep["reason"] is None or isinstance(dep["reason"], str)
        assert dep["result"] in ("running", "success", "failed", "interrupted")
        assert dep["trigger"] in ("change", "periodic", "command", "manual", "bisect")
        assert all(isinstance(p, str) for p in dep["prs"])
        for step in dep["steps"]:
            assert set(step) - {"tree"} == {"name", "result", "seconds", "summary"}
            assert step["summary"] is None or isinstance(step["summary"], str)
            if "tree" in step:  # a kernelci step (section 11)
                assert set(step["tree"]) == {"treeid", "commit", "baseline", "counts",
                                             "regressions", "flaky"}
            assert step["result"] in ("ok", "failed", "skipped", "timeout", "interrupted")
            assert isinstance(step["seconds"], (int, float))
    for pr in out["prs"]:
        assert set(pr) == {"repo", "number", "author", "sha", "state", "reason"}
        assert isinstance(pr["number"], int)
        assert pr["state"] in ("deployed", "pending", "excluded", "skipped")


def test_json_has_exactly_spec_keys(doc: dict) -> None:
    text = status.render_json(doc)
    assert text.endswith("}\n")
    out = json.loads(text)
    check_spec_shape(out)
    assert out["running"] == {"id": 14, "cycle": "partial", "trigger": "change",
                              "started": "2024-05-01T10:00:00+00:00", "step": "pipeline",
                              "waiting": None, "restarts": 1}
    assert out["next"] == doc["next"]
    assert [d["id"] for d in out["last"]] == [14, 13, 12, 11]
    assert out["last"][1]["steps"][2] == {"name": "kernel", "result": "timeout", "seconds": 3600.0,
                                          "summary": None}
    assert out["last"][1]["prs"] == doc["last"][1]["prs"]
    assert [p["state"] for p in out["prs"]] == ["deployed", "pending", "excluded", "skipped"]
    assert "title" not in text and "generated" not in text and "alive" not in text
    assert "\x1b" not in text  # JSON escapes control characters
    assert doc["running"]["pid"] == 999999  # the caller's document is not modified


def test_json_empty() -> None:
    out = json.loads(status.render_json(load("status_empty.json")))
    check_spec_shape(out)
    assert out == {"running": None, "paused": None, "last": [], "prs": [],
                   "next": {"action": "none", "at": None,
                            "reason": "target unchanged; next full cycle 2024-05-01T16:00:00+00:00"}}


# ---------------------------------------------------------------- plain

def test_plain_has_the_facts(doc: dict) -> None:
    text = status.render_plain(doc)
    assert "\x1b" not in text and "\x07" not in text
    for section in ("Running", "Next", "Recent deployments", "Pull requests"):
        assert f"\n{section}\n" in f"\n{text}"
    assert "deployment 14 · partial · change · started 2024-05-01 10:00 UTC · running for 4m12s" in text
    assert "step pipeline · restarts 1" in text
    assert "process 999999 gone" in text
    assert "wait until 2024-05-01 10:30 UTC: target changed at 10:20" in text
    row13 = next(line for line in text.splitlines() if line.strip().startswith("13 "))
    assert row13.split()[:4] == ["13", "full", "periodic", "failed"]
    assert "1h02m" in row13 and "3 run, 1 skipped (kernel timeout)" in row13
    row12 = next(line for line in text.splitlines() if line.strip().startswith("12 "))
    assert "4m12s" in row12 and "1 run, 1 skipped" in row12
    assert "kernelci-core#3" in text and "culprit of deployment 13 (kernel timeout)" in text
    assert "[bold]x[/bold] api: fix auth" in text
    # the escape sequences of an untrusted title are shown, not sent to the terminal
    assert "\\x1b[31mred\\x1b[0m pipeline: \\x1b]0;pwned\\x07 tweak" in text
    for state in ("deployed", "pending", "excluded", "skipped"):
        assert state in text


def test_plain_empty() -> None:
    text = status.render_plain(load("status_empty.json"))
    assert "Running\n  none\n" in text
    assert "nothing to do: target unchanged" in text
    assert "none yet" in text and "no open pull requests" in text


def test_plain_running_alive_does_not_say_gone(doc: dict) -> None:
    doc["running"]["alive"] = True
    assert "gone" not in status.render_plain(doc)


def test_plain_next_partial_without_time(doc: dict) -> None:
    doc["next"] = {"action": "full", "at": None, "reason": "admin trigger on kernelci-api#12"}
    assert "full cycle at the next tick: admin trigger on kernelci-api#12" in status.render_plain(doc)


@given(st.text())
def test_clean_never_emits_control_characters(text: str) -> None:
    out = status.clean(text)
    assert out.isprintable()
    if text.isprintable():
        assert out == text


@pytest.mark.parametrize("seconds, precise, expected", [
    (0, False, "0s"), (45, False, "45s"), (252, False, "4m12s"), (7380, False, "2h03m"),
    (93600, False, "1d02h"), (12.34, True, "12.3s"), (75.0, True, "1m15s"), (None, False, "-"),
])
def test_fmt_duration(seconds: float | None, precise: bool, expected: str) -> None:
    assert status.fmt_duration(seconds, precise) == expected


@pytest.mark.parametrize("value, expected", [
    ("2024-05-01T12:30:59+02:00", "2024-05-01 10:30 UTC"), ("2024-05-01T10:30:00Z", "2024-05-01 10:30 UTC"),
    (None, "-"), ("garbage", "garbage"),
])
def test_fmt_time(value: str | None, expected: str) -> None:
    assert status.fmt_time(value) == expected


# ---------------------------------------------------------------- rich

def test_rich_shows_facts_and_literal_markup(doc: dict) -> None:
    text = rich_text(doc)
    for fact in ("Running", "Next", "Recent deployments", "Pull requests", "running for 4m12s",
                 "process 999999 gone", "wait until 2024-05-01 10:30 UTC", "1h02m",
                 "kernel timeout", "kernelci-pipeline#7", "excluded", "[bold]x[/bold] api: fix",
                 "[link=http://evil]", "\\x1b[31mred"):
        assert fact in text, fact
    assert "\x1b" not in text and "\x07" not in text


def test_rich_colours_but_title_stays_text(doc: dict) -> None:
    console = make_console()
    status.render_rich(doc, console)
    html = console.export_html(inline_styles=True, clear=False)
    assert "[bold]x[/bold]" in html
    assert 'href="http://evil"' not in html  # [link=...] in a title is not a link
    ansi = console.export_text(styles=True)
    assert "\x1b[" in ansi  # colour is used on terminals


def test_rich_empty() -> None:
    text = rich_text(load("status_empty.json"))
    assert "none yet" in text and "no open pull requests" in text and "nothing to do" in text


def test_status_module_does_not_import_rich_for_plain() -> None:
    import subprocess
    import sys
    code = ("import sys, json; from kcistage.cli import views as status; "
            "d = json.load(open(sys.argv[1])); status.render_plain(d); status.render_json(d); "
            "print(any(m == 'rich' or m.startswith('rich.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "status_doc.json")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- logs

@pytest.fixture
def logs(tmp_path: Path, doc: dict) -> tuple[Path, list[dict]]:
    workdir = tmp_path / "work"
    deps = [dict(d) for d in doc["last"]]
    deps[0]["step"] = "pipeline"  # as in the state file: the step running right now
    for dep_id, step, body in [(13, "api", "api log\n"), (13, "pipeline", "pipe log"),
                               (13, "kernel", "kernel log\n"), (14, "api", "api 14\n"),
                               (14, "pipeline", "half-way"), (7, "api", "old log\n")]:
        folder = workdir / "logs" / str(dep_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{step}.log").write_text(body)
    return workdir, deps


def test_find_log_default_latest(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    # latest is 14: api finished, pipeline running (from "step"), so both are found
    assert status.find_log(workdir, deps, None, None) == [
        workdir / "logs/14/api.log", workdir / "logs/14/pipeline.log"]


def test_find_log_order_and_step(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    assert [p.name for p in status.find_log(workdir, deps, 13, None)] == [
        "api.log", "pipeline.log", "kernel.log"]  # step order; skipped "tests" has no log
    assert status.find_log(workdir, deps, 13, "kernel") == [workdir / "logs/13/kernel.log"]
    # oldest first (the state file's order) gives the same answer
    assert status.find_log(workdir, list(reversed(deps)), None, "api") == [workdir / "logs/14/api.log"]


def test_render_log_headers(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    out = io.StringIO()
    status.render_log(workdir, deps, 13, None, out)
    assert out.getvalue() == (
        "== deployment 13 · step api · ok · 30.0s ==\napi log\n"
        "== deployment 13 · step pipeline · ok · 41.5s ==\npipe log\n"
        "== deployment 13 · step kernel · timeout · 1h ==\nkernel log\n"
        "== deployment 13 · step tests · skipped · 0.0s ==\n(no log)\n")


def test_render_log_one_step_of_latest(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    out = io.StringIO()
    status.render_log(workdir, deps, None, "pipeline", out)
    assert out.getvalue() == "== deployment 14 · step pipeline · running ==\nhalf-way\n"


def test_log_trimmed_deployment_still_on_disk(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    out = io.StringIO()
    status.render_log(workdir, deps, 7, None, out)
    assert out.getvalue() == "== deployment 7 · step api ==\nold log\n"


def test_log_unknown_id_lists_known(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    with pytest.raises(KcistageError, match=r"no deployment 99: the history has 11-14"):
        status.find_log(workdir, deps, 99, None)


def test_log_unknown_step_lists_steps(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    with pytest.raises(KcistageError) as info:
        status.render_log(workdir, deps, 13, "nope", io.StringIO())
    assert str(info.value) == ("deployment 13 has no step 'nope'; its steps: "
                               "api, pipeline, kernel, tests")
    with pytest.raises(KcistageError, match="no step '../../etc/passwd'"):
        status.find_log(workdir, deps, 13, "../../etc/passwd")


def test_log_no_deployments(tmp_path: Path) -> None:
    with pytest.raises(KcistageError, match="no deployments yet"):
        status.find_log(tmp_path, [], None, None)


def test_log_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "logs" / "1").mkdir(parents=True)
    (tmp_path / "logs" / "1" / "api.log").write_bytes(b"ok \xff\xfe end\n")
    out = io.StringIO()
    status.render_log(tmp_path, [{"id": 1, "steps": [{"name": "api", "result": "failed",
                                                       "seconds": 2}]}], 1, None, out)
    assert out.getvalue() == "== deployment 1 · step api · failed · 2.0s ==\nok \ufffd\ufffd end\n"


def test_render_log_returns_text_without_stream(logs: tuple[Path, list[dict]]) -> None:
    workdir, deps = logs
    assert status.render_log(workdir, deps, 13, "api") == "== deployment 13 · step api · ok · 30.0s ==\napi log\n"
