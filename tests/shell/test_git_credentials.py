"""Git over smart HTTP with a token: the credential helper against a real authenticated server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcistage.core.settings import Repo
from kcistage.errors import ServiceError
from kcistage.sandbox.git_http import GitHttpServer
from kcistage.sandbox.localrepo import LocalRepo
from kcistage.shell import git_credential as credential
from kcistage.shell.git import Git
from kcistage.shell.git_text import http_remote

TOKEN = "ghs_s3cretT0kenForTests1234567890abcdef"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[GitHttpServer]:
    LocalRepo.create(tmp_path / "srv" / "api.git", {"README": "base\n", "api/main.py": "v = 0\n"})
    with GitHttpServer(tmp_path / "srv", {TOKEN}) as srv:
        yield srv


def _repo(server: GitHttpServer) -> Repo:
    return Repo(name="kernelci-api", github="kernelci/kernelci-api",
                url=server.repo_url("api"), push=True)


def _contains_token(root: Path) -> list[Path]:
    """Every file under root whose bytes hold the token."""
    return [p for p in root.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


def test_push_with_the_token_is_accepted_and_leaves_it_nowhere(tmp_path: Path,
                                                                server: GitHttpServer) -> None:
    remote = LocalRepo(tmp_path / "srv" / "api.git")
    pr = remote.open_pr(3, {"three.txt": "3\n"})
    repo = _repo(server)
    git = Git(tmp_path / "work", credential=lambda r: TOKEN)
    base = git.remote_head(repo)
    build = git.build(repo, base, [(3, pr)])
    start = time.monotonic()
    git.push(repo)
    took = time.monotonic() - start
    assert remote.head("staging.kernelci.org") == build.head
    assert server.pushes() == 1
    # The first request of each command is refused (401) and retried with the helper's answer.
    assert {e["user"] for e in server.log if e["status"] == 200} == {credential.USERNAME}
    assert any(e["status"] == 401 for e in server.log)
    assert _contains_token(tmp_path / "work") == []
    config = subprocess.run(["git", "config", "--local", "--list"], capture_output=True,
                            text=True, cwd=git.checkout_dir(repo), check=True).stdout
    assert TOKEN not in config and "credential" not in config
    assert took < 5, f"a push through the helper took {took:.2f}s"


def test_wrong_or_missing_token_is_refused_without_showing_it(tmp_path: Path,
                                                              server: GitHttpServer) -> None:
    remote = LocalRepo(tmp_path / "srv" / "api.git")
    repo = _repo(server)
    ok = Git(tmp_path / "work", credential=lambda r: TOKEN)
    ok.build(repo, ok.remote_head(repo), [])
    wrong = "ghs_wrongwrongwrong"
    for git in (Git(tmp_path / "work", credential=lambda r: wrong), Git(tmp_path / "work")):
        with pytest.raises(ServiceError) as err:
            git.push(repo)
        message = str(err.value)
        assert err.value.exit_code == 3
        assert "\n" not in message and wrong not in message and TOKEN not in message
        assert message.startswith("kernelci-api: git push failed: 127.0.0.1:")
        assert "refused the credential" in message
        assert server.url not in message
    assert server.pushes() == 0
    with pytest.raises(RuntimeError):
        remote.head("staging.kernelci.org")


def test_no_git_config_helper_sees_the_token(tmp_path: Path, server: GitHttpServer) -> None:
    """A `credential.helper=store` in the user's git config is dropped: nothing written to disk."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    repo = _repo(server)
    git = Git(tmp_path / "work", credential=lambda r: TOKEN)
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        git.build(repo, git.remote_head(repo), [])
        git.push(repo)
    finally:
        if old is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = old
    assert server.pushes() == 1
    assert not (home / ".git-credentials").exists()
    assert _contains_token(home) == []


def test_can_push_proves_access_without_touching_the_checkouts(tmp_path: Path,
                                                               server: GitHttpServer) -> None:
    remote = LocalRepo(tmp_path / "srv" / "api.git")
    repo = _repo(server)
    Git(tmp_path / "work", credential=lambda r: TOKEN).can_push(repo)
    assert not (tmp_path / "work").exists()
    assert server.pushes() == 0  # a dry run sends nothing
    with pytest.raises(ServiceError, match="push --dry-run failed"):
        Git(tmp_path / "work", credential=lambda r: "nope").can_push(repo)
    with pytest.raises(RuntimeError):
        remote.head("staging.kernelci.org")


def test_helper_answers_only_its_host_and_only_get(tmp_path: Path) -> None:
    with credential.token_fd(TOKEN) as fd:
        command = credential.helper_command(fd, "https", "github.com")
        assert TOKEN not in command
        argv = [sys.executable, "-m", "kcistage.shell.git_credential", "--fd", str(fd),
                "--protocol", "https", "--host", "github.com"]

        def ask(action: str, text: str) -> str:
            return subprocess.run(argv + [action], input=text, capture_output=True, text=True,
                                  pass_fds=(fd,), check=True).stdout

        good = "protocol=https\nhost=github.com\npath=kernelci/x.git\n\n"
        assert ask("get", good) == f"username=x-access-token\npassword={TOKEN}\n"
        assert ask("get", good) == f"username=x-access-token\npassword={TOKEN}\n"  # re-readable
        assert ask("get", "protocol=https\nhost=evil.example\n\n") == ""
        assert ask("get", "protocol=http\nhost=github.com\n\n") == ""
        assert ask("store", good + f"username=x\npassword={TOKEN}\n") == ""
        assert ask("erase", good) == ""


def test_http_remote_kinds() -> None:
    assert http_remote("https://github.com/kernelci/kernelci-api.git") == ("https", "github.com")
    assert http_remote("http://127.0.0.1:8123/a.git") == ("http", "127.0.0.1:8123")
    assert http_remote("git@github.com:kernelci/kernelci-api.git") is None
    assert http_remote("ssh://git@github.com/kernelci/kernelci-api.git") is None
    assert http_remote("/srv/git/api.git") is None
