"""POST /v1/events on a real trading exporter (in-process, real HTTP on loopback)."""

from __future__ import annotations

import gzip
import socket

import orjson
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from trading_fixtures import event_stream

from tradewatch.core import config as cfg
from tradewatch.trading.command import build
from tradewatch.trading.settings import settings


def start(tmp_path, **overrides):
    values = {"http.port": 0, "journal.path": str(tmp_path / "journal"), **overrides}
    config = cfg.load(settings(), None, environ={}, overrides=values)
    exporter = build(config)
    port = exporter.start()
    return exporter, f"http://127.0.0.1:{port}"


@pytest.fixture
def server(tmp_path):
    exporter, url = start(tmp_path, **{"http.max_body_bytes": 65536})
    yield url
    exporter.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    exporter, url = start(tmp_path_factory.mktemp("shared"), **{"http.max_body_bytes": 65536})
    yield url
    exporter.stop()


def scrape(url: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(requests.get(url + "/metrics", timeout=5).text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def post(url, body, content_type="application/json", **headers):
    return requests.post(url + "/v1/events", data=body, headers={"Content-Type": content_type, **headers}, timeout=10)


EVENTS = list(event_stream(30))


def test_single_array_and_ndjson(server):
    r = post(server, orjson.dumps(EVENTS[0]))
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert post(server, orjson.dumps(EVENTS[1:10])).json()["accepted"] == 9
    nd = b"\n".join(orjson.dumps(e) for e in EVENTS[10:20])
    assert post(server, nd, "application/x-ndjson").json()["accepted"] == 10
    nd = b"\n".join(orjson.dumps(e) for e in EVENTS[20:30])
    assert post(server, nd, "text/plain").json()["accepted"] == 10  # sniffed
    m = scrape(server)
    assert sum(v for (n, _), v in m.items() if n == "tradewatch_events_accepted_total") == 30


def test_duplicates_are_acknowledged_and_ignored(server):
    assert post(server, orjson.dumps(EVENTS[:5])).json()["accepted"] == 5
    r = post(server, orjson.dumps(EVENTS[:7]))
    assert r.status_code == 200 and r.json()["accepted"] == 2 and r.json()["duplicates"] == 5
    assert scrape(server)[("tradewatch_events_duplicate_total", ())] == 5


def test_gzip_bodies_are_accepted(server):
    r = post(server, gzip.compress(orjson.dumps(EVENTS[:3])), **{"Content-Encoding": "gzip"})
    assert r.json()["accepted"] == 3


def test_bearer_token(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    exporter, url = start(tmp_path, **{"ingest.token_file": str(token_file), "ingest.token": "ignored"})
    try:
        body = orjson.dumps(EVENTS[0])
        r = post(url, body)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        assert post(url, body, Authorization="Bearer ignored").status_code == 401
        assert post(url, body, Authorization="Basic s3cret-token").status_code == 401
        assert post(url, body, Authorization="Bearer s3cret-token").json()["accepted"] == 1
        m = scrape(url)
        assert m[("tradewatch_events_rejected_total", (("reason", "unauthorized"),))] == 3
        assert m[("tradewatch_events_accepted_total", (("type", EVENTS[0]["type"]),))] == 1
    finally:
        exporter.stop()


BAD_BODIES = [
    ("malformed JSON", b'{"type": "heartbeat", ', 400, ["invalid_json"]),
    ("empty body", b"", 400, ["empty"]),
    ("empty array", b"[]", 400, ["empty"]),
    ("not an object", b'[1, "two", null]', 422, ["not_an_object"] * 3),
    (
        "NaN literal",
        b'{"type":"signal","ts":1,"event_id":"n1","symbol":"X","action":"buy","confidence":NaN}',
        422,
        ["non_finite"],
    ),
    (
        "Infinity literal",
        b'[{"type":"position_limit","ts":1,"event_id":"n2","symbol":"X","usage_ratio":Infinity}]',
        422,
        ["non_finite"],
    ),
    (
        "number as NaN string",
        b'{"type":"risk_score","ts":1,"event_id":"n3","risk_type":"var","score":"nan"}',
        422,
        ["non_finite"],
    ),
    (
        "wrong type",
        b'{"type":"heartbeat","ts":1,"event_id":"w1","component":["a"],"status":"healthy"}',
        422,
        ["wrong_type"],
    ),
    (
        "negative quantity",
        orjson.dumps(
            {
                **EVENTS[0],
                "type": "order_submitted",
                "order_id": "o",
                "symbol": "X",
                "side": "buy",
                "order_type": "market",
                "quantity": -5,
                "reference_price": 1,
            }
        ),
        422,
        ["negative_quantity"],
    ),
    ("unknown type", b'{"type":"order_teleported","ts":1,"event_id":"u1"}', 422, ["unknown_type"]),
    ("missing fields", b'{"type":"heartbeat","ts":1,"event_id":"m1"}', 422, ["missing_field"]),
    ("missing type", b'{"ts":1,"event_id":"m2"}', 422, ["missing_field"]),
    (
        "bad timestamp",
        b'{"type":"heartbeat","ts":"noon","event_id":"t1","component":"a","status":"down"}',
        422,
        ["invalid_timestamp"],
    ),
    ("deep nesting", b"[" * 30_000 + b"]" * 30_000, 400, ["invalid_json"]),
    ("binary garbage", bytes(range(11, 256)) * 10, 400, ["invalid_json"]),
    ("NDJSON all bad", b"{\n}\n{{\n", 400, ["invalid_json", "invalid_json", "invalid_json"]),
]


@pytest.mark.parametrize(("label", "body", "status", "reasons"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_input_gets_4xx_with_reasons_and_is_counted(shared_server, label, body, status, reasons):
    server = shared_server
    before = scrape(server)
    r = post(server, body)
    assert r.status_code == status, r.text
    payload = r.json()
    assert payload["accepted"] == 0
    assert [x["reason"] for x in payload["rejected"]] == reasons
    assert all(x["message"] for x in payload["rejected"])
    m = scrape(server)
    for reason in set(reasons):
        key = ("tradewatch_events_rejected_total", (("reason", reason),))
        assert m[key] - before.get(key, 0) == reasons.count(reason)
    assert requests.get(server + "/healthz", timeout=5).status_code == 200


def test_mixed_batch_accepts_the_good_and_reports_the_bad(server):
    body = orjson.dumps([EVENTS[0], {"type": "nope"}, EVENTS[1], {**EVENTS[2], "ts": "later"}])
    r = post(server, body)
    assert r.status_code == 200
    assert r.json()["accepted"] == 2
    assert [(x["index"], x["reason"]) for x in r.json()["rejected"]] == [
        (1, "unknown_type"),
        (3, "invalid_timestamp"),
    ]


def test_huge_body_gets_413_and_is_counted(server):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")
    gz = gzip.compress(b"[" + b" " * 2_000_000 + b"]")  # small on the wire, too large decompressed
    assert post(server, gz, **{"Content-Encoding": "gzip"}).status_code == 413
    assert scrape(server)[("tradewatch_events_rejected_total", (("reason", "too_large"),))] == 2


def test_wrong_method_is_405(server):
    assert requests.get(server + "/v1/events", timeout=5).status_code == 405
