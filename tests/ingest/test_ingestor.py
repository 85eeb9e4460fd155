"""EventIngestor: per-item validation, deduplication, journaling before acknowledgement, replay."""

from __future__ import annotations

import os

import orjson
import pytest
from ingest_fixtures import SumFold, make_ingestor, ndjson, samples, tick, validator
from prometheus_client import CollectorRegistry, Counter

from tradewatch.core.ingest import EventIngestor, RateLimitedLog, Unavailable, parse_body
from tradewatch.core.journal import Journal


def test_body_forms_single_array_ndjson_and_sniffed(tmp_path):
    ing = make_ingestor(tmp_path)
    assert ing.ingest_body(orjson.dumps(tick(1))).accepted == 1
    assert ing.ingest_body(orjson.dumps([tick(2), tick(3)]), "application/json").accepted == 2
    assert ing.ingest_body(ndjson([tick(4), tick(5)]), "application/x-ndjson").accepted == 2
    assert ing.ingest_body(ndjson([tick(6), tick(7)]), "application/json").accepted == 2  # sniffed
    assert ing.ingest_body(ndjson([tick(8)]) + b"\n\n", "").accepted == 1
    assert ing.fold.count == 8


def test_each_item_is_judged_on_its_own(tmp_path):
    ing = make_ingestor(tmp_path)
    body = ndjson([tick(1), {"type": "tick"}, tick(2, value="abc")]) + b"{not json\n" + ndjson([tick(3)])
    result = ing.ingest_body(body, "application/x-ndjson")
    assert result.accepted == 2
    assert [(r["index"], r["reason"]) for r in result.rejected] == [
        (1, "missing_field"),
        (2, "wrong_type"),
        (3, "invalid_json"),
    ]
    assert result.status == 200
    m = samples(ing)
    assert m[("tradewatch_events_accepted_total", (("type", "tick"),))] == 2
    assert m[("tradewatch_events_rejected_total", (("reason", "invalid_json"),))] == 1
    assert m[("tradewatch_events_rejected_total", (("reason", "missing_field"),))] == 1


def test_nan_and_infinity_literals_and_strings_are_non_finite(tmp_path):
    ing = make_ingestor(tmp_path)
    body = (
        b'[{"type":"tick","ts":1,"event_id":"a","symbol":"X","value":NaN},'
        b'{"type":"tick","ts":1,"event_id":"b","symbol":"X","value":"Infinity"},'
        b'{"type":"tick","ts":1,"event_id":"c","symbol":"X","value":1e999},'
        b'{"type":"tick","ts":1,"event_id":"d","symbol":"X","value":"-inf"},'
        b'{"type":"tick","ts":1,"event_id":"e","symbol":"X","value":1' + b"0" * 400 + b"}]"
    )
    result = ing.ingest_body(body)
    assert [r["reason"] for r in result.rejected] == ["non_finite"] * 5
    assert result.status == 422 and result.accepted == 0


def test_numbers_as_decimal_strings_are_normalized(tmp_path):
    ing = make_ingestor(tmp_path)
    assert ing.ingest([tick(1, value="2.5"), tick(2, value="-1e2")]).accepted == 2
    assert ing.fold.total == -97.5


def test_status_codes(tmp_path):
    ing = make_ingestor(tmp_path)
    assert ing.ingest_body(b"{oops").status == 400
    assert ing.ingest_body(b"   ").status == 400
    assert ing.ingest_body(b"[]").status == 400
    assert ing.ingest_body(orjson.dumps({"type": "nope"})).status == 422
    assert ing.ingest_body(orjson.dumps(tick(1))).status == 200
    assert ing.ingest_body(orjson.dumps(tick(1))).status == 200  # a duplicate is acknowledged


def test_duplicates_within_a_batch_across_batches_and_restarts(tmp_path):
    ing = make_ingestor(tmp_path)
    r = ing.ingest([tick(1), tick(1), tick(2)])
    assert (r.accepted, r.duplicates) == (2, 1)
    r = ing.ingest([tick(2), tick(3)])
    assert (r.accepted, r.duplicates) == (1, 1)
    ing.journal.close()
    again = make_ingestor(tmp_path)
    assert again.fold.count == 3
    r = again.ingest([tick(1), tick(4)])
    assert (r.accepted, r.duplicates) == (1, 1)
    again.compact()
    again.journal.close()
    third = make_ingestor(tmp_path)
    assert third.ingest([tick(4), tick(3)]).duplicates == 2
    assert third.fold.count == 4
    assert samples(third)[("tradewatch_events_accepted_total", (("type", "tick"),))] == 4


def test_dedupe_window_is_bounded(tmp_path):
    ing = make_ingestor(tmp_path, dedupe_window=3)
    ing.ingest([tick(i) for i in range(5)])
    assert len(ing.dedupe) == 3
    assert ing.ingest([tick(0)]).accepted == 1  # forgotten: outside the window
    assert ing.ingest([tick(4)]).duplicates == 1


def test_accepted_means_journaled_and_replay_restores_everything(tmp_path):
    ing = make_ingestor(tmp_path, snapshot_every=5)
    ing.ingest([tick(i, value=i * 0.1) for i in range(7)])
    ing.maintain()  # 7 >= 5: compacts
    assert ing.journal.events == 0
    ing.ingest([tick(i, value=i * 0.1) for i in range(7, 10)])
    before = (ing.fold.count, ing.fold.total, ing.fold.ids, ing.last_event_time)
    # No close(): the process "dies" here.
    again = make_ingestor(tmp_path)
    assert (again.fold.count, again.fold.total, again.fold.ids, again.last_event_time) == before
    m = samples(again)
    assert m[("tradewatch_journal_replayed_events", ())] == 3
    assert m[("tradewatch_journal_events", ())] == 3
    assert m[("tradewatch_journal_size_bytes", ())] > 0


def test_journal_failure_acknowledges_nothing(tmp_path):
    ing = make_ingestor(tmp_path)
    ing.ingest([tick(1)])
    full = os.open("/dev/full", os.O_WRONLY)
    saved = os.dup(ing.journal._fd)
    os.dup2(full, ing.journal._fd)
    with pytest.raises(Unavailable):
        ing.ingest([tick(2)])
    assert ing.fold.count == 1
    os.dup2(saved, ing.journal._fd)
    os.close(full)
    os.close(saved)
    assert ing.ingest([tick(2)]).accepted == 1  # not remembered as seen: the retry goes through


def test_last_event_timestamp_is_ingest_time(tmp_path):
    ing = make_ingestor(tmp_path, clock=lambda: 1234.5)
    ing.ingest([tick(1)])
    assert samples(ing)[("tradewatch_last_event_timestamp_seconds", ())] == 1234.5


def test_parse_body_keeps_bad_lines_as_items():
    items = parse_body(b'{"a":1}\n[1,2]\nnot json\n', "application/x-ndjson")
    assert items[0] == {"a": 1} and items[1] == [1, 2] and items[2].reason == "invalid_json"


def test_rate_limited_log_suppresses_a_flood():
    now = [0.0]
    rl = RateLimitedLog(period=10, burst=3, clock=lambda: now[0])
    logged = [rl("invalid_json", "x") for _ in range(100)]
    assert logged.count(True) == 3
    assert rl("other", "x") is True  # per reason
    now[0] = 11.0
    assert rl("invalid_json", "x") is True


def test_replay_drops_repeated_ids_of_a_hand_edited_journal(tmp_path):
    ing = make_ingestor(tmp_path)
    ing.ingest([tick(1), tick(2)])
    ing.journal.close()
    path = next(tmp_path.glob("journal-*.jsonl"))
    path.write_bytes(path.read_bytes() * 2)  # every line twice
    again = make_ingestor(tmp_path)
    assert again.fold.ids == ["e1", "e2"]
    assert again.accepted == {"tick": 2}


class FailingFold(SumFold):
    """A fold with a bug: it raises on one event."""

    def apply(self, event):
        if event["event_id"] == "e2":
            raise RuntimeError("bug")
        super().apply(event)


def test_a_failing_fold_is_counted_and_the_rest_of_the_batch_applies(tmp_path):
    errors = Counter("tradewatch_errors", "x", ["kind"], registry=CollectorRegistry())
    ing = EventIngestor(Journal(tmp_path), validator, FailingFold(), errors=errors)
    ing.start()
    assert ing.ingest([tick(1), tick(2), tick(3)]).accepted == 3  # journaled: acknowledged
    assert ing.fold.ids == ["e1", "e3"]
    ing.journal.close()
    again = EventIngestor(Journal(tmp_path), validator, FailingFold(), errors=errors)
    assert again.start() == 3
    assert again.fold.ids == ["e1", "e3"]  # replay skips past the failing event too
    assert errors.labels("fold")._value.get() == 2


def test_dedupe_window_segments_snapshot_and_memory():
    from tradewatch.core.ingest import DedupeWindow

    w = DedupeWindow(1000, segments=4)
    d = [w.digest(f"id-{i}") for i in range(5000)]
    assert w.seen(d[:3] + d[:1]) == [False, False, False, True]  # repeats within one batch count
    for i in range(0, 5000, 100):
        w.add(d[i : i + 100])
    assert 1000 <= len(w) <= 1250  # at least the last `capacity` ids, never much more
    assert all(w.seen(d[-1000:]))  # the last thousand are remembered (in sealed arrays and the set)
    assert not any(w.seen(d[:3000]))  # the old ones are forgotten
    assert sum(s.nbytes for s in w.sealed) == 8 * (len(w) - len(w.current))
    restored = DedupeWindow(1000, segments=4)
    restored.from_snapshot(orjson.loads(orjson.dumps(w.to_snapshot())))
    assert restored.seen(d[-1200:]) == w.seen(d[-1200:])
    assert DedupeWindow(0).seen(d[:2] + d[:2]) == [False] * 4  # window 0: dedupe off


def test_journal_lines_carry_the_dedupe_key_and_the_fold_never_sees_it(tmp_path):
    from tradewatch.core.ingest import DEDUPE_KEY, DedupeWindow

    class Recording(SumFold):
        def apply(self, event):
            assert DEDUPE_KEY not in event
            super().apply(event)

    ing = EventIngestor(Journal(tmp_path), validator, Recording())
    ing.start()
    ing.ingest([tick(1)])
    ing.journal.close()
    line = orjson.loads(next(tmp_path.glob("journal-*.jsonl")).read_bytes())
    assert line[DEDUPE_KEY] == DedupeWindow.digest("e1")
    again = EventIngestor(Journal(tmp_path), validator, Recording())
    again.start()
    assert again.ingest([tick(1)]).duplicates == 1


def test_a_flood_of_bad_items_gets_a_bounded_answer_but_is_counted_in_full(tmp_path):
    from tradewatch.core.ingest import MAX_REPORTED

    ing = make_ingestor(tmp_path)
    result = ing.ingest_body(b"[" + b",".join([b"1"] * 5000) + b"]")
    body = result.body()
    assert result.status == 422
    assert len(body["rejected"]) == MAX_REPORTED and body["rejected_total"] == 5000
    assert samples(ing)[("tradewatch_events_rejected_total", (("reason", "not_an_object"),))] == 5000
