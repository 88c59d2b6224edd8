"""A GitHub App's idle tick costs what a token's does: installation ids kept with the state, the
installation token (an hour) in a private file of the runtime folder; JWTs on GitHub's clock.

Counted on the GitHub stand-in's request log, through in-process runs and the real CLI.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kcistage.core import paths
from kcistage.sandbox.sandbox import APP_INSTALLATION, OWNER, Sandbox

API = "kernelci-api"
APP_ROUTES = {"GET /app", "GET /repos/{o}/{r}/installation",
              "POST /app/installations/{id}/access_tokens"}


def idle_tick_routes(box: Sandbox) -> Counter[str]:
    """The routes one idle tick asks the stand-in for (after two ticks that prime everything)."""
    box.tick()
    box.advance(1)
    box.tick()
    box.advance(1)
    before = len(box.hub.requests)
    state = (box.root / "state" / "state.json").read_bytes()
    assert box.tick().code == 0
    assert (box.root / "state" / "state.json").read_bytes() == state  # an idle tick writes nothing
    return Counter(r["route"] for r in box.hub.requests[before:])


def token_file(box: Sandbox) -> Path:
    return paths.app_token_file({}, box.root / "pokes")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sb", app=True) as sandbox:
        yield sandbox


def test_an_idle_app_tick_makes_the_requests_of_a_token_tick(tmp_path: Path, box: Sandbox) -> None:
    as_app = idle_tick_routes(box)
    with Sandbox(tmp_path / "token") as token_box:
        as_token = idle_tick_routes(token_box)
    assert not APP_ROUTES & set(as_app), as_app  # before: 3 installation lookups and a new token
    assert as_app == as_token and sum(as_app.values()) == 9, (as_app, as_token)
    assert box.hub.app is not None and len(box.hub.app.issued) == 1  # one token for the 3 ticks


def test_the_token_is_kept_private_in_the_runtime_folder_never_in_the_state(box: Sandbox) -> None:
    assert box.tick().code == 0
    assert box.hub.app is not None
    [issued] = box.hub.app.issued
    kept = token_file(box)
    assert kept.parent == box.root / "app"  # beside the poke folder: /run/kcistage/app
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert json.loads(kept.read_text())["tokens"][str(APP_INSTALLATION)]["token"] == issued
    state_text = (box.root / "state" / "state.json").read_text()
    assert issued not in state_text
    app = json.loads(state_text)["github"]["app"]  # the ids are kept with the state
    assert app["installations"] == {f"{OWNER}/{name}": APP_INSTALLATION for name in box.trees}
    assert set(json.loads(kept.read_text())) == {"app", "api", "tokens"}


def test_the_token_is_renewed_before_it_expires_and_a_revoked_one_replaced(box: Sandbox) -> None:
    assert box.tick().code == 0
    app = box.hub.app
    assert app is not None
    box.advance(49)  # 11 minutes left: still used
    assert box.tick().code == 0 and len(app.issued) == 1
    box.advance(2)  # 9 minutes left: renewed, without looking the installation up again
    before = len(box.hub.requests)
    assert box.tick().code == 0 and len(app.issued) == 2
    routes = Counter(r["route"] for r in box.hub.requests[before:])
    assert routes["POST /app/installations/{id}/access_tokens"] == 1
    assert routes["GET /repos/{o}/{r}/installation"] == 0
    # The kept token is revoked (the App suspended and restored): GitHub answers 401 to it;
    # the run makes a new one and goes on.
    app.tokens.clear()
    box.advance(1)
    result = box.tick()
    assert result.code == 0, result.lines
    assert len(app.issued) == 3 and app.issued[-1] in token_file(box).read_text()


def test_a_token_file_written_by_someone_else_is_not_trusted(box: Sandbox) -> None:
    assert box.tick().code == 0
    kept = token_file(box)
    kept.chmod(0o644)  # readable by others: not how kcistage leaves it
    box.advance(1)
    assert box.tick().code == 0
    assert box.hub.app is not None and len(box.hub.app.issued) == 2
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


@pytest.mark.parametrize("skew", [timedelta(minutes=2), timedelta(minutes=-15)])
def test_a_local_clock_minutes_off_still_authenticates(tmp_path: Path, skew: timedelta) -> None:
    """The CLI's clock (--now) is off GitHub's (the stand-in's): the JWT is signed on GitHub's
    clock, learnt from the Date of its refusal; check says how far off the clocks are."""
    with Sandbox(tmp_path / "sb", app=True, git_http=True) as box:
        box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
        local = box.clock() + skew
        since = time.monotonic()  # both clocks run on from here, each from its own start

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "kcistage", "--config",
                                   str(box.config_path), "--now", local.isoformat(), *args],
                                  capture_output=True, text=True, timeout=120, check=False)

        done = cli("deploy")
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert box.state()["deployments"][-1]["result"] == "success"
        assert box.hub.app is not None and box.hub.app.issued
        checked = cli("check")
        took = time.monotonic() - since
        assert checked.returncode == 0, checked.stdout
        [github] = [x for x in checked.stdout.splitlines() if x.startswith("ok   github: ")]
        side = "behind" if skew > timedelta(0) else "ahead of"
        shown = re.search(rf"GitHub's clock is (\d+)m(?:(\d+)s)? {side} this server's", github)
        assert shown is not None, github
        measured = int(shown[1]) * 60 + int(shown[2] or 0)
        # each CLI's clock starts at --now and the stand-in's runs on from when `local` was
        # taken: they drift apart by at most the time since then (seconds when idle, more on a
        # busy machine), and the display's rounding
        assert abs(measured - abs(skew.total_seconds())) <= took + 2, (github, took)


def test_an_app_installed_again_is_found_again(box: Sandbox) -> None:
    """The kept installation id and token belong to an installation that is gone (the App was
    uninstalled and installed again): the run finds the new one and goes on."""
    assert box.tick().code == 0
    app = box.hub.app
    assert app is not None
    app.tokens.clear()  # uninstalling revokes the installation's tokens
    box.hub.install_app(OWNER, APP_INSTALLATION + 1)
    box.advance(1)
    result = box.tick()
    assert result.code == 0, result.lines
    remembered = box.state()["github"]["app"]
    assert set(remembered["installations"].values()) == {APP_INSTALLATION + 1}
    assert list(json.loads(token_file(box).read_text())["tokens"]) == [str(APP_INSTALLATION + 1)]
