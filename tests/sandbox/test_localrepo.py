"""Tests of the local bare repository that stands in for a GitHub repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kcistage.core.model import is_sha
from kcistage.sandbox.localrepo import LocalRepo


def _git(repo: LocalRepo, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", repo.url, *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_create_makes_bare_repo_with_initial_commit(tmp_path: Path) -> None:
    repo = LocalRepo.create(tmp_path / "api.git", {"README": "hi\n", "api/main.py": "x = 1\n"})
    assert repo.url == str(tmp_path / "api.git")
    assert _git(repo, "rev-parse", "--is-bare-repository") == "true"
    assert is_sha(repo.head("main"))
    assert repo.files_at("main") == {"README": "hi\n", "api/main.py": "x = 1\n"}
    assert _git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"


def test_create_other_branch(tmp_path: Path) -> None:
    repo = LocalRepo.create(tmp_path / "r.git", {"a": "1"}, branch="master")
    assert repo.files_at("master") == {"a": "1"}


def test_commit_adds_changes_and_deletes(tmp_path: Path) -> None:
    repo = LocalRepo.create(tmp_path / "r.git", {"a": "1", "d/b": "2"})
    first = repo.head("main")
    sha = repo.commit("main", {"a": "one", "d/b": None, "d/e/c": "3"}, "change")
    assert repo.head("main") == sha != first
    assert repo.files_at("main") == {"a": "one", "d/e/c": "3"}
    assert _git(repo, "rev-parse", f"{sha}^") == first
    assert _git(repo, "log", "-1", "--format=%s", sha) == "change"
    assert repo.files_at(first) == {"a": "1", "d/b": "2"}


def test_commit_with_parent_starts_a_new_branch(tmp_path: Path) -> None:
    repo = LocalRepo.create(tmp_path / "r.git", {"a": "1"})
    base = repo.head("main")
    repo.commit("main", {"a": "2"}, "main moves")
    sha = repo.commit("feature", {"b": "x"}, "feature", parent=base)
    assert repo.files_at("feature") == {"a": "1", "b": "x"}
    assert _git(repo, "rev-parse", f"{sha}^") == base


def test_commits_are_deterministic(tmp_path: Path) -> None:
    one = LocalRepo.create(tmp_path / "one.git", {"a": "1"})
    two = LocalRepo.create(tmp_path / "two.git", {"a": "1"})
    assert one.head("main") == two.head("main")
    assert one.commit("main", {"b": "2"}, "m") == two.commit("main", {"b": "2"}, "m")


def test_open_pr_and_push_pr(tmp_path: Path) -> None:
    repo = LocalRepo.create(tmp_path / "r.git", {"a": "1"})
    base = repo.head("main")
    pr1 = repo.open_pr(1, {"p": "1"}, "first")
    assert repo.head("refs/pull/1/head") == pr1
    assert repo.head("main") == base  # a PR does not move its base
    assert _git(repo, "rev-parse", f"{pr1}^") == base
    pr1b = repo.push_pr(1, {"p": "1b", "a": None})
    assert repo.head("refs/pull/1/head") == pr1b
    assert _git(repo, "rev-parse", f"{pr1b}^") == pr1
    assert repo.files_at("refs/pull/1/head") == {"p": "1b"}
    # Pushing identical content again still gives a new commit (time moves on).
    assert repo.push_pr(1, {"p": "1b"}) != pr1b


def test_open_pr_on_other_base_and_ls_remote(tmp_path: Path) -> None:
    repo = LocalRepo.create(tmp_path / "r.git", {"a": "1"})
    repo.commit("stable", {"s": "1"}, "stable", parent=repo.head("main"))
    sha = repo.open_pr(7, {"q": "1"}, base="stable")
    assert repo.files_at(sha) == {"a": "1", "s": "1", "q": "1"}
    listing = subprocess.run(["git", "ls-remote", repo.url], capture_output=True, text=True,
                             check=True).stdout
    assert f"{sha}\trefs/pull/7/head" in listing
