"""Disk full and failing journal writes: nothing of a refused batch is kept, nothing acknowledged is lost.

On the main before this suite, a write cut short by ENOSPC left its fragment in the journal; the
next acknowledged batch was appended to it and replay skipped the merged line as corrupt (1 of
3,300 acknowledged events lost, with fsync=batch and fsync=always alike).
"""

from __future__ import annotations

import errno
import os
import time

import pytest
from tests.faults.conftest import TinyFS
from tests.ingest.ingest_fixtures import SumFold, ndjson, tick, validator

from tradewatch.core.ingest import EventIngestor, Unavailable
from tradewatch.core.journal import Journal
from tradewatch.core.tail import Tailer


def ingestor_on(path, journal_cls=Journal, fsync="batch") -> EventIngestor:
    ing = EventIngestor(journal_cls(path, fsync=fsync, interval=0.0), validator, SumFold())
    ing.start()
    ing.probe_interval = 0.0
    return ing


def replayed_ids(path) -> list[str]:
    again = ingestor_on(path)
    try:
        assert again.journal.corrupt_lines == 0
        return again.fold.ids
    finally:
        again.close(snapshot=False)


@pytest.mark.parametrize("fsync", ["batch", "always"])
def test_3300_events_through_a_full_disk_lose_none(tiny_fs: TinyFS, fsync):
    """33 batches of 100 events; the disk fills at batch 10 and gets space back at batch 20."""
    path = tiny_fs.mount / "journal"
    ing = ingestor_on(path, fsync=fsync)
    acked: list[str] = []
    refused = 0
    for batch in range(33):
        if batch == 10:
            tiny_fs.fill()
        if batch == 20:
            ok, reason = ing.journal_ready()
            assert not ok and "No space left on device" in reason
            tiny_fs.free()
            assert ing.journal_ready() == (True, "")  # recovers by itself: a probe, no restart
        events = [tick(batch * 100 + i, symbol="S" * 200) for i in range(100)]
        before = (ing.fold.count, (path / "journal-00000001.jsonl").stat().st_size)
        try:
            result = ing.ingest(events)
        except Unavailable:
            refused += 1
            # Refused: not folded, and the journal is byte for byte what it was.
            assert (ing.fold.count, (path / "journal-00000001.jsonl").stat().st_size) == before
            continue
        assert result.accepted == 100
        acked.extend(e["event_id"] for e in events)
    assert refused >= 1, "the disk never filled: the test proves nothing"
    assert len(acked) == (33 - refused) * 100
    assert ing.fold.ids == acked
    ing.close(snapshot=False)
    assert replayed_ids(path) == acked  # every acknowledged event survives the restart


class FlakyJournal(Journal):
    """A journal whose write() or fsync() fails on demand: a short write then EIO, or a failing fsync."""

    fail_write_after: int | None = None  # bytes written before the failure
    fail_sync = False

    def _write_some(self, fd: int, data) -> int:
        if self.fail_write_after is not None:
            n = min(len(data), self.fail_write_after)
            if n:
                self.fail_write_after -= n
                return os.write(fd, data[:n])
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return os.write(fd, data)

    def _sync(self, fd: int) -> None:
        if self.fail_sync:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        os.fsync(fd)


@pytest.mark.parametrize(
    ("fsync", "fault"),
    [(policy, "short_write_then_eio") for policy in ("batch", "always", "interval", "never")]
    + [(policy, "fsync_eio") for policy in ("batch", "always", "interval")],  # never: no fsync on append
)
def test_failed_write_leaves_the_journal_as_it_was(tmp_path, fsync, fault):
    ing = ingestor_on(tmp_path, FlakyJournal, fsync=fsync)
    assert ing.ingest([tick(i) for i in range(5)]).accepted == 5
    journal_file = tmp_path / "journal-00000001.jsonl"
    before = journal_file.read_bytes()
    if fault == "short_write_then_eio":
        ing.journal.fail_write_after = 150  # mid-way through the second line
    else:
        ing.journal.fail_sync = True
    with pytest.raises(Unavailable, match="Input/output error"):
        ing.ingest([tick(i) for i in range(5, 10)])
    assert journal_file.read_bytes() == before
    assert ing.fold.count == 5 and ing.journal.events == 5
    assert ing.journal_ready() == (False, f"journal not writable: Input/output error ({tmp_path})")
    # The same batch, retried once the device works: taken whole, nothing is a "duplicate".
    ing.journal.fail_write_after, ing.journal.fail_sync = None, False
    result = ing.ingest([tick(i) for i in range(5, 10)])
    assert (result.accepted, result.duplicates) == (5, 0)
    assert ing.journal_ready() == (True, "")
    ing.close(snapshot=False)
    assert replayed_ids(tmp_path) == [f"e{i}" for i in range(10)]


def test_failed_truncation_blocks_appends_until_it_succeeds(tmp_path, monkeypatch):
    ing = ingestor_on(tmp_path, FlakyJournal)
    ing.ingest([tick(0)])
    journal_file = tmp_path / "journal-00000001.jsonl"
    good = journal_file.read_bytes()
    real_ftruncate = os.ftruncate
    monkeypatch.setattr(
        "tradewatch.core.journal.os.ftruncate",
        lambda fd, n: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system")),
    )
    ing.journal.fail_write_after = 30
    with pytest.raises(Unavailable):
        ing.ingest([tick(1)])
    ing.journal.fail_write_after = None
    assert journal_file.read_bytes() != good  # the fragment could not be cut yet
    with pytest.raises(Unavailable, match="Read-only"):
        ing.ingest([tick(2)])  # never appended after a fragment
    assert not ing.journal_ready()[0]
    monkeypatch.setattr("tradewatch.core.journal.os.ftruncate", real_ftruncate)
    assert ing.journal_ready() == (True, "")  # the probe cuts the fragment and tries a write
    assert journal_file.read_bytes() == good
    assert ing.ingest([tick(2)]).accepted == 1
    ing.close(snapshot=False)
    assert replayed_ids(tmp_path) == ["e0", "e2"]


def test_snapshot_on_a_full_disk_keeps_the_journal_and_its_space(tiny_fs: TinyFS):
    path = tiny_fs.mount / "journal"
    ing = ingestor_on(path)
    ing.ingest([tick(i, symbol="S" * 200) for i in range(50)])
    tiny_fs.fill()
    with pytest.raises(OSError):
        ing.compact()
    assert not list(path.glob("*.tmp"))  # the half-written snapshot gave its space back
    tiny_fs.free()
    assert ing.ingest([tick(50)]).accepted == 1
    ing.close(snapshot=False)
    assert replayed_ids(path) == [f"e{i}" for i in range(51)]


def test_background_upkeep_probes_the_journal_back_to_ready(tmp_path):
    """Nobody polls /readyz and nothing is sent: the periodic upkeep alone finds the journal writable."""
    ing = ingestor_on(tmp_path, FlakyJournal)
    ing.journal.fail_sync = True
    with pytest.raises(Unavailable):
        ing.ingest([tick(0)])
    assert ing.journal_problem
    ing.maintain()
    assert ing.journal_problem  # still failing: still not ready
    ing.journal.fail_sync = False
    ing.maintain()
    assert ing.journal_problem == "" and ing.journal_ready() == (True, "")


def test_tail_mode_holds_its_position_while_the_journal_fails(tmp_path):
    """No tailed line is skipped on a failing disk: the position stays, and everything comes in after."""
    src = tmp_path / "events.jsonl"
    src.write_bytes(ndjson([tick(i) for i in range(10)]))
    ing = ingestor_on(tmp_path / "j", FlakyJournal)
    tailer = Tailer(src, ing, offset_file=tmp_path / "off", poll_interval=0.01)
    tailer.start()
    try:
        deadline = time.monotonic() + 5
        while ing.fold.count < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        ing.journal.fail_write_after = 40
        with open(src, "ab") as f:
            f.write(ndjson([tick(i) for i in range(10, 20)]))
        time.sleep(1.5)  # at least one retry
        assert ing.fold.count == 10 and tailer.offset == len(ndjson([tick(i) for i in range(10)]))
        assert not ing.journal_ready()[0]
        ing.journal.fail_write_after = None
        deadline = time.monotonic() + 5
        while ing.fold.count < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        tailer.stop()
    assert ing.fold.ids == [f"e{i}" for i in range(20)] and tailer.offset == src.stat().st_size
    ing.close(snapshot=False)
    assert replayed_ids(tmp_path / "j") == [f"e{i}" for i in range(20)]
