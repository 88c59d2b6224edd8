"""Git against a remote having a bad day: silent, refusing a push, or with an invalid certificate.

A real smart-HTTP server on 127.0.0.1 (sandbox/git_http.py) and real git: every network command
ends within its bound, its whole process group with it, and says which host refused and why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcistage.core.settings import Repo
from kcistage.errors import ServiceError
from kcistage.sandbox.git_http import GitHttpServer
from kcistage.sandbox.localrepo import LocalRepo
from kcistage.shell.git import Git, GitStopped
from kcistage.shell.git_text import remote_host

TOKEN = "ghs_remoteFailuresToken0123456789abcdef"


def _git_processes(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line mentions `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _gone(marker: str, within: float = 5.0) -> bool:
    """True once no process mentions `marker` (a killed group is reaped in a moment)."""
    deadline = time.monotonic() + within
    while _git_processes(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _server(tmp_path: Path, tls: bool = False) -> GitHttpServer:
    LocalRepo.create(tmp_path / "srv" / "api.git", {"README": "base\n"})
    return GitHttpServer(tmp_path / "srv", {TOKEN}, tls=tls)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[GitHttpServer]:
    with _server(tmp_path) as srv:
        yield srv


def _repo(server: GitHttpServer) -> Repo:
    return Repo(name="kernelci-api", github="kernelci/kernelci-api",
                url=server.repo_url("api"), push=True)


def test_a_silent_remote_ends_at_the_timeout_with_its_process_group(
        tmp_path: Path, server: GitHttpServer) -> None:
    server.hang["api"] = ""
    git = Git(tmp_path / "work", credential=lambda r: TOKEN, timeout=2)
    started = time.monotonic()
    with pytest.raises(ServiceError) as err:
        git.remote_head(_repo(server))
    took = time.monotonic() - started
    assert server.hung.is_set()
    assert 1.9 < took < 30, took  # near the bound (a busy machine spawns slowly)
    message = str(err.value)
    assert message.startswith(f"kernelci-api: git ls-remote failed: {remote_host(server.url)} "
                              "did not finish in time (git ls-remote timed out after 2s)")
    assert err.value.exit_code == 3
    assert _gone(server.url), "git outlived its timeout"


def test_the_low_speed_limit_ends_a_silent_transfer_before_the_timeout(
        tmp_path: Path, server: GitHttpServer) -> None:
    server.hang["api"] = "git-upload-pack"  # the ref list comes; the pack never does
    remote = LocalRepo(tmp_path / "srv" / "api.git")
    git = Git(tmp_path / "work", credential=lambda r: TOKEN, timeout=120, low_speed_time=1)
    started = time.monotonic()
    with pytest.raises(ServiceError) as err:
        git.build(_repo(server), remote.head("main"), [])
    assert time.monotonic() - started < 60  # not the 120 s timeout
    assert "too slow" in str(err.value).lower(), err.value  # curl's words, through git


def test_stop_ends_a_hanging_git_at_once(tmp_path: Path, server: GitHttpServer) -> None:
    """What SIGTERM does to a run: stop() answers a reason, git's group goes at once."""
    server.hang["api"] = ""
    git = Git(tmp_path / "work", credential=lambda r: TOKEN, timeout=600,
              stop=lambda: "stopped by SIGTERM" if server.hung.is_set() else None)
    started = time.monotonic()
    with pytest.raises(GitStopped, match="git ls-remote stopped: stopped by SIGTERM"):
        git.remote_head(_repo(server))
    assert time.monotonic() - started < 10  # not the 600 s timeout
    assert _gone(server.url), "git outlived the stop"


def test_protected_branch_refusal_names_the_host_and_githubs_reason(
        tmp_path: Path, server: GitHttpServer) -> None:
    repo = _repo(server)
    server.protect("api", repo.staging_branch)
    git = Git(tmp_path / "work", credential=lambda r: TOKEN)
    git.build(repo, git.remote_head(repo), [])
    with pytest.raises(ServiceError) as err:
        git.push(repo)
    message = str(err.value)
    assert message.startswith(f"kernelci-api: git push failed: {remote_host(server.url)}: ")
    assert "GH006: Protected branch update failed for refs/heads/staging.kernelci.org" in message
    assert "[remote rejected]" in message and "\n" not in message
    assert server.url not in message and TOKEN not in message


def test_an_invalid_certificate_is_refused_and_said(tmp_path: Path) -> None:
    with _server(tmp_path, tls=True) as server:
        assert server.url.startswith("https://")
        git = Git(tmp_path / "work", credential=lambda r: TOKEN)
        with pytest.raises(ServiceError) as err:
            git.remote_head(_repo(server))
        message = str(err.value)
        assert message.startswith(f"kernelci-api: git ls-remote failed: "
                                  f"{remote_host(server.url)}: fatal: ")
        assert "certificate" in message  # curl's words (OpenSSL or GnuTLS builds differ)
        assert server.url not in message
        assert not server.log or all(e["user"] is None for e in server.log)  # no token sent


def test_remote_host_of_each_kind_of_url() -> None:
    assert remote_host("https://github.com/kernelci/kernelci-api.git") == "github.com"
    assert remote_host("https://x-access-token:t@ghe.example:8443/a/b.git") == "ghe.example:8443"
    assert remote_host("git@github.com:kernelci/kernelci-api.git") == "github.com"
    assert remote_host("ssh://git@github.com/kernelci/x.git") == "github.com"
    assert remote_host("/srv/git/api.git") == "/srv/git/api.git"
