"""Tail mode against a real file: partial lines, truncation, rotation, resume, bad lines."""

from __future__ import annotations

import os
import time

import orjson
from ingest_fixtures import SumFold, make_ingestor, ndjson, samples, tick

from tradewatch.core.tail import Tailer


def drain(tailer: Tailer) -> None:
    while tailer.run_once():
        pass


def test_partial_last_line_waits_for_its_newline(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    tailer = Tailer(src, ing, offset_file=tmp_path / "off")
    drain(tailer)  # the file does not exist yet
    line = orjson.dumps(tick(1))
    src.write_bytes(ndjson([tick(0)]) + line[:10])
    drain(tailer)
    assert ing.fold.count == 1
    with open(src, "ab") as f:
        f.write(line[10:] + b"\n")
    drain(tailer)
    assert ing.fold.ids == ["e0", "e1"]
    assert orjson.loads((tmp_path / "off").read_bytes())["offset"] == src.stat().st_size


def test_truncation_restarts_at_zero(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    tailer = Tailer(src, ing)
    src.write_bytes(ndjson([tick(i) for i in range(5)]))
    drain(tailer)
    src.write_bytes(ndjson([tick(10)]))  # truncated and rewritten, shorter
    drain(tailer)
    drain(tailer)
    assert ing.fold.ids == ["e0", "e1", "e2", "e3", "e4", "e10"]


def test_rotation_finishes_the_old_file_then_follows_the_new(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    tailer = Tailer(src, ing, offset_file=tmp_path / "off")
    src.write_bytes(ndjson([tick(0)]))
    drain(tailer)
    with open(src, "ab") as f:  # written after our last read, then rotated
        f.write(ndjson([tick(1)]) + orjson.dumps(tick(2)))  # last line without newline
    os.rename(src, tmp_path / "events.jsonl.1")
    src.write_bytes(ndjson([tick(3)]))
    drain(tailer)
    assert ing.fold.ids == ["e0", "e1", "e2", "e3"]
    stored = orjson.loads((tmp_path / "off").read_bytes())
    assert stored["inode"] == src.stat().st_ino


def test_resume_from_stored_offset_after_restart(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    tailer = Tailer(src, ing, offset_file=tmp_path / "off")
    src.write_bytes(ndjson([tick(i) for i in range(3)]))
    drain(tailer)
    tailer.stop()
    ing.close()
    with open(src, "ab") as f:
        f.write(ndjson([tick(3), tick(4)]))
    ing2 = make_ingestor(tmp_path / "j")
    tailer2 = Tailer(src, ing2, offset_file=tmp_path / "off")
    drain(tailer2)
    assert ing2.fold.ids == ["e0", "e1", "e2", "e3", "e4"]
    m = samples(ing2)
    assert m[("tradewatch_events_duplicate_total", ())] == 0  # resumed, not re-read


def test_lost_offset_rereads_and_dedupe_drops_the_repeats(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    src.write_bytes(ndjson([tick(i) for i in range(3)]))
    drain(Tailer(src, ing))
    drain(Tailer(src, ing))  # no offset file: starts over
    assert ing.fold.count == 3
    assert samples(ing)[("tradewatch_events_duplicate_total", ())] == 3


def test_bad_lines_are_rejected_and_counted_like_http(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    tailer = Tailer(src, ing, max_line_bytes=200)
    src.write_bytes(
        b"nope\n" + ndjson([{"type": "tick"}, tick(1)]) + b'{"x": "' + b"a" * 500 + b'"}\n' + ndjson([tick(2)])
    )
    drain(tailer)
    assert ing.fold.ids == ["e1", "e2"]
    m = samples(ing)
    for reason in ("invalid_json", "missing_field", "too_large"):
        assert m[("tradewatch_events_rejected_total", (("reason", reason),))] == 1


def test_over_long_line_without_newline_is_skipped_to_its_end(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    tailer = Tailer(src, ing, max_line_bytes=100, chunk_bytes=64)
    src.write_bytes(b"x" * 300)
    drain(tailer)
    with open(src, "ab") as f:
        f.write(b"yyy\n" + ndjson([tick(1)]))
    drain(tailer)
    assert ing.fold.ids == ["e1"]
    assert samples(ing)[("tradewatch_events_rejected_total", (("reason", "too_large"),))] == 1


def test_thread_follows_appends(tmp_path):
    src = tmp_path / "events.jsonl"
    src.write_bytes(b"")
    ing = make_ingestor(tmp_path / "j")
    tailer = Tailer(src, ing, poll_interval=0.01)
    tailer.start()
    try:
        for i in range(20):
            with open(src, "ab") as f:
                f.write(ndjson([tick(i)]))
        deadline = time.monotonic() + 5
        while ing.fold.count < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        tailer.stop()
    assert ing.fold.ids == [f"e{i}" for i in range(20)]


def test_file_rewritten_while_stopped_is_read_from_the_start(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    src.write_bytes(ndjson([tick(i) for i in range(3)]))
    drain(Tailer(src, ing, offset_file=tmp_path / "off"))
    with open(src, "r+b") as f:  # same inode, new content at least as long
        f.truncate(0)
        f.write(ndjson([tick(i, symbol="Y") for i in range(10, 16)]))
    drain(Tailer(src, ing, offset_file=tmp_path / "off"))
    assert ing.fold.ids == ["e0", "e1", "e2"] + [f"e{i}" for i in range(10, 16)]


def test_resume_after_the_file_grew_past_the_fingerprint(tmp_path):
    src = tmp_path / "events.jsonl"
    ing = make_ingestor(tmp_path / "j")
    src.write_bytes(ndjson([tick(0)]))  # shorter than the 256 fingerprinted bytes
    drain(Tailer(src, ing, offset_file=tmp_path / "off"))
    with open(src, "ab") as f:
        f.write(ndjson([tick(i) for i in range(1, 20)]))
    drain(Tailer(src, ing, offset_file=tmp_path / "off"))
    assert ing.fold.ids == [f"e{i}" for i in range(20)]
    assert samples(ing)[("tradewatch_events_duplicate_total", ())] == 0


def _surrogate_file(src, bad_line: bytes) -> None:
    lines = [orjson.dumps(tick(i)) for i in range(100)]
    lines.insert(50, bad_line)
    src.write_bytes(b"\n".join(lines) + b"\n")


def test_a_line_with_a_lone_surrogate_is_rejected_alone(tmp_path):
    """110 lines with one '"symbol":"\\ud800"' among them: every good line ingested, the bad one counted,
    the offset just past what was read, and a restart re-reads nothing."""
    src = tmp_path / "events.jsonl"
    _surrogate_file(src, b'{"type":"tick","ts":1700000000,"event_id":"bad","symbol":"\\ud800","value":1}')
    with open(src, "ab") as f:
        f.write(ndjson([tick(i) for i in range(100, 110)]))
    ing = make_ingestor(tmp_path / "j")
    drain(Tailer(src, ing, offset_file=tmp_path / "off"))
    assert ing.fold.ids == [f"e{i}" for i in range(110)]
    assert samples(ing)[("tradewatch_events_rejected_total", (("reason", "invalid_value"),))] == 1
    assert orjson.loads((tmp_path / "off").read_bytes())["offset"] == src.stat().st_size
    tailer = Tailer(src, ing, offset_file=tmp_path / "off")
    drain(tailer)
    assert tailer.offset == src.stat().st_size and ing.fold.count == 110
    assert samples(ing)[("tradewatch_events_duplicate_total", ())] == 0


def test_a_line_the_validator_lets_through_but_cannot_be_stored_is_rejected_alone(tmp_path):
    """A surrogate in a field the validator passes on (orjson cannot journal it) lost the whole chunk."""
    from tradewatch.core.ingest import EventIngestor
    from tradewatch.core.journal import Journal

    def passthrough(raw):
        return {**raw, "value": 1.0}

    src = tmp_path / "events.jsonl"
    _surrogate_file(src, b'{"type":"tick","ts":1,"event_id":"bad","note":"\\ud800"}')
    ing = EventIngestor(Journal(tmp_path / "j"), passthrough, SumFold())
    ing.start()
    drain(Tailer(src, ing, offset_file=tmp_path / "off"))
    assert ing.fold.ids == [f"e{i}" for i in range(100)]
    assert orjson.loads((tmp_path / "off").read_bytes())["offset"] == src.stat().st_size
