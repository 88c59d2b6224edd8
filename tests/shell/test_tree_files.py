"""shell/tree_files.py: per-identity results beside the state, kept exactly as long as their deployments."""

from __future__ import annotations

from pathlib import Path

from kcistage.shell.tree_files import load_results, remove_trees, save_results, tree_file


def test_save_load_and_unreadable(tmp_path: Path) -> None:
    path = save_results(tmp_path, 7, "test-kernel", {"test:a@q": "pass", "job:b": "fail"})
    assert path == tmp_path / "trees" / "7-test-kernel.json"
    assert load_results(tmp_path, 7, "test-kernel") == {"test:a@q": "pass", "job:b": "fail"}
    assert load_results(tmp_path, 8, "test-kernel") is None
    tree_file(tmp_path, 8, "x").write_text("{truncated")
    assert load_results(tmp_path, 8, "x") is None
    tree_file(tmp_path, 9, "x").write_text('["not", "a", "mapping"]')
    assert load_results(tmp_path, 9, "x") is None


def test_removed_with_their_deployments_leftovers_included(tmp_path: Path) -> None:
    for i in (1, 2, 3, 5):
        save_results(tmp_path, i, "test-kernel", {})
    save_results(tmp_path, 2, "other", {})
    assert remove_trees(tmp_path, gone=[3], kept=[2, 5]) == [1, 3]
    assert sorted(p.name for p in (tmp_path / "trees").iterdir()) == [
        "2-other.json", "2-test-kernel.json", "5-test-kernel.json"]
    assert remove_trees(tmp_path, gone=[], kept=[]) == []
    assert remove_trees(tmp_path / "nowhere", gone=[4], kept=[]) == []
