"""The JSONL journal: append, replay, torn tails, corruption, snapshots and compaction crashes."""

from __future__ import annotations

import shutil

import orjson
import pytest

from tradewatch.core.journal import FSYNC_POLICIES, Journal, JournalError


def lines(*events):
    return [orjson.dumps(e) + b"\n" for e in events]


def replay(path, **kw):
    j = Journal(path, **kw)
    snap = j.load_snapshot()
    got = []
    j.replay(got.extend)
    return j, snap, got


@pytest.mark.parametrize("policy", FSYNC_POLICIES)
def test_append_and_replay_with_every_fsync_policy(tmp_path, policy):
    j, _, got = replay(tmp_path, fsync=policy, interval=0.0)
    assert got == []
    j.append(lines({"i": 1}, {"i": 2}))
    j.append(lines({"i": 3}))
    j.flush_if_due()
    j.close()
    j2, _, got = replay(tmp_path)
    assert got == [{"i": 1}, {"i": 2}, {"i": 3}]
    assert j2.replayed == 3 and j2.events == 3
    assert j2.size_bytes() == sum(len(x) for x in lines({"i": 1}, {"i": 2}, {"i": 3}))


def test_unknown_policy_is_refused(tmp_path):
    with pytest.raises(ValueError, match="fsync policy"):
        Journal(tmp_path, fsync="sometimes")


def test_torn_last_line_is_truncated_and_appending_continues(tmp_path):
    j, _, _ = replay(tmp_path)
    j.append(lines({"i": 1}, {"i": 2}))
    j.close()
    path = next(tmp_path.glob("journal-*.jsonl"))
    good = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b'{"i": 3, "half')  # a write cut short by kill -9 or power loss
    j, _, got = replay(tmp_path)
    assert got == [{"i": 1}, {"i": 2}]
    assert path.stat().st_size == good
    j.append(lines({"i": 4}))
    j.close()
    assert replay(tmp_path)[2] == [{"i": 1}, {"i": 2}, {"i": 4}]


def test_corrupt_line_in_the_middle_is_skipped_and_counted(tmp_path):
    j, _, _ = replay(tmp_path)
    j.append([*lines({"i": 1}), b"garbage\n", *lines({"i": 2})])
    j.close()
    j, _, got = replay(tmp_path)
    assert got == [{"i": 1}, {"i": 2}]
    assert j.corrupt_lines == 1


def test_snapshot_then_replay_only_the_tail(tmp_path):
    j, snap, _ = replay(tmp_path)
    assert snap is None
    j.append(lines({"i": 1}, {"i": 2}))
    j.snapshot({"state": 2})
    assert j.events == 0
    j.append(lines({"i": 3}))
    j.close()
    assert [p.name for p in sorted(tmp_path.glob("journal-*"))] == ["journal-00000002.jsonl"]
    j, snap, got = replay(tmp_path)
    assert snap == {"state": 2}
    assert got == [{"i": 3}]
    assert not list(tmp_path.glob("*.tmp"))


def test_crash_between_snapshot_rename_and_cleanup(tmp_path):
    j, _, _ = replay(tmp_path)
    j.append(lines({"i": 1}))
    old = next(tmp_path.glob("journal-*.jsonl"))
    saved = old.read_bytes()
    j.snapshot({"covers": "i1"})
    j.append(lines({"i": 2}))
    j.close()
    old.write_bytes(saved)  # the deletion of the covered file never happened
    j, snap, got = replay(tmp_path)
    assert snap == {"covers": "i1"}
    assert got == [{"i": 2}]  # the covered file is not replayed twice
    assert not old.exists()


def test_crash_before_snapshot_rename_keeps_the_old_state(tmp_path):
    j, _, _ = replay(tmp_path)
    j.append(lines({"i": 1}))
    j.close()
    # A new generation was opened and a temporary snapshot written, then the process died.
    (tmp_path / "journal-00000002.jsonl").write_bytes(b"")
    (tmp_path / "snapshot.json.tmp").write_bytes(b'{"format": 1, "cov')
    _, snap, got = replay(tmp_path)
    assert snap is None and got == [{"i": 1}]


def test_unreadable_snapshot_is_an_error_not_a_silent_reset(tmp_path):
    (tmp_path / "snapshot.json").write_bytes(b"not json")
    with pytest.raises(JournalError, match="unreadable"):
        Journal(tmp_path).load_snapshot()


def test_write_failure_raises_oserror(tmp_path):
    import os

    j, _, _ = replay(tmp_path)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, j._fd)
    os.close(full)
    with pytest.raises(OSError):
        j.append(lines({"i": 1}))


def test_replay_of_a_copy_is_identical(tmp_path):
    j, _, _ = replay(tmp_path / "a")
    j.append(lines(*({"i": i} for i in range(1000))))
    j.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert replay(tmp_path / "a")[2] == replay(tmp_path / "b")[2]
