"""A harmless step program for the sandbox: records its environment, may be slow or fail.

Used by `kcistage demo` and the end-to-end tests in place of docker. It fails when a staging
checkout holds a file `BREAKS_STAGING` (a faulty PR), fails only step <step> when a checkout or
the workdir holds `.demo/fail-<step>` (a test kernel that breaks, a broken environment), and
sleeps N seconds when a checkout holds `.demo/slow-<step>` containing N (a long build), so
restarts and culprit searches can be shown.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

TOKEN = "sandbox-token-0123456789"  # the sandbox's GitHub token: a step must never see it


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
            seconds = float(slow.read_text().strip() or "1")
            print(f"{name}: working for {seconds}s", flush=True)
            time.sleep(seconds)
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
