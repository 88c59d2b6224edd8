"""A harmless step program for the sandbox: records its environment, may be slow or fail.

Used by `kcistage demo` and the end-to-end tests in place of docker. It fails when a staging
checkout holds a file `BREAKS_STAGING` (a faulty PR), fails only step <step> when a checkout or
the workdir holds `.demo/fail-<step>` (a test kernel that breaks, a broken environment), and
sleeps N seconds when a checkout holds `.demo/slow-<step>` containing N (a long build), so
restarts and culprit searches can be shown. `.demo/slow-<step>` containing `hold` makes the step
wait (at most HOLD_LIMIT seconds) until the file `release-<step>` appears beside RECORDS_FILE: a
deployment held mid-step until the demo or a test has done what it must do during it, whatever
the machine's load (no race against a fixed sleep).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

TOKEN = "sandbox-token-0123456789"  # the sandbox's GitHub token: a step must never see it
HOLD_LIMIT = 120.0  # a held step gives up then, so a demo or test that forgot it cannot hang


def hold(release: Path) -> None:
    """Wait until `release` exists (or HOLD_LIMIT passes): stopped by a restart meanwhile."""
    deadline = time.monotonic() + HOLD_LIMIT
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def release(records: Path, step: str) -> Path:
    """The file that lets a held `step` go on (it stays: later runs of the step pass at once)."""
    return records.with_name(f"release-{step}")


def main(argv: list[str]) -> int:
    """`python -m kcistage.sandbox.harmless_step RECORDS_FILE STEP_NAME`."""
    records, name = Path(argv[0]), argv[1]
    dirs = [Path(v) for k, v in sorted(os.environ.items())
            if k.startswith("KCISTAGE_REPO_") and k.endswith("_DIR")]
    env = {k: v for k, v in os.environ.items() if k.startswith("KCISTAGE_")}
    with records.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"step": name, "pid": os.getpid(), "cwd": os.getcwd(), "env": env,
                              "token_seen": any(TOKEN in v for v in os.environ.values())})
                  + "\n")
    print(f"{name}: deployment {env.get('KCISTAGE_DEPLOY_ID')} ({env.get('KCISTAGE_CYCLE')})")
    for folder in dirs:
        slow = folder / ".demo" / f"slow-{name}"
        if slow.is_file():
            text = slow.read_text().strip() or "1"
            if text == "hold":
                print(f"{name}: working until released", flush=True)
                hold(release(records, name))
                continue
            print(f"{name}: working for {text}s", flush=True)
            time.sleep(float(text))
    for folder in dirs:
        if (folder / "BREAKS_STAGING").exists():
            print(f"{name}: {folder.name} is broken (BREAKS_STAGING)", file=sys.stderr)
            return 1
    workdir = [Path(env["KCISTAGE_WORKDIR"])] if env.get("KCISTAGE_WORKDIR") else []
    for folder in dirs + workdir:
        if (folder / ".demo" / f"fail-{name}").exists():
            print(f"{name}: {folder.name} breaks this step (.demo/fail-{name})", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
