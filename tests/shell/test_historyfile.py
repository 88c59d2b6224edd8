"""The history file beside the state file: appends, a torn last line, unreadable lines, trims, and
the split of a state file written before it existed (nothing lost)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core import paths
from kcistage.core.history import hot
from kcistage.shell import historyfile
from kcistage.shell import statefile as st_mod

NOW = datetime(2024, 5, 1, 10, 4, 12, tzinfo=UTC)
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "state_v1.json"


def deployment(n: int, result: str = "success") -> dict:
    return {"id": n, "cycle": "full" if n % 5 == 0 else "partial", "trigger": "change",
            "result": result, "started": "2024-05-01T10:00:00+00:00",
            "finished": "2024-05-01T10:05:00+00:00", "target": {"kernelci-api": {
                "base": "e" * 40, "prs": [[p, f"{p:040x}"] for p in range(n % 7)]}},
            "steps": [{"name": "api", "result": "ok", "seconds": 1.5, "reason": "<b>é</b>"}]}


def history_of(path: Path) -> Path:
    return paths.history_file(path)


def test_lines_are_compact_json_with_the_id_first(tmp_path: Path) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(3), deployment(4)])
    lines = path.read_bytes().split(b"\n")
    assert lines[0].startswith(b'{"id":3,"cycle":"partial",') and lines[2] == b""
    assert json.loads(lines[1]) == deployment(4)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert historyfile.read(path).records == [deployment(3), deployment(4)]


def test_a_torn_last_line_is_ignored_then_cut_by_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(1)])
    whole = path.read_bytes()
    path.write_bytes(whole + historyfile.encode(deployment(2))[:40])  # killed while appending
    read = historyfile.read(path)
    assert (read.records, read.problems) == ([deployment(1)], [])
    historyfile.append(path, [deployment(2), deployment(3)])
    assert path.read_bytes() == whole + historyfile.encode(deployment(2)) + historyfile.encode(deployment(3))


def test_an_unreadable_line_is_named_skipped_and_moved_aside_by_the_next_trim(tmp_path: Path) -> None:
    path = tmp_path / "state.json.history"
    historyfile.append(path, [deployment(1)])
    with path.open("ab") as handle:
        handle.write(b'{"id": 2, "cycle": \n[1, 2]\n')
    historyfile.append(path, [deployment(3)])
    read = historyfile.read(path)
    assert [r["id"] for r in read.records] == [1, 3]
    assert read.problems == [
        f"{path} line 2: not valid JSON: skipped (the next trim moves it aside)",
        f"{path} line 3: not a JSON object: skipped (the next trim moves it aside)"]
    trimmed = historyfile.trim(path, 10, NOW, set())
    aside = tmp_path / "state.json.history.corrupt.20240501T100412Z"
    assert trimmed.notes == [f"{path}: 2 unreadable line(s) (2, 3) moved aside to {aside.name}"]
    assert aside.read_bytes() == b'{"id": 2, "cycle": \n[1, 2]\n'  # nothing lost
    assert (trimmed.gone, trimmed.kept) == ([], [1, 3])
    assert historyfile.read(path).problems == []


def test_a_record_written_twice_counts_once(tmp_path: Path) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(1), deployment(2)])
    historyfile.append(path, [dict(deployment(2), result="failed")])  # a killed run's repeat
    assert [(r["id"], r["result"]) for r in historyfile.read(path).records] == [(1, "success"), (2, "failed")]
    trimmed = historyfile.trim(path, 1, NOW, set())
    assert (trimmed.gone, trimmed.kept) == ([1], [2])
    assert path.read_bytes() == historyfile.encode(dict(deployment(2), result="failed"))


def test_a_trim_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(1), deployment(2)])
    before = path.stat()
    assert historyfile.trim(path, 2, NOW, set()).gone == []
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_killed_save_leaves_a_record_in_both_and_readers_take_the_states(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = st_mod.empty()
    state["deployments"] = [deployment(1), deployment(2)]
    st_mod.save(path, state, 500, NOW)
    historyfile.append(history_of(path), [dict(deployment(2), result="failed")])  # stale copy
    assert [d["result"] for d in st_mod.load_full(path, NOW)["deployments"]] == ["success", "success"]


def test_the_v1_fixture_splits_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    shutil.copy(FIXTURE, path)
    before = json.loads(FIXTURE.read_text())
    state = st_mod.load(path, NOW)
    st_mod.save(path, state, 500, NOW)
    # 1: the last full and last success, 2: the newest and the failed target: both hot
    assert st_mod.load_full(path, NOW) == {**st_mod.empty(), **before}
    assert not history_of(path).exists()


def big_state(count: int) -> dict:
    state = st_mod.empty()
    state["deployments"] = [deployment(n, "failed" if n % 9 == 0 else "success")
                            for n in range(1, count + 1)]
    state["next_id"] = count + 1
    return state


@pytest.mark.parametrize("count", [500])
def test_a_big_state_splits_at_the_first_save_without_loss(tmp_path: Path, count: int) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(st_mod.dumps(big_state(count)))
    state = st_mod.load(path, NOW)
    assert st_mod.holds_past(state)
    saved = st_mod.save(path, state, 500, NOW)
    assert saved.gone == [] and saved.kept == list(range(1, count + 1))
    small = st_mod.load(path, NOW)
    assert [d["id"] for d in small["deployments"]] == sorted(hot(big_state(count)))
    assert not st_mod.holds_past(small)
    assert st_mod.load_full(path, NOW) == big_state(count)
    assert path.stat().st_size < 5_000


def test_the_history_limit_counts_both_files(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = big_state(30)
    saved = st_mod.save(path, state, 12, NOW)
    recorded = [d["id"] for d in st_mod.load_full(path, NOW)["deployments"]]
    assert recorded == list(range(19, 31))
    assert saved.gone == list(range(1, 19)) and saved.kept == recorded


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 40_000), max_size=40), count=st.integers(0, 45))
def test_the_newest_read_from_the_end_are_the_newest_read_whole(
        tmp_path_factory: pytest.TempPathFactory, sizes: list[int], count: int) -> None:
    path = tmp_path_factory.mktemp("n") / "h"
    # records of very different sizes, so the end is read across blocks
    historyfile.append(path, [dict(deployment(n), reason="x" * size) for n, size in enumerate(sizes, 1)])
    newest = historyfile.read_newest(path, count)
    assert newest.records == (historyfile.read(path).records[-count:] if count else [])
    assert newest.problems == []


def test_the_newest_out_of_order_or_unreadable_are_read_the_slow_way(tmp_path: Path) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(n) for n in (1, 2, 5, 3, 4)])  # a killed run's leftover
    assert [r["id"] for r in historyfile.read_newest(path, 3).records] == [3, 4, 5]
    with path.open("ab") as handle:
        handle.write(b'{"id":6,"cyc\n')
    newest = historyfile.read_newest(path, 2)
    assert [r["id"] for r in newest.records] == [4, 5]
    assert newest.problems == [f"{path} line 6: not valid JSON: skipped (the next trim moves "
                               "it aside)"]


def test_an_amortized_trim_rewrites_the_file_once_per_slack_not_per_deployment(tmp_path: Path) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(n) for n in range(1, 21)])
    assert historyfile.slack(20) == 2
    before = path.stat()
    for n in (21, 22):  # up to 20 + 2 records: appended, never rewritten
        historyfile.append(path, [deployment(n)])
        trimmed = historyfile.trim(path, 20, NOW, {n + 1}, amortized=True)
        assert (trimmed.gone, trimmed.kept) == ([], list(range(1, n + 1)))
        assert path.stat().st_ino == before.st_ino
    historyfile.append(path, [deployment(23)])  # 23 > 22: trimmed to 20
    trimmed = historyfile.trim(path, 20, NOW, set(), amortized=True)
    assert (trimmed.gone, trimmed.kept) == ([1, 2, 3], list(range(4, 24)))
    assert path.stat().st_ino != before.st_ino
    assert path.read_bytes() == b"".join(historyfile.encode(deployment(n)) for n in range(4, 24))


@pytest.mark.parametrize("leftover", [
    [1, 2, 3, 2],  # a killed run's repeat
    [1, 3, 2],  # out of order
    [1, 2, 3, 4],  # 4 is in the state file again
])
def test_an_amortized_trim_still_cleans_what_readers_would_stumble_on(tmp_path: Path,
                                                                      leftover: list[int]) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(n) for n in leftover])
    trimmed = historyfile.trim(path, 20, NOW, {4}, amortized=True)
    assert trimmed.kept == [1, 2, 3]
    assert path.read_bytes() == b"".join(historyfile.encode(deployment(n)) for n in (1, 2, 3))


def test_an_amortized_trim_moves_an_unreadable_line_aside_at_the_real_trim(tmp_path: Path) -> None:
    path = tmp_path / "h"
    historyfile.append(path, [deployment(1)])
    with path.open("ab") as handle:
        handle.write(b"garbage\n")
    assert historyfile.trim(path, 20, NOW, set(), amortized=True).notes != []
    assert path.read_bytes() == historyfile.encode(deployment(1))


def test_saves_rewrite_the_history_file_once_per_slack(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = big_state(120)
    st_mod.save(path, state, 100, NOW)
    rewrites, inode = 0, history_of(path).stat().st_ino
    for n in range(121, 161):  # 40 more deployments, each ending in its own save
        state["deployments"].append(dict(deployment(n), cycle="partial"))
        state["next_id"] = n + 1
        saved = st_mod.save(path, state, 100, NOW)
        if history_of(path).stat().st_ino != inode:
            rewrites, inode = rewrites + 1, history_of(path).stat().st_ino
            assert len(saved.gone) >= 9  # back to 100 in all, from up to 110
        recorded = [d["id"] for d in st_mod.load_full(path, NOW)["deployments"]]
        assert recorded[-1] == n and 100 <= len(recorded) <= 110
        assert saved.kept in ([], recorded)  # [] when no deployment left the state
    assert 3 <= rewrites <= 4  # not 40
