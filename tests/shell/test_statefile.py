"""Tests of the state file: load/save, atomic writes, corrupt and newer files, history, the lock."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core.history import hot
from kcistage.errors import LockHeld, StateError
from kcistage.shell import historyfile
from kcistage.shell import statefile as st_mod

NOW = datetime(2024, 5, 1, 10, 4, 12, tzinfo=UTC)
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "state_v1.json"


def deployment(n: int) -> dict:
    return {"id": n, "cycle": "partial", "trigger": "change", "result": "success",
            "started": "2024-05-01T10:00:00+00:00", "finished": "2024-05-01T10:05:00+00:00",
            "target": {}, "steps": [{"name": "api", "result": "ok", "seconds": 1.5}]}


def test_load_missing_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    assert st_mod.load(path, NOW) == st_mod.empty()
    assert st_mod.empty()["version"] == st_mod.SCHEMA_VERSION == 1
    assert not path.exists()  # loading never creates the file


def test_empty_has_every_key() -> None:
    assert set(st_mod.empty()) == {"version", "next_id", "deployments", "observed",
                                   "changed_since", "commands", "bisect", "prs", "github", "closed"}
    assert st_mod.empty() is not st_mod.empty()  # no shared mutable default


def test_recorded_fixture_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(FIXTURE.read_bytes())
    loaded = st_mod.load(path, NOW)
    # a file recorded by an older kcistage: keys added since then come with their defaults
    assert loaded == {**st_mod.empty(), **json.loads(FIXTURE.read_text())}
    assert loaded["prs"]["kernelci-api#12"]["title"] == "api: fix auth \u00e9"
    st_mod.save(path, loaded, 500)
    assert st_mod.load(path, NOW) == loaded


def test_missing_keys_filled(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 1, "next_id": 5}')
    loaded = st_mod.load(path, NOW)
    assert loaded["next_id"] == 5
    assert loaded["deployments"] == [] and loaded["prs"] == {} and loaded["bisect"] is None


def test_save_creates_folder_mode_and_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "var" / "kcistage" / "state.json"
    state = st_mod.empty()
    state["deployments"] = [deployment(1)]
    st_mod.save(path, state, 500)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["state.json"]
    assert path.read_bytes() == st_mod.dumps(state)
    assert path.read_bytes().endswith(b"\n")


def test_save_overwrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = st_mod.empty()
    st_mod.save(path, first, 500)
    inode = path.stat().st_ino
    second = st_mod.empty()
    second["next_id"] = 2
    st_mod.save(path, second, 500)
    # a rename, never an in-place rewrite: a crash mid-write leaves the old file whole
    assert path.stat().st_ino != inode
    assert st_mod.load(path, NOW)["next_id"] == 2
    assert os.listdir(tmp_path) == ["state.json"]


def test_save_unchanged_does_not_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = st_mod.empty()
    state["deployments"] = [deployment(1)]
    st_mod.save(path, state, 500)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.stat()
    st_mod.save(path, st_mod.load(path, NOW), 500)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_save_failure_is_state_error_and_keeps_old(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")  # works as root too, unlike a read-only folder
    with pytest.raises(StateError, match=re.escape(f"{blocker / 'state.json'}: cannot write")):
        st_mod.save(blocker / "state.json", st_mod.empty(), 500)
    assert blocker.read_text() == "x"


def test_dumps_is_deterministic() -> None:
    a = {"version": 1, "prs": {"b": 1, "a": 2}, "next_id": 3}
    b = {"next_id": 3, "prs": {"a": 2, "b": 1}, "version": 1}
    assert st_mod.dumps(a) == st_mod.dumps(b)
    assert json.loads(st_mod.dumps(a)) == a


def test_history_keeps_newest(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = st_mod.empty()
    state["deployments"] = [deployment(n) for n in range(1, 11)]
    saved = st_mod.save(path, state, 3, NOW)
    # decisions read only the newest (it is the last finished, last success, ...): the state
    # file keeps it, the history file the two before it, and 1 to 7 are gone with their logs
    assert [d["id"] for d in st_mod.load(path, NOW)["deployments"]] == [10]
    assert [d["id"] for d in state["deployments"]] == [10]  # cut in memory too
    assert [d["id"] for d in st_mod.load_full(path, NOW)["deployments"]] == [8, 9, 10]
    assert (saved.gone, saved.kept) == ([1, 2, 3, 4, 5, 6, 7], [8, 9, 10])


@settings(max_examples=50, deadline=None)
@given(count=st.integers(0, 30), history=st.integers(1, 40), results=st.lists(
    st.sampled_from(["success", "failed", "interrupted"]), min_size=30, max_size=30))
def test_history_property(tmp_path_factory: pytest.TempPathFactory, count: int, history: int,
                          results: list[str]) -> None:
    path = tmp_path_factory.mktemp("h") / "state.json"
    state = st_mod.empty()
    state["deployments"] = [dict(deployment(n), result=results[n - 1]) for n in range(1, count + 1)]
    keep = hot(state)
    st_mod.save(path, state, history, NOW)
    ids = [d["id"] for d in st_mod.load_full(path, NOW)["deployments"]]
    # `history` deployments in all: those decisions read, and the newest of the others (all of
    # them while they are no more than 10% over: the history file is trimmed only then)
    others = [n for n in range(1, count + 1) if n not in keep]
    room = max(history - len(keep), 0)
    if len(others) <= room + historyfile.slack(room):
        room = len(others)
    assert ids == sorted(keep | set(others[max(len(others) - room, 0):]))
    assert [d["id"] for d in st_mod.load(path, NOW)["deployments"]] == sorted(keep)


@pytest.mark.parametrize("content, line", [
    (b'{"version": 1,\n "next_id": 2\n "deployments": []}', 3),
    (b"", 1),
    (b'{"version": 1}\n\xff\xfe garbage', 2),
])
def test_corrupt_is_moved_aside(tmp_path: Path, content: bytes, line: int) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateError) as info:
        st_mod.load(path, NOW)
    moved = tmp_path / "state.json.corrupt.20240501T100412Z"
    message = str(info.value)
    assert message == (f"{path}: not valid JSON (line {line}): moved aside to {moved.name}; "
                       "starting fresh on the next run")
    assert info.value.exit_code == 2
    assert moved.read_bytes() == content
    assert not path.exists()  # no new state file
    assert sorted(os.listdir(tmp_path)) == [moved.name]


@pytest.mark.parametrize("content", [b"[1, 2]", b'{"next_id": 1}', b'{"version": "1"}',
                                     b'{"version": true}', b'{"version": 1, "deployments": {}}',
                                     b'{"version": 1, "prs": []}',
                                     b'{"version": 1, "deployments": [{"id": 1}]}',
                                     b'{"version": 1, "deployments": [7]}'])
def test_wrong_shape_is_moved_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateError, match=r"moved aside to state\.json\.corrupt\.20240501T100412Z"):
        st_mod.load(path, NOW)
    assert (tmp_path / "state.json.corrupt.20240501T100412Z").read_bytes() == content
    assert not path.exists()


def test_second_corrupt_in_same_second_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for content in (b"{", b"}"):
        path.write_bytes(content)
        with pytest.raises(StateError):
            st_mod.load(path, NOW)
    assert (tmp_path / "state.json.corrupt.20240501T100412Z").read_bytes() == b"{"
    assert (tmp_path / "state.json.corrupt.20240501T100412Z.1").read_bytes() == b"}"


def test_corrupt_without_moving(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"{oops")
    with pytest.raises(StateError, match=r"not valid JSON \(line 1\); the next tick"):
        st_mod.load(path, NOW, readonly=True)
    assert os.listdir(tmp_path) == ["state.json"]
    assert path.read_bytes() == b"{oops"


def test_newer_version_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    content = b'{"version": 2, "whatever": [1, 2, 3]}\n'
    path.write_bytes(content)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(StateError) as info:
        st_mod.load(path, NOW)
    assert str(info.value) == (f"{path}: schema version 2 is newer than this kcistage supports "
                               "(1); refusing to touch it")
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert os.listdir(tmp_path) == ["state.json"]


def test_unreadable_is_state_error_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.mkdir()  # a folder where the file should be
    with pytest.raises(StateError, match="cannot read"):
        st_mod.load(path, NOW)
    assert path.is_dir()


HOLDER = textwrap.dedent("""
    import sys
    from kcistage.shell.statefile import Lock
    with Lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "locked\n"
        lock_path = tmp_path / "state.json.lock"
        assert lock_path.read_text().strip() == str(child.pid)
        with pytest.raises(LockHeld) as info, st_mod.Lock(path):
            pytest.fail("took a lock another process holds")
        assert str(info.value) == f"another kcistage run (pid {child.pid}) holds {lock_path}"
        assert info.value.exit_code == 75
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=5)
        with st_mod.Lock(path) as lock:  # a killed holder frees the lock
            assert lock_path.read_text().strip() == str(os.getpid())
            assert lock.path == lock_path
        assert not path.exists()  # the lock never creates the state file
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdin.close()
        child.stdout.close()


def test_lock_released_on_exit_and_exclusive_in_process(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    with st_mod.Lock(path):
        assert stat.S_IMODE((tmp_path / "sub" / "state.json.lock").stat().st_mode) == 0o600
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"), st_mod.Lock(path):
            pass
    with st_mod.Lock(path):  # released by the first context
        pass


def test_lock_not_inherited_by_children(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with st_mod.Lock(path):
        # a step started while the lock is held must not keep it after kcistage dies
        child = subprocess.Popen(["sleep", "5"])
    try:
        with st_mod.Lock(path):
            pass
    finally:
        child.kill()
        child.wait()


def test_pid_alive() -> None:
    assert st_mod.pid_alive(os.getpid())
    assert st_mod.pid_alive(1)  # init: EPERM for ordinary users still means alive
    assert not st_mod.pid_alive(0)
    assert not st_mod.pid_alive(-1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not st_mod.pid_alive(dead.pid)


def test_backoff_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    assert st_mod.read_backoff(path) is None
    until = datetime(2024, 5, 1, 12, 30, 5, tzinfo=UTC)
    st_mod.write_backoff(path, until)
    backoff = tmp_path / "state.json.backoff"
    assert backoff.read_text() == "2024-05-01T12:30:05+00:00\n"
    assert stat.S_IMODE(backoff.stat().st_mode) == 0o600
    assert st_mod.read_backoff(path) == until
    assert not path.exists()  # the state file itself is not touched
    backoff.write_text("garbage")
    assert st_mod.read_backoff(path) is None
    st_mod.write_backoff(path, None)
    assert not backoff.exists()
    st_mod.write_backoff(path, None)  # forgetting twice is fine


def test_dumps_is_compact_one_line() -> None:
    state = st_mod.empty()
    state["prs"] = {"a#1": {"title": "caf\u00e9", "labels": ["x", "y"]}}
    data = st_mod.dumps(state)
    assert data.endswith(b"}\n") and data.count(b"\n") == 1
    assert b": " not in data and b", " not in data
    assert "caf\u00e9".encode() in data  # UTF-8 as is, not \\u escapes
    assert json.loads(data) == state


def test_mark_polled_sets_mtime_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    st_mod.save(path, st_mod.empty(), 500)
    before, data = path.stat(), path.read_bytes()
    polled = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    st_mod.mark_polled(path, polled)
    after = path.stat()
    assert after.st_mtime == polled.timestamp()
    assert (after.st_ino, after.st_size, path.read_bytes()) == (before.st_ino, before.st_size, data)
    st_mod.mark_polled(tmp_path / "absent.json", polled)  # no state yet: nothing to mark
    assert not (tmp_path / "absent.json").exists()
