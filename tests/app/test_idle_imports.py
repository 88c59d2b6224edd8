"""A tick that does not deploy does not load the deployment machinery (the step runner, git,
the path filters' pathspec); a deployment does. Checked in a real process against the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys

from kcistage.sandbox.sandbox import Sandbox

DEPLOYMENT_MACHINERY = ("kcistage.app.deploy", "kcistage.shell.steps", "kcistage.shell.git",
                        "pathspec")
# Loaded only to read a new comment: the CommonMark parser (about 20 ms of an idle tick's CPU)
COMMENT_PARSER = ("markdown_it",)
PROBE = ("import json, sys\n"
         "from kcistage.cli.main import main\n"
         "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
         f"print(json.dumps({{'code': code, 'loaded': [m for m in {DEPLOYMENT_MACHINERY + COMMENT_PARSER!r} "
         "if m in sys.modules]}))\n")


def run(box: Sandbox, *args: str) -> dict:
    argv = [sys.executable, "-c", PROBE, "--config", str(box.config_path),
            "--now", box.clock().isoformat(), *args]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=box.root, timeout=120,
                          stdin=subprocess.DEVNULL)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_idle_tick_loads_no_deployment_machinery(box: Sandbox) -> None:
    assert box.deploy(full=True).code == 0
    box.advance(5)
    idle = run(box, "tick")
    assert idle == {"code": 0, "loaded": []}
    # the check sees them when they are used: deploying a change loads them all
    box.open_pr("kernelci-api", 4, "broonie", {"api/main.py": "app = 'v1'\n"})
    assert run(box, "deploy") == {"code": 0, "loaded": list(DEPLOYMENT_MACHINERY)}


def test_only_a_new_comment_loads_the_comment_parser(box: Sandbox) -> None:
    box.open_pr("kernelci-api", 1, "stranger", {"doc/api.md": "# API v2\n"})
    assert box.deploy(full=True).code == 0
    box.advance(5)
    assert run(box, "tick") == {"code": 0, "loaded": []}
    box.comment("kernelci-api", 1, "a-wai", "@kcibot deploy")
    box.advance(1)
    assert run(box, "tick") == {"code": 0, "loaded": list(COMMENT_PARSER)}
