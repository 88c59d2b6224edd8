"""GitHub App authentication end to end: JWT, installations, renewed tokens, pushes over HTTP.

The sandbox acts as a GitHub App (the stand-in checks every JWT against the App's public key) and
serves its repositories through `git http-backend` behind Basic authentication, so a deployment
pushes with the App's installation token handed to git by the credential helper.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kcistage.errors import AuthError, ConfigError, ServiceError
from kcistage.sandbox.sandbox import APP_ID, APP_SLUG, OWNER, Sandbox, write_app_key
from kcistage.shell.credentials import AppCredentials, read_private_key
from kcistage.shell.git import Git
from kcistage.shell.github import GitHub

API = "kernelci-api"
BOT = f"{APP_SLUG}[bot]"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sb", app=True, git_http=True) as sandbox:
        yield sandbox


def _files_holding(root: Path, secrets: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s[:8]}…" for s in secrets if s.encode() in data]
    return found


def test_deploys_as_the_app_and_pushes_with_its_installation_token(box: Sandbox) -> None:
    sha = box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
    assert box.tick().code == 0
    box.advance(31)
    result = box.tick()
    assert result.code == 0, result.lines
    record = box.state()["deployments"][-1]
    assert record["result"] == "success", record
    # The staging branches went through the authenticated HTTP server with an App token.
    assert box.repos[API].head("staging.kernelci.org") == record["heads"][API]
    assert box.git_http is not None and box.git_http.pushes() == 3
    assert {e["user"] for e in box.git_http.log if e["status"] == 200} == {"x-access-token"}
    app = box.hub.app
    # One installation token for both runs: kept in the runtime folder between them.
    assert app is not None and app.jwt_checks >= 2 and len(app.issued) == 1
    # What the tool wrote on GitHub is written by the App's bot.
    assert {s["creator"]["login"] for s in box.hub.statuses[sha]} == {BOT}
    assert {c["user"]["login"] for c in box.hub.comments(f"{OWNER}/{API}", 5)} <= {BOT}
    # No installation token is in the workdir, the state or git configs (only its own file).
    assert _files_holding(box.root / "work", app.issued) == []
    assert _files_holding(box.root / "state", app.issued) == []


def test_installation_token_renewed_before_it_expires(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", app=True, git_http=True) as box:
        assert box.hub.app is not None
        box.hub.app.token_ttl = timedelta(minutes=30)
        creds = AppCredentials(box.hub.url, APP_ID, read_private_key(box.root / "app.pem"),
                               box.clock)
        full = f"{OWNER}/{API}"
        first = creds.token(full)
        box.advance(19)  # 11 minutes left: still good
        assert creds.token(full) == first and creds.renewals == 1
        box.advance(2)  # 9 minutes left: renewed
        second = creds.token(full)
        assert second != first and creds.renewals == 2
        expiry = creds.expires(full)
        assert expiry is not None and expiry - box.clock() > timedelta(minutes=29)
        box.advance(10)  # the first token has expired on the stand-in: the second still works
        assert first not in box.hub.valid_tokens() and second in box.hub.valid_tokens()
        gh = GitHub(box.config().github, creds, {}, box.clock, pace=0.0, backoff=0.01)
        gh.set_status(box.config().repo(API), "a" * 40, "success", "renewed")
        assert box.hub.statuses["a" * 40][0]["creator"]["login"] == BOT
        # git gets the renewed token too: the expired one would be refused.
        repo = box.config().repo(API)
        Git(box.root / "work", credential=lambda r: creds.token(r.github)).can_push(repo)
        with pytest.raises(ServiceError, match="refused the credential"):
            Git(box.root / "work", credential=lambda r: first).can_push(repo)


def test_own_comments_recognised_by_the_app_login(box: Sandbox) -> None:
    creds = AppCredentials(box.hub.url, APP_ID, read_private_key(box.root / "app.pem"),
                           box.clock)
    gh = GitHub(box.config().github, creds, {}, box.clock, pace=0.0, backoff=0.01)
    repo = box.config().repo(API)
    box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
    gh.poll([repo])  # primes the comment watermark
    box.advance(1)
    box.comment(API, 5, BOT, "@kcibot deploy")  # the App itself, without the hidden marker
    box.comment(API, 5, "nuclearcat", "@kcibot deploy")
    seen = gh.poll([repo]).comments
    assert [c.author for c in seen] == ["nuclearcat"]
    assert gh.is_own(BOT) and gh.is_own("KCIBOT") and not gh.is_own("nuclearcat")


def test_wrong_key_is_a_clear_auth_error(box: Sandbox, tmp_path: Path) -> None:
    write_app_key(tmp_path / "other.pem")
    creds = AppCredentials(box.hub.url, APP_ID, read_private_key(tmp_path / "other.pem"),
                           box.clock)
    with pytest.raises(AuthError, match=r"rejected the App's JWT .*\(401\).*github.app.id"):
        creds.token(f"{OWNER}/{API}")
    wrong_id = AppCredentials(box.hub.url, APP_ID + 1, read_private_key(box.root / "app.pem"),
                              box.clock)
    with pytest.raises(AuthError, match="401"):
        wrong_id.slug()


def test_app_not_installed_on_a_repo(box: Sandbox) -> None:
    box.hub.add_repo("someone-else/tool")
    creds = AppCredentials(box.hub.url, APP_ID, read_private_key(box.root / "app.pem"),
                           box.clock)
    with pytest.raises(AuthError, match="no installation of the App on someone-else/tool"):
        creds.token("someone-else/tool")
    assert creds.slug() == APP_SLUG and creds.installation(f"{OWNER}/{API}") == 77


def test_unreadable_or_bad_key_files(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match=r"github.app.private_key_file .*missing.pem"):
        read_private_key(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        read_private_key(bad)


def test_cli_tick_with_a_missing_key_exits_2_naming_the_key(box: Sandbox) -> None:
    (box.root / "app.pem").unlink()
    done = subprocess.run([sys.executable, "-m", "kcistage", "--config", str(box.config_path),
                           "--now", box.clock().isoformat(), "tick"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "github.app.private_key_file" in done.stderr and "app.pem" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1




def test_refused_push_mid_deployment_exits_3_with_one_line_and_no_token(tmp_path: Path) -> None:
    """The real CLI: the remote refuses the push (as GitHub does a token without write access)."""
    with Sandbox(tmp_path / "sb", git_http=True) as box:
        assert box.git_http is not None
        box.git_http.read_only = {API}
        box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})
        done = subprocess.run([sys.executable, "-m", "kcistage", "--config", str(box.config_path),
                               "--now", box.clock().isoformat(), "deploy"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 3, (done.stdout, done.stderr)
        said = [x for x in (done.stdout + done.stderr).splitlines() if "git push failed" in x]
        assert len(said) == 1, (done.stdout, done.stderr)
        assert "kernelci-api: git push failed: 127.0.0.1:" in said[0] and "403" in said[0]
        token = (box.root / "token").read_text().strip()
        assert token not in done.stdout + done.stderr
        record = box.state()["deployments"][-1]
        assert record["result"] != "running"
        assert _files_holding(box.root / "work", [token]) == []
        assert _files_holding(box.root / "state", [token]) == []


def test_own_comment_found_by_marker_as_the_app_after_a_lost_state(box: Sandbox) -> None:
    """A state that lost the comment id: the App finds its own marked comment, not an impostor's."""
    repo = box.config().repo(API)
    sha = box.open_pr(API, 5, "broonie", {"api/models.py": "MODELS = [5]\n"})

    def client() -> GitHub:
        creds = AppCredentials(box.hub.url, APP_ID, read_private_key(box.root / "app.pem"),
                               box.clock)
        return GitHub(box.config().github, creds, {}, box.clock, pace=0.0, backoff=0.01)

    first = client().upsert_pr_comment(repo, 5, sha, "tested: partial", None)
    marker = f"<!-- kcistage:sha={sha} -->"
    box.comment(API, 5, "mallory", f"fake\n\n{marker}")  # anyone can paste the marker
    again = client().upsert_pr_comment(repo, 5, sha, "tested: full", None)  # fresh cache
    assert again == first
    mine = [c for c in box.hub.comments(f"{OWNER}/{API}", 5) if c["user"]["login"] == BOT]
    assert len(mine) == 1 and mine[0]["body"].startswith("tested: full")


@pytest.mark.parametrize("kind", ["EC", "Ed25519", "broken"])
def test_a_key_github_does_not_take_is_a_config_error_in_tick_and_check(box: Sandbox,
                                                                        kind: str) -> None:
    """GitHub signs App JWTs with RS256 only: another key type, or a broken PEM, is exit 2 with
    one line naming the key, in `tick` (not an internal error) and in `check` (its FAIL line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key_file = box.root / "app.pem"
    if kind == "broken":
        key_file.write_text(key_file.read_text()[:200])
    else:
        key = ec.generate_private_key(ec.SECP256R1()) if kind == "EC" \
            else ed25519.Ed25519PrivateKey.generate()
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    for command in ("tick", "check"):
        done = subprocess.run([sys.executable, "-m", "kcistage", "--config", str(box.config_path),
                               "--now", box.clock().isoformat(), command],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr
        said = done.stderr.strip().splitlines() if command == "tick" else \
            [x for x in done.stdout.splitlines() if x.startswith("FAIL credential: ")]
        assert len(said) == 1, (command, done.stdout, done.stderr)
        assert f"github.app.private_key_file {key_file}: " in said[0]
        assert "GitHub expects the App's RSA private key in PEM" in said[0]
        if kind != "broken":
            assert f"key type {kind};" in said[0]
