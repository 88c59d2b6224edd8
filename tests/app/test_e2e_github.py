"""End to end: everything kcistage says to and hears from GitHub, through real ticks on the Sandbox.

Real git repos, the GitHub stand-in over HTTP on 127.0.0.1, real PyGithub, real step processes
and the real CLI as a subprocess (SPEC sections 2, 4, 6, 8 notifications, 9).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from kcistage.sandbox.sandbox import OWNER, TOKEN, Sandbox, sandbox_steps
from kcistage.shell import statefile
from tests.conftest import deployments, prime, run_cli

API, PIPE, CORE = "kernelci-api", "kernelci-pipeline", "kernelci-core"
WRITES = ("POST", "PATCH", "PUT", "DELETE")
REF = re.compile(r"^(kernelci-[a-z]+)#(\d+)@([0-9a-f]{40})$")


# -- helpers --------------------------------------------------------------------------------
def comments(box: Sandbox, repo: str, number: int) -> list[dict]:
    """Every comment on a PR in the stand-in."""
    return box.hub.comments(f"{OWNER}/{repo}", number)


def replies(box: Sandbox, repo: str, number: int) -> list[str]:
    """The bodies of the bot's replies to commands on a PR."""
    return [c["body"] for c in comments(box, repo, number)
            if c["user"]["login"] == "kcibot" and "<!-- kcistage:reply" in c["body"]]


def sha_comments(box: Sandbox, repo: str, number: int) -> list[str]:
    """The bodies of the bot's per-SHA report comments on a PR."""
    return [c["body"] for c in comments(box, repo, number)
            if c["user"]["login"] == "kcibot" and "<!-- kcistage:sha=" in c["body"]]


def writes(box: Sandbox) -> list[dict]:
    """The write requests the stand-in received."""
    return [r for r in box.hub.requests if r["method"] in WRITES]


def pr(box: Sandbox, repo: str, number: int) -> dict:
    """A PR's record in the state file."""
    return box.state()["prs"][f"{repo}#{number}"]


def state_bytes(box: Sandbox) -> bytes:
    return (box.root / "state" / "state.json").read_bytes()


# -- 1. eligibility -------------------------------------------------------------------------
def test_eligibility_reasons_in_state_and_status_json(sandbox: Sandbox, cli) -> None:
    box = sandbox
    trusted = box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 1\n"})
    box.open_pr(API, 2, "broonie", {"api/models.py": "MODELS = [2]\n"}, draft=True)
    box.open_pr(API, 3, "broonie", {"doc/api.md": "# 3\n"}, labels=("staging-skip",))
    box.open_pr(PIPE, 4, "broonie", {"src/trigger.py": "T = 4\n"}, base="dev")
    box.open_pr(PIPE, 5, "octo-dev", {"src/scheduler.py": "RUN = 5\n"})
    record = prime(box)
    assert record["target"][API]["prs"] == [[1, trusted]]
    assert record["target"][PIPE]["prs"] == []
    prs = box.state()["prs"]
    assert prs[f"{API}#1"]["state"] == "pending"  # eligible; status says deployed
    assert prs[f"{API}#2"]["reason"] == "draft"
    assert "skip label staging-skip" in prs[f"{API}#3"]["reason"]
    assert "other base dev" in prs[f"{PIPE}#4"]["reason"]
    assert "author not trusted and no approval" in prs[f"{PIPE}#5"]["reason"]

    box.advance(1)
    later = box.open_pr(CORE, 6, "nuclearcat", {"doc/index.md": "# 6\n"})
    assert "wait" in box.tick().lines[-1]  # settle and throttle: not yet

    done = cli("status", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    rows = {(r["repo"], r["number"]): r for r in doc["prs"]}
    assert all(r["state"] in ("deployed", "pending", "excluded", "skipped") for r in rows.values())
    assert rows[(API, 1)]["state"] == "deployed" and rows[(API, 1)]["sha"] == trusted
    assert (rows[(API, 2)]["state"], rows[(API, 2)]["reason"]) == ("skipped", "draft")
    assert rows[(API, 3)]["state"] == "skipped" and "skip label" in rows[(API, 3)]["reason"]
    assert rows[(PIPE, 4)]["state"] == "skipped" and "other base" in rows[(PIPE, 4)]["reason"]
    assert rows[(PIPE, 5)]["state"] == "skipped"
    assert "author not trusted and no approval" in rows[(PIPE, 5)]["reason"]
    assert rows[(CORE, 6)]["state"] == "pending" and rows[(CORE, 6)]["sha"] == later
    assert doc["last"][0]["prs"] == [f"{API}#1@{trusted}"]
    assert all(REF.match(ref) for d in doc["last"] for ref in d["prs"])
    assert doc["next"]["action"] in ("wait", "partial")


# -- 2. comment commands --------------------------------------------------------------------
def test_maintainer_commands_approval_pinning_and_refusals(sandbox: Sandbox) -> None:
    box = sandbox
    sha1 = box.open_pr(API, 7, "octo-dev", {"api/main.py": "app = 7\n"})
    prime(box)
    assert pr(box, API, 7)["state"] == "skipped"

    # A maintainer approves: eyes, then pending, then deployed on the normal schedule.
    box.advance(1)
    ok = box.comment(API, 7, "a-wai", "Looks good.\n@kcibot deploy")
    box.advance(1)
    box.tick()
    assert box.hub.reactions(ok) == ["eyes"]
    assert pr(box, API, 7)["state"] == "pending"
    assert pr(box, API, 7)["approval"]["sha"] == sha1
    assert replies(box, API, 7) == []
    box.tick()  # acted on once: no second reaction, no reply
    assert box.hub.reactions(ok) == ["eyes"] and replies(box, API, 7) == []
    assert len(deployments(box)) == 1
    box.advance(30)
    box.tick()
    last = deployments(box)[-1]
    assert (last["id"], last["cycle"], last["trigger"], last["result"]) == \
        (2, "partial", "change", "success")
    assert last["target"][API]["prs"] == [[7, sha1]]

    # A push after approval drops it.
    box.advance(1)
    sha2 = box.push(API, 7, {"api/main.py": "app = 72\n"})
    box.tick()
    assert pr(box, API, 7)["state"] == "excluded"
    assert "approval dropped" in pr(box, API, 7)["reason"]
    dropped = [body for body in sha_comments(box, API, 7) if f"sha={sha2}" in body]
    assert len(dropped) == 1 and "approval dropped" in dropped[0], sha_comments(box, API, 7)
    box.hub.reset_log()
    box.tick()  # said once: no write request at the next tick
    assert not writes(box), writes(box)

    # Pushed between the last tick and the comment: nothing approved, one reply with the sha.
    box.advance(1)
    sha3 = box.push(API, 7, {"api/main.py": "app = 73\n"})
    raced = box.comment(API, 7, "a-wai", "@kcibot deploy")
    box.advance(1)
    box.tick()
    assert box.hub.reactions(raced) == []
    assert len(replies(box, API, 7)) == 1
    assert f"@kcibot deploy {sha3[:12]}" in replies(box, API, 7)[0]
    assert pr(box, API, 7)["state"] == "excluded" and pr(box, API, 7)["sha"] == sha3

    # Wrong sha refused; a non-maintainer refused; an unknown verb refused: one reply each.
    wrong = box.comment(API, 7, "a-wai", f"@kcibot deploy {sha2}")
    stranger = box.comment(API, 7, "octo-dev", "@kcibot deploy")
    unknown = box.comment(API, 7, "a-wai", "@kcibot frobnicate")
    box.advance(1)
    box.tick()
    texts = replies(box, API, 7)
    assert len(texts) == 4, texts
    assert "is not the head" in texts[1] and sha3[:12] in texts[1]
    assert "octo-dev is not allowed" in texts[2]
    assert "unknown command" in texts[3] and "frobnicate" in texts[3]
    assert [box.hub.reactions(c) for c in (wrong, stranger, unknown)] == [[], [], []]
    assert pr(box, API, 7)["state"] == "excluded"

    # A correct 7-char prefix approves, and a second tick acts on nothing again.
    prefix = box.comment(API, 7, "a-wai", f"lgtm\n@kcibot deploy {sha3[:7]}")
    box.advance(1)
    box.tick()
    assert box.hub.reactions(prefix) == ["eyes"]
    assert pr(box, API, 7)["state"] == "pending"
    assert pr(box, API, 7)["approval"] == {"sha": sha3, "by": "a-wai", "comment": prefix}
    before = (len(comments(box, API, 7)), [box.hub.reactions(c) for c in (ok, raced, prefix)])
    box.tick()
    assert (len(comments(box, API, 7)), [box.hub.reactions(c) for c in (ok, raced, prefix)]) == before

    # Edits of old comments are ignored; the bot's own comments are never commands.
    box.advance(1)
    sha4 = box.push(API, 7, {"api/main.py": "app = 74\n"})
    box.tick()
    assert "approval dropped" in pr(box, API, 7)["reason"]
    box.advance(1)
    box.hub.edit_comment(f"{OWNER}/{API}", unknown, "@kcibot deploy")
    own = box.comment(API, 7, "kcibot", f"@kcibot deploy {sha4}")
    count = len(comments(box, API, 7))
    box.advance(1)
    box.tick()
    assert box.hub.reactions(unknown) == [] and box.hub.reactions(own) == []
    assert len(comments(box, API, 7)) == count
    assert pr(box, API, 7)["state"] == "excluded"
    assert len(deployments(box)) == 2  # no approval ever reached sha3/sha4 through the schedule


# -- 2b + 3. admin commands and notifications -----------------------------------------------
def test_admin_commands_statuses_and_per_sha_comments(sandbox: Sandbox) -> None:
    box = sandbox
    sha = box.open_pr(API, 1, "JenySadadia", {"api/main.py": "app = 1\n"})
    newcomer = box.open_pr(PIPE, 5, "octo-dev", {"src/scheduler.py": "RUN = 5\n"})
    prime(box)
    assert [s["state"] for s in box.hub.statuses[sha]] == ["pending", "success"]

    # Admin deploy: approves and a partial cycle runs at the very next tick despite throttle.
    box.advance(2)
    cmd = box.comment(PIPE, 5, "nuclearcat", "@kcibot deploy")
    box.advance(1)
    result = box.tick()
    last = deployments(box)[-1]
    assert (last["id"], last["cycle"], last["trigger"], last["result"]) == \
        (2, "partial", "command", "success"), result.lines
    assert box.hub.reactions(cmd) == ["eyes"]
    assert last["target"][PIPE]["prs"] == [[5, newcomer]]

    # Admin trigger: a full cycle at the next tick.
    box.advance(1)
    trig = box.comment(API, 1, "nuclearcat", "@kcibot trigger")
    box.advance(1)
    box.tick()
    last = deployments(box)[-1]
    assert (last["id"], last["cycle"], last["trigger"]) == (3, "full", "command")
    assert box.hub.reactions(trig) == ["eyes"]
    assert box.tick().lines[-1].startswith("tick: ")  # the command is used up
    assert len(deployments(box)) == 3

    # Statuses: kcistage/staging, the most the head has shown: pending during its first
    # deployment, then its full-cycle success; deployments 2 and 3 showed no more: not written.
    statuses = box.hub.statuses[sha]
    assert {s["context"] for s in statuses} == {"kcistage/staging"}
    assert [s["state"] for s in statuses] == ["pending", "success"]
    assert "full cycle" in statuses[1]["description"]
    assert "deployment 1" in statuses[1]["description"]
    # One comment per head SHA, saying the same: never edited by deployments 2 and 3.
    bodies = sha_comments(box, API, 1)
    assert len(bodies) == 1 and "Deployment 1" in bodies[0] and "Deployment 2" not in bodies[0]
    assert sha[:12] in bodies[0]
    mine = [c for c in box.hub.comments(f"{OWNER}/{API}", 1) if "kcistage:sha=" in c["body"]]
    assert mine[0]["updated_at"] == mine[0]["created_at"]
    # PR 5 passed a fuller cycle in deployment 3 (partial in 2): its status and comment say so
    assert [s["state"] for s in box.hub.statuses[newcomer]] == ["pending", "success", "success"]
    assert "Deployment 3" in sha_comments(box, PIPE, 5)[0]

    # A new push -> a second comment; a conflicting PR is left out and told why.
    box.advance(1)
    sha_b = box.push(API, 1, {"api/main.py": "app = 11\n"})
    box.open_pr(API, 2, "broonie", {"api/main.py": "app = 2\n"})
    box.tick()  # the first change: settle and throttle start counting
    box.advance(31)
    box.tick()
    last = deployments(box)[-1]
    assert (last["id"], last["result"]) == (4, "success")
    assert [(e["number"], e["reason"]) for e in last["left_out"]] == [(2, "conflict")]
    assert pr(box, API, 2)["state"] == "excluded" and "conflict" in pr(box, API, 2)["reason"]
    conflict = sha_comments(box, API, 2)
    assert len(conflict) == 1 and "conflict" in conflict[0]
    assert len(sha_comments(box, API, 1)) == 2
    assert sha_b[:12] in sha_comments(box, API, 1)[1] and "Deployment 4" in sha_comments(box, API, 1)[1]
    assert "Deployment 4" not in sha_comments(box, API, 1)[0]

    # A failing deployment: failure statuses; the single suspect is blamed on its PR.
    box.advance(1)
    broken = box.open_pr(PIPE, 3, "broonie", {"BREAKS_STAGING": "yes\n"})
    box.tick()
    box.advance(31)
    box.tick()
    last = deployments(box)[-1]
    assert (last["id"], last["result"]) == (5, "failed")
    assert [s["state"] for s in box.hub.statuses[broken]] == ["pending", "failure"]
    assert "deployment 5" in box.hub.statuses[broken][-1]["description"]
    # sha_b showed success in deployment 4: a later failure does not take that back
    assert [s["state"] for s in box.hub.statuses[sha_b]] == ["pending", "success"]
    assert "deployment 4" in box.hub.statuses[sha_b][-1]["description"]
    box.advance(1)
    box.tick()  # the culprit search re-deploys the last good target: it succeeds
    assert deployments(box)[-1]["result"] == "success"
    assert pr(box, PIPE, 3)["state"] == "excluded" and "culprit" in pr(box, PIPE, 3)["reason"]
    assert any("culprit" in body for body in sha_comments(box, PIPE, 3))


# -- 4. request budget ----------------------------------------------------------------------
def test_request_budget_idle_and_after_one_push(sandbox: Sandbox) -> None:
    box = sandbox
    heads = {}
    for i in range(30):
        repo = (API, PIPE, CORE)[i % 3]
        heads[i + 1] = box.open_pr(repo, i + 1, "broonie", {f"doc/pr-{i + 1}.md": f"{i}\n"})
    box.tick()  # the first tick: every page fetched once, C set
    box.hub.reset_log()
    box.advance(1)
    box.tick()
    counts = box.hub.counts()
    assert counts["counted"] == 0, counts
    per_repo: dict[str, int] = {}
    for request in box.hub.requests:
        repo = request["path"].split("/")[3]
        per_repo[repo] = per_repo.get(repo, 0) + 1
    assert set(per_repo) == {API, PIPE, CORE} and max(per_repo.values()) <= 3, per_repo
    # the base branches come from GitHub's branch endpoint, conditionally (no git ls-remote)
    branches = [r for r in box.hub.requests if r["route"] == "GET /repos/{o}/{r}/branches/{branch}"]
    assert sorted(r["path"].split("/")[3] for r in branches) == sorted([API, PIPE, CORE])
    assert {r["status"] for r in branches} == {304}
    assert not writes(box)

    # One deployment of all 30 (it writes statuses and comments), then idle costs nothing again.
    box.advance(5)
    box.tick()
    assert sum(len(e["prs"]) for e in deployments(box)[-1]["target"].values()) == 30
    spent = []
    for _ in range(3):  # the tool's own new comments come back once, then the watermark settles
        box.hub.reset_log()
        box.advance(1)
        box.tick()
        spent.append(box.hub.counts()["counted"])
        assert box.hub.counts()["requests"] <= 9 and not writes(box)
    assert spent[0] <= 3 and spent[-1] == 0, spent

    box.advance(1)
    box.push(PIPE, 2, {"doc/pr-2.md": "pushed\n"})
    box.hub.reset_log()
    box.tick()
    assert box.hub.counts()["counted"] <= 5, box.hub.counts()
    assert box.state()["prs"][f"{PIPE}#2"]["sha"] != heads[2]
    assert not writes(box)  # waiting for settle: nothing said yet


# -- 5. faults through the CLI --------------------------------------------------------------
def test_cli_faults_exit_codes_and_state_untouched(sandbox: Sandbox, cli) -> None:
    box = sandbox
    box.open_pr(API, 1, "broonie", {"api/main.py": "app = 1\n"})
    first = cli("tick")
    assert first.returncode == 0, first.stderr
    state_file = box.root / "state" / "state.json"
    before = state_file.read_bytes()

    # 5xx beyond the retries: exit 3, state byte-for-byte unchanged.
    box.hub.fail_next(4, 502)
    box.advance(1)
    done = cli("tick")
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "GitHub unreachable" in done.stderr and TOKEN not in done.stderr + done.stdout
    assert state_file.read_bytes() == before

    # 403 with remaining 0: exit 3, then no request at all until the reset passes.
    box.hub.rate_limit_next(1, status=403, reset_in=600)
    done = cli("tick")
    assert done.returncode == 3 and "rate limit" in done.stderr, done.stderr
    assert state_file.read_bytes() == before
    box.hub.reset_log()
    box.advance(5)
    done = cli("tick")
    assert done.returncode == 3 and box.hub.requests == [], (done.stdout, box.hub.requests)
    box.advance(6)
    done = cli("tick")
    assert done.returncode == 0, done.stderr
    assert box.hub.requests, "polls again once the reset time passed"

    # 429 with retry-after: the same.
    box.hub.rate_limit_next(1, status=429, retry_after=120)
    box.advance(1)
    done = cli("tick")
    assert done.returncode == 3, done.stderr
    box.hub.reset_log()
    box.advance(1)
    done = cli("tick")
    assert done.returncode == 3 and box.hub.requests == []
    box.advance(1.5)
    done = cli("tick")
    assert done.returncode in (0, 1) and box.hub.requests, done.stderr

    # A wrong token: exit 2, a clear message that never shows a token.
    wrong = "ghp_wrongwrongwrong0123456789"
    (box.root / "token").write_text(wrong + "\n")
    before = state_file.read_bytes()
    box.advance(1)
    done = cli("tick")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "token" in done.stderr and "401" in done.stderr
    assert wrong not in done.stdout + done.stderr and TOKEN not in done.stdout + done.stderr
    assert state_file.read_bytes() == before


# -- 6. dry runs ----------------------------------------------------------------------------
def test_dry_run_writes_nothing_runs_nothing_and_ignores_the_lock(sandbox: Sandbox, cli) -> None:
    box = sandbox
    prime(box)
    sha = box.open_pr(PIPE, 8, "octo-dev", {"src/trigger.py": "T = 8\n"})
    box.advance(1)
    box.tick()
    box.advance(1)  # GitHub's times have whole seconds: the head must be seen before the command
    cmd = box.comment(PIPE, 8, "nuclearcat", "@kcibot deploy")
    box.advance(1)
    before, records = state_bytes(box), len(box.step_records())
    box.hub.reset_log()
    with statefile.Lock(box.root / "state" / "state.json"):
        held = cli("tick")
        assert held.returncode == 75, held.stderr
        dry = cli("tick", "--dry-run")
        manual = cli("deploy", "--full", "--dry-run")
    assert dry.returncode == 0 and manual.returncode == 0, (dry.stderr, manual.stderr)
    assert re.search(r"^decision: partial \(command\)( at \S+)?: \S", dry.stdout, re.M), dry.stdout
    assert f"{PIPE}: " in dry.stdout and f"#8@{sha[:12]}" in dry.stdout
    assert "decision: full (manual)" in manual.stdout, manual.stdout
    assert f"#8@{sha[:12]}" in manual.stdout
    assert box.hub.requests and not writes(box), writes(box)
    assert box.hub.reactions(cmd) == []
    assert len(box.step_records()) == records
    assert state_bytes(box) == before

    # The real tick afterwards acts on the command that the dry runs only looked at.
    done = cli("tick")
    assert done.returncode == 0, done.stderr
    assert box.hub.reactions(cmd) == ["eyes"]
    assert deployments(box)[-1]["trigger"] == "command"


# -- 7. security ----------------------------------------------------------------------------
DUMP = ("import json, os, sys\n"
        "with open(sys.argv[1], 'a') as out:\n"
        "    out.write(json.dumps({'argv': sys.argv, 'env': dict(os.environ)}) + '\\n')\n")


def test_untrusted_text_never_runs_and_the_token_never_leaks(tmp_path: Path) -> None:
    root = tmp_path / "sb"
    dumps = tmp_path / "env-dumps.jsonl"
    steps = [s for s in sandbox_steps(root / "step-records.jsonl", "http://127.0.0.1:9/")
             if "drain" not in s]
    steps.append({"name": "dump-env", "run": [sys.executable, "-c", DUMP, str(dumps)]})
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}); touch {marker} | `touch {marker}` && echo \"$HOME\" > {marker}"
    with Sandbox(root, overrides={"steps": steps}) as box:
        sha = box.open_pr(API, 1, "broonie", {"api/main.py": "app = 'x'\n"}, title=evil)
        box.open_pr(PIPE, 2, "octo-dev", {"src/trigger.py": "T = 2\n"}, title=evil)
        env = {"GITHUB_TOKEN": TOKEN, "GH_TOKEN": TOKEN, "KCISTAGE_EXTRA": "kept"}
        first = run_cli(box.config_path, "-v", "tick", now=box.clock(), env=env)
        assert first.returncode == 0, first.stderr
        box.advance(1)
        box.comment(PIPE, 2, "a-wai", f"{evil}\n@kcibot deploy $(touch {marker})\n@kcibot {evil}")
        box.comment(PIPE, 2, "octo-dev", f"@kcibot deploy `touch {marker}`")
        box.advance(5)
        done = run_cli(box.config_path, "-v", "tick", now=box.clock(), env=env)
        assert done.returncode == 0, done.stderr
        out = first.stdout + first.stderr + done.stdout + done.stderr
        assert deployments(box)[-1]["target"][API]["prs"] == [[1, sha]]
        assert pr(box, API, 1)["title"] == evil  # stored as data, shown as data
        texts = replies(box, PIPE, 2)
        assert len(texts) == 2 and "not a commit id" in texts[0] and "not allowed" in texts[1]
        assert pr(box, PIPE, 2)["approval"] is None

        assert not marker.exists()
        runs = [json.loads(line) for line in dumps.read_text().splitlines()]
        assert len(runs) == 1
        assert runs[0]["env"].get("KCISTAGE_EXTRA") == "kept"  # the tool's environment is passed on
        assert "GITHUB_TOKEN" not in runs[0]["env"] and "GH_TOKEN" not in runs[0]["env"]
        for run in runs:
            assert not any(TOKEN in v for v in run["env"].values())
            assert not any("touch" in a for a in run["argv"][3:])
            assert not any("touch" in v for v in run["env"].values())
        records = box.step_records()
        assert len(records) == 6
        for record in records:
            assert record["token_seen"] is False
            assert not any(TOKEN in v or "touch" in v for v in record["env"].values())
        assert TOKEN not in out
        assert TOKEN.encode() not in state_bytes(box)
        workdir = root / "work"
        scanned = 0
        for path in workdir.rglob("*"):
            if path.is_file() and "objects" not in path.parts:
                assert TOKEN.encode() not in path.read_bytes(), path
                scanned += 1
        configs = [p for p in workdir.rglob("config") if p.is_file()]
        assert scanned > 10 and configs, "the checkouts and logs were scanned"
        for config in configs:  # git.py stores no remote; if one appears it must be token-free
            assert TOKEN.encode() not in config.read_bytes() and b"@" not in config.read_bytes()
