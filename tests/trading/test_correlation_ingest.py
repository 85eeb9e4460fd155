"""Correlation IDs on ingest: X-Correlation-ID / traceparent bound in the request's log lines,
echoed in the response, and rejected events logged with their own ID (a real trading exporter)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
import requests
from test_http import start

from tradewatch.core.correlation import from_headers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from coretools import json_logs

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-correlation-id": "dec-42"}, "dec-42"),
        ({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}, TRACE),
        ({"x-correlation-id": "dec-1", "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}, "dec-1"),
        ({"x-correlation-id": "has space", "traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"}, None),
        ({"x-correlation-id": "x" * 65}, None),
        ({}, None),
    ],
)
def test_header_rules(headers, expected):
    assert from_headers(headers) == expected


def test_request_logs_and_rejections_carry_the_correlation_id(tmp_path):
    with json_logs("trading-exporter", level="debug") as logs:
        exporter, url = start(tmp_path)
        try:
            good = {"type": "heartbeat", "event_id": "h1", "ts": 1772461800, "component": "bot", "status": "healthy"}
            bad = {"type": "order_filled", "event_id": "f1", "ts": 1772461800, "correlation_id": "dec-77"}
            r = requests.post(
                url + "/v1/events",
                data=orjson.dumps([good, bad, {**bad, "event_id": "f2", "correlation_id": "no spaces allowed"}]),
                headers={"Content-Type": "application/json", "X-Correlation-ID": "req-9"},
                timeout=10,
            )
            assert r.status_code in (200, 207), r.text
            assert r.headers["X-Correlation-ID"] == "req-9"
            r = requests.get(url + "/healthz", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}, timeout=5)
            assert r.headers["X-Correlation-ID"] == TRACE
            generated = requests.get(url + "/healthz", timeout=5).headers["X-Correlation-ID"]
        finally:
            exporter.stop()
    lines = logs.lines()
    requests_logged = [ln for ln in lines if ln["event"] == "http request"]
    by_path = [(ln["path"], ln.get("correlation_id")) for ln in requests_logged]
    assert ("/v1/events", "req-9") in by_path and ("/healthz", TRACE) in by_path and ("/healthz", generated) in by_path
    rejected = [ln for ln in lines if ln["event"] == "event rejected"]
    # The event's own ID where it has a valid one, else the request's.
    assert sorted(ln["correlation_id"] for ln in rejected) == ["dec-77", "req-9"]
