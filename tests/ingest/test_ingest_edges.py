"""Ingest at its edges: strings that cannot be stored, bodies too big to decode, a journal that fails."""

from __future__ import annotations

import gzip
import json
import time

import orjson
import pytest
import requests
from ingest_fixtures import SumFold, make_ingestor, ndjson, samples, tick, validator

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, common_settings
from tradewatch.core.ingest import VALUES_PER_ITEM, EventIngestor, TooLarge, mount_ingest, parse_body
from tradewatch.core.journal import Journal
from tradewatch.core.validate import Invalid


def passthrough(raw):
    """A validator that lets any string through (as a validator with a gap would)."""
    if not isinstance(raw, dict) or "event_id" not in raw or "type" not in raw:
        raise Invalid("missing_field", "needs type and event_id")
    return {**raw, "value": 1.0}


def test_a_string_that_cannot_be_journaled_is_refused_alone(tmp_path):
    """A lone surrogate the validator lets through made the whole request a 500 (orjson cannot write it)."""
    ing = EventIngestor(Journal(tmp_path), passthrough, SumFold())
    ing.start()
    body = (
        b'[{"type":"t","event_id":"a"},{"type":"t","event_id":"b","note":"\\ud800"},'
        b'{"type":"t","event_id":"c\\udc00"},{"type":"t","event_id":"d"}]'
    )
    result = ing.ingest_body(body)
    assert result.accepted == 2 and result.status == 200
    assert [(r["index"], r["reason"]) for r in result.rejected] == [(1, "invalid_value"), (2, "invalid_value")]
    assert json.loads(orjson.dumps(result.body()))["rejected"][0]["message"].startswith("cannot be stored")
    ing.close(snapshot=False)
    again = EventIngestor(Journal(tmp_path), passthrough, SumFold())
    again.start()
    assert again.fold.ids == ["a", "d"] and again.journal.corrupt_lines == 0


def test_journal_lines_are_the_event_with_its_stamp(tmp_path):
    ing = make_ingestor(tmp_path, clock=lambda: 1234.5)
    ing.ingest([tick(1, value=2.5)])
    line = next(tmp_path.glob("journal-*.jsonl")).read_bytes()
    doc = orjson.loads(line)
    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    assert doc["received_at"] == 1234.5 and doc["dedupe_key"] == ing.dedupe.digest("e1")
    assert {k: doc[k] for k in ("event_id", "value", "symbol")} == {"event_id": "e1", "value": 2.5, "symbol": "X"}


def test_too_many_items_is_refused_before_it_is_decoded():
    ok = orjson.dumps([tick(i) for i in range(100)])
    assert len(parse_body(ok, "", max_items=100)) == 100
    with pytest.raises(TooLarge) as info:
        parse_body(orjson.dumps([tick(i) for i in range(101)]), "", max_items=100)
    assert info.value.reason == "too_many_items" and info.value.limit == 100
    with pytest.raises(TooLarge, match="more than 100 events"):
        parse_body(ndjson([tick(i) for i in range(101)]), "application/x-ndjson", max_items=100)
    assert (
        len(parse_body(ndjson([tick(i) for i in range(100)]) + b"\n" * 5000, "application/x-ndjson", max_items=100))
        == 100
    )  # blank lines are not events


def test_a_body_of_millions_of_tiny_items_is_refused_without_decoding_it():
    body = b"[" + b",".join([b"{}"] * (16 * 1024 * 1024 // 3)) + b"]"  # 16 MiB, 5.6 M items
    started = time.process_time()  # CPU seconds: other tests may run alongside (make test's workers)
    with pytest.raises(TooLarge) as info:
        parse_body(body, "", max_items=10_000)
    assert info.value.reason == "too_large" and info.value.limit == VALUES_PER_ITEM * 10_000
    assert time.process_time() - started < 5  # counted, not decoded (decoding alone takes seconds)
    for body in (b'{"a":[' + b"1," * 600_000 + b"1]}", b"[[[]]]," * 200_000):
        with pytest.raises(TooLarge):
            parse_body(body, "", max_items=10_000)


def test_colons_and_commas_inside_strings_do_not_count_as_values():
    events = [tick(i, note="a,b:c,d:e,f:" * 20) for i in range(100)]  # ~60 separators in each string
    body = orjson.dumps(events)
    assert body.count(b",") + body.count(b":") > VALUES_PER_ITEM * 100
    assert len(parse_body(body, "", max_items=100)) == 100


@pytest.fixture
def served(tmp_path):
    config = cfg.load(common_settings(0), None, environ={})
    exp = Exporter("ingest-edges", config)
    ing = EventIngestor(Journal(tmp_path / "j"), validator, SumFold(), max_items=50)
    ing.start()
    ing.probe_interval = 0.0
    mount_ingest(exp, ing)
    exp.start()
    yield exp, ing, f"http://127.0.0.1:{exp.port}"
    exp.stop()


def test_http_413_for_too_many_items_is_counted_once(served):
    _, ing, url = served
    r = requests.post(url + "/v1/events", data=orjson.dumps([tick(i) for i in range(51)]), timeout=10)
    assert r.status_code == 413
    assert r.json()["reason"] == "too_many_items" and r.json()["limit"] == 50
    assert samples(ing)[("tradewatch_events_rejected_total", (("reason", "too_many_items"),))] == 1
    assert ("tradewatch_events_rejected_total", (("reason", "too_large"),)) not in samples(ing)
    r = requests.post(
        url + "/v1/events",
        data=gzip.compress(ndjson([tick(i) for i in range(50)])),
        timeout=10,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == 50


def test_http_lone_surrogates_never_make_a_500(served):
    _, _, url = served
    body = (
        b'[{"type":"tick","ts":1700000000,"event_id":"ok","symbol":"X","value":1},'
        b'{"type":"tick","ts":1700000000,"event_id":"bad","symbol":"\\ud800","value":1},'
        b'{"type":"\\udfff"}]'
    )
    r = requests.post(url + "/v1/events", data=body, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert [x["index"] for x in r.json()["rejected"]] == [1, 2]
    r = requests.post(url + "/v1/events", data=b'{"type":"\\ud800x","event_id":"\\ud800"}', timeout=10)
    assert r.status_code == 422


def test_http_503_and_readiness_while_the_journal_cannot_be_written(served, monkeypatch):
    import errno
    import os

    _, ing, url = served
    assert requests.post(url + "/v1/events", data=orjson.dumps([tick(1)]), timeout=10).status_code == 200

    def broken(fd, data):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(ing.journal, "_write_some", broken)
    r = requests.post(url + "/v1/events", data=orjson.dumps([tick(2), tick(3)]), timeout=10)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.json() == {
        "error": "journal write failed: Input/output error",
        "reason": "journal_unavailable",
        "retry": True,
    }
    ready = requests.get(url + "/readyz", timeout=10)
    assert ready.status_code == 503 and "Input/output error" in ready.json()["reasons"]["journal"]
    assert ing.fold.count == 1
    monkeypatch.undo()
    assert requests.get(url + "/readyz", timeout=10).status_code == 200
    r = requests.post(url + "/v1/events", data=orjson.dumps([tick(2), tick(3)]), timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 2


def test_counting_values_in_a_body_of_escaped_quotes_is_linear():
    """Blanking strings with a pattern that could fail and retry at every quote took minutes here."""
    body = b"[" + b"1," * 600_000 + b'"' + b'\\"' * 4_000_000 + b"]"
    started = time.process_time()
    with pytest.raises(TooLarge):
        parse_body(body, "", max_items=10_000)
    assert time.process_time() - started < 5
