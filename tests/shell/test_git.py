"""Tests of the deployment git layer against real local bare repositories."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from kcistage.core.enums import Cause
from kcistage.core.settings import Repo
from kcistage.errors import KcistageError, ServiceError
from kcistage.sandbox.localrepo import LocalRepo
from kcistage.shell.git import Build, Git
from kcistage.shell.git_text import GitError


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


def _files(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text() for p in sorted(path.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(path).parts}


@pytest.fixture()
def remote(tmp_path: Path) -> LocalRepo:
    return LocalRepo.create(tmp_path / "remote" / "api.git",
                            {"README": "base\n", "api/main.py": "v = 0\n", "conf.txt": "a\n"})


def _repo(remote: LocalRepo, **kw: object) -> Repo:
    return Repo(name="kernelci-api", github="kernelci/kernelci-api", url=remote.url, **kw)


def test_build_merges_prs_in_ascending_order(tmp_path: Path, remote: LocalRepo) -> None:
    base = remote.head("main")
    pr5 = remote.open_pr(5, {"five.txt": "5\n"})
    pr2 = remote.open_pr(2, {"api/main.py": "v = 2\n"})
    pr9 = remote.open_pr(9, {"docs/nine.md": "9\n"})
    git = Git(tmp_path / "work")
    build = git.build(_repo(remote), base, [(9, pr9), (2, pr2), (5, pr5)])
    assert isinstance(build, Build)
    assert build.merged == [(2, pr2), (5, pr5), (9, pr9)]
    assert build.left_out == []
    checkout = git.checkout_dir(_repo(remote))
    assert checkout == tmp_path / "work" / "repos" / "kernelci-api"
    assert _files(checkout) == {"README": "base\n", "api/main.py": "v = 2\n", "conf.txt": "a\n",
                                "five.txt": "5\n", "docs/nine.md": "9\n"}
    assert _git(checkout, "rev-parse", "HEAD") == build.head
    assert _git(checkout, "symbolic-ref", "--short", "HEAD") == "staging.kernelci.org"
    # First-parent chain: three merge commits on top of the base, second parents the PRs.
    log = _git(checkout, "log", "--first-parent", "--format=%H %P|%s|%an <%ae>", "HEAD")
    lines = [line.split("|") for line in log.splitlines()]
    assert [s for _, s, _ in lines[:3]] == [f"Merge PR #9 ({pr9[:12]})", f"Merge PR #5 ({pr5[:12]})",
                                            f"Merge PR #2 ({pr2[:12]})"]
    assert [ids.split()[2] for ids, _, _ in lines[:3]] == [pr9, pr5, pr2]
    assert lines[3][0].split()[0] == base
    assert {who for _, _, who in lines[:3]} == {"kcistage <kcistage@localhost>"}


def test_base_sha_is_the_one_given(tmp_path: Path, remote: LocalRepo) -> None:
    old_base = remote.head("main")
    remote.commit("main", {"README": "newer\n"}, "main moved")
    git = Git(tmp_path / "work")
    build = git.build(_repo(remote), old_base, [])
    assert build.head == old_base  # no PR: the staging head is the base itself
    assert build.merged == [] and build.left_out == []
    assert _files(git.checkout_dir(_repo(remote)))["README"] == "base\n"


def test_conflicting_pr_left_out_rest_merged(tmp_path: Path, remote: LocalRepo) -> None:
    base = remote.head("main")
    pr1 = remote.open_pr(1, {"conf.txt": "one\n"})
    pr2 = remote.open_pr(2, {"conf.txt": "two\n"})  # conflicts with #1
    pr3 = remote.open_pr(3, {"three": "3\n"})
    git = Git(tmp_path / "work")
    build = git.build(_repo(remote), base, [(1, pr1), (2, pr2), (3, pr3)])
    assert build.merged == [(1, pr1), (3, pr3)]
    assert build.left_out == [(2, pr2, "conflict")]
    assert build.before == {2: [(1, pr1)]}  # what #2 conflicted with: the base plus #1
    checkout = git.checkout_dir(_repo(remote))
    assert _files(checkout)["conf.txt"] == "one\n"
    assert _files(checkout)["three"] == "3\n"
    assert _git(checkout, "status", "--porcelain") == ""


def test_a_conflict_reports_what_was_merged_before_it(tmp_path: Path, remote: LocalRepo) -> None:
    base = remote.head("main")
    pr1 = remote.open_pr(1, {"one": "1\n"})
    pr2 = remote.open_pr(2, {"README": "changed by #2\n"})
    remote.commit("main", {"README": "changed on main\n"}, "main edits README")
    new_base = remote.head("main")
    pr3 = remote.open_pr(3, {"three": "3\n"})
    pr4 = remote.open_pr(4, {"one": "4\n"})  # conflicts with #1 only
    git = Git(tmp_path / "work")
    build = git.build(_repo(remote), new_base, [(1, pr1), (2, pr2), (3, pr3), (4, pr4)])
    assert build.merged == [(1, pr1), (3, pr3)]
    assert build.left_out == [(2, pr2, "conflict"), (4, pr4, "conflict")]
    # #2 conflicts with the base's own README change (after #1); #4 comes after #1 and #3
    assert build.before == {2: [(1, pr1)], 4: [(1, pr1), (3, pr3)]}
    assert git.build(_repo(remote), base, [(3, pr3)]).before == {}


def test_moved_pr_still_merges_decided_commit(tmp_path: Path, remote: LocalRepo) -> None:
    base = remote.head("main")
    decided = remote.open_pr(4, {"four": "decided\n"})
    remote.push_pr(4, {"four": "pushed later\n"})
    git = Git(tmp_path / "work")
    build = git.build(_repo(remote), base, [(4, decided)])
    assert build.merged == [(4, decided)]
    assert _files(git.checkout_dir(_repo(remote)))["four"] == "decided\n"


def test_force_pushed_pr_fetches_decided_commit_by_sha(tmp_path: Path,
                                                       remote: LocalRepo) -> None:
    base = remote.head("main")
    decided = remote.open_pr(4, {"four": "decided\n"})
    remote.commit("keep", {}, "keep decided reachable", parent=decided)
    # Force-push: the PR ref now points to an unrelated commit, not a descendant.
    remote.open_pr(4, {"four": "rewritten\n"})
    git = Git(tmp_path / "work")
    build = git.build(_repo(remote), base, [(4, decided)])
    assert build.merged == [(4, decided)]
    assert _files(git.checkout_dir(_repo(remote)))["four"] == "decided\n"


def test_unfetchable_commit_left_out_head_moved(tmp_path: Path, remote: LocalRepo) -> None:
    base = remote.head("main")
    pr1 = remote.open_pr(1, {"one": "1\n"})
    remote.open_pr(2, {"two": "2\n"})
    ghost = "1234567890abcdef1234567890abcdef12345678"
    git = Git(tmp_path / "work")
    build = git.build(_repo(remote), base, [(1, pr1), (2, ghost), (77, "ab" * 20)])
    assert build.merged == [(1, pr1)]
    assert build.left_out == [(2, ghost, Cause.HEAD_MOVED), (77, "ab" * 20, Cause.HEAD_MOVED)]
    assert "two" not in _files(git.checkout_dir(_repo(remote)))


def test_repeated_build_same_tree_and_reuses_checkout(tmp_path: Path,
                                                      remote: LocalRepo) -> None:
    base = remote.head("main")
    prs = [(1, remote.open_pr(1, {"one": "1\n"})), (2, remote.open_pr(2, {"two": "2\n"}))]
    git = Git(tmp_path / "work")
    repo = _repo(remote)
    first = git.build(repo, base, prs)
    checkout = git.checkout_dir(repo)
    tree = _git(checkout, "rev-parse", "HEAD^{tree}")
    marker = checkout / ".git" / "kept-marker"
    marker.write_text("x")
    (checkout / "stray-build-output").write_text("junk")  # cleaned by the rebuild
    (checkout / "README").write_text("locally edited\n")  # reset by the rebuild
    # All commits are local now: the rebuild works even with the remote gone.
    gone = Repo(name=repo.name, github=repo.github, url=str(tmp_path / "nowhere.git"))
    started = time.monotonic()
    second = git.build(gone, base, prs)
    elapsed = time.monotonic() - started
    assert marker.exists()
    assert second.merged == first.merged
    assert _git(checkout, "rev-parse", "HEAD^{tree}") == tree
    assert not (checkout / "stray-build-output").exists()
    assert (checkout / "README").read_text() == "base\n"
    assert elapsed < 5


def test_changed_files_between_builds(tmp_path: Path, remote: LocalRepo) -> None:
    base = remote.head("main")
    pr1 = remote.open_pr(1, {"api/main.py": "v = 1\n"})
    pr2 = remote.open_pr(2, {"docker/Dockerfile": "FROM x\n", "conf.txt": None})
    git = Git(tmp_path / "work")
    repo = _repo(remote)
    one = git.build(repo, base, [(1, pr1)])
    two = git.build(repo, base, [(1, pr1), (2, pr2)])
    assert git.changed_files(repo, one.head, two.head) == ["conf.txt", "docker/Dockerfile"]
    assert git.changed_files(repo, two.head, one.head) == ["conf.txt", "docker/Dockerfile"]
    assert git.changed_files(repo, one.head, one.head) == []
    assert git.changed_files(repo, None, two.head) is None
    assert git.changed_files(repo, "0" * 40, two.head) is None  # unknown in the checkout
    other = Repo(name="never-built", github="x/y", url=remote.url)
    assert git.changed_files(other, one.head, two.head) is None


def test_push_only_when_enabled(tmp_path: Path, remote: LocalRepo) -> None:
    base = remote.head("main")
    pr1 = remote.open_pr(1, {"one": "1\n"})
    git = Git(tmp_path / "work")
    quiet = _repo(remote)
    build = git.build(quiet, base, [(1, pr1)])
    git.push(quiet)
    with pytest.raises(RuntimeError):
        remote.head("refs/heads/staging.kernelci.org")
    pushing = _repo(remote, push=True)
    git.push(pushing)
    assert remote.head("refs/heads/staging.kernelci.org") == build.head
    # A rebuild without the PR rewrites history: the push is forced.
    rebuilt = git.build(pushing, base, [])
    git.push(pushing)
    assert remote.head("refs/heads/staging.kernelci.org") == rebuilt.head == base


def test_remote_head(tmp_path: Path, remote: LocalRepo) -> None:
    git = Git(tmp_path / "work")
    assert git.remote_head(_repo(remote)) == remote.head("main")
    with pytest.raises(ServiceError, match="kernelci-api.*'nope' not found"):
        git.remote_head(_repo(remote, base="nope"))
    secret = Repo(name="kernelci-api", github="x/y",
                  url="https://user:s3cr3t@127.0.0.1:9/none.git")
    with pytest.raises(ServiceError) as err:
        git.remote_head(secret)
    assert "kernelci-api" in str(err.value) and "s3cr3t" not in str(err.value)


def test_unknown_base_is_service_error(tmp_path: Path, remote: LocalRepo) -> None:
    with pytest.raises(ServiceError, match="kernelci-api: base commit"):
        Git(tmp_path / "work").build(_repo(remote), "12" * 20, [])


def test_unreachable_remote_is_service_error(tmp_path: Path, remote: LocalRepo) -> None:
    git = Git(tmp_path / "work")
    gone = Repo(name="kernelci-api", github="x/y", url=str(tmp_path / "nowhere.git"))
    with pytest.raises(ServiceError, match="kernelci-api"):
        git.build(gone, remote.head("main"), [])


@pytest.mark.parametrize("base, prs", [
    ("main", []),
    ("A" * 40, []),
    ("--upload-pack=touch /tmp/x", []),
    ("a" * 40, [(1, "HEAD")]),
    ("a" * 40, [(1, "-" + "a" * 39)]),
    ("a" * 40, [("1", "b" * 40)]),
    ("a" * 40, [(0, "b" * 40)]),
    ("a" * 40, [(True, "b" * 40)]),
])
def test_invalid_input_raises_before_any_git_call(tmp_path: Path, remote: LocalRepo,
                                                  base: str, prs: list) -> None:
    git = Git(tmp_path / "work")
    with pytest.raises(GitError):
        git.build(_repo(remote), base, prs)
    assert not (tmp_path / "work").exists()  # no checkout was even created
    if base != "a" * 40:
        with pytest.raises(KcistageError):
            git.changed_files(_repo(remote), base, "c" * 40)
        assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("field, value", [
    ("name", "../escape"), ("name", "-x"), ("staging_branch", "a:b"),
    ("staging_branch", "-f"), ("base", "a..b"),
])
def test_unsafe_repo_fields_rejected(tmp_path: Path, remote: LocalRepo, field: str,
                                     value: str) -> None:
    repo = _repo(remote, **{field: value}) if field != "name" else Repo(
        name=value, github="x/y", url=remote.url)
    with pytest.raises(GitError):
        Git(tmp_path / "work").build(repo, remote.head("main"), [])
    assert not (tmp_path / "work").exists()


def test_token_not_passed_to_git(tmp_path: Path, remote: LocalRepo,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("MY_TOKEN", "other_secret")
    env = Git(tmp_path, hide_env=["MY_TOKEN"])._env()
    assert "GITHUB_TOKEN" not in env and "MY_TOKEN" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
