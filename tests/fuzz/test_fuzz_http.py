"""Fuzz both exporters' real HTTP APIs (real processes on loopback) with events from the schemas.

For every request: no 5xx; for every item: accepted <=> valid against the shipped JSON Schema (the
exporters run with the clock window off, so the schema is the whole rule set and the extreme
timestamps it allows reach the fold, with a New York session zone); accepted/duplicate counts
match what the client can predict. After the run: the process never died, RSS stayed bounded,
tradewatch_errors_total is 0 (no fold or validator failure), every acknowledged event is in the
state (resending them yields only duplicates; a restart replays the same state).

Sizes: FUZZ_EXAMPLES / the ``fuzz`` profile (see fuzz_strategies); figures in README "Reliability".
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fuzz_oracle import SchemaOracle
from fuzz_servers import Exporter
from fuzz_strategies import SCHEMA, batch, examples
from hypothesis import given, settings
from hypothesis import strategies as st

MAX_RSS_GROWTH = 150 * 2**20
MIN_INPUTS = 10_000  # per exporter in make test
ENV = {
    "trading": {"TRADEWATCH_INGEST_MAX_FUTURE_SKEW": "0", "TRADEWATCH_SESSION_TIMEZONE": "America/New_York"},
    "model": {"TRADEWATCH_INGEST_MAX_FUTURE_SKEW": "0"},
}
REPORT: dict[str, dict[str, int]] = {}


def _id_ok(value: Any) -> bool:
    return value.__class__ is str and 0 < len(value) <= 256 and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


class Run:
    """What the fuzzer sent and what the exporter acknowledged."""

    def __init__(self, exporter: Exporter, name: str):
        self.exporter = exporter
        self.checker = SchemaOracle(SCHEMA[name])
        self.ids = itertools.count()
        self.name = name
        self.acked: dict[str, Any] = {}  # event_id -> the event as sent
        self.accepted_by_type: Counter[str] = Counter()
        self.inputs = 0
        self.requests = 0
        self.status: Counter[int] = Counter()
        self.mismatches: list[str] = []

    def send(self, items: list[Any]) -> None:
        for n, item in enumerate(items):
            # Fresh ids (every 7th valid-looking one repeats an acknowledged id: a retry).
            if item.__class__ is dict and _id_ok(item.get("event_id")):
                if self.acked and n % 7 == 0:
                    item["event_id"] = next(iter(self.acked))
                else:
                    item["event_id"] = f"fz-{self.name}-{next(self.ids)}"
        body = json.dumps(items).encode()  # a lone surrogate goes out as \ud800, as json.dumps does
        ndjson = len(items) % 3 == 0
        if ndjson:
            body = b"\n".join(json.dumps(i).encode() for i in items)
        response = self.exporter.post(body, "application/x-ndjson" if ndjson else "application/json")
        self.requests += 1
        self.inputs += len(items)
        self.status[response.status_code] += 1
        assert response.status_code < 500, (response.status_code, response.text[:500])
        result = response.json()
        rejected = {r["index"]: r for r in result["rejected"]}
        new = dups = 0
        seen_now: set[str] = set()
        for index, item in enumerate(items):
            valid = item.__class__ is dict and self.checker.is_valid(item)
            if valid == (index in rejected):
                why = rejected.get(index, {}).get("message", "accepted")
                self.mismatches.append(f"schema {'valid' if valid else 'invalid'} but {why}: {item!r:.300}")
                continue
            if valid:
                eid = item["event_id"]
                if eid in self.acked or eid in seen_now:
                    dups += 1
                else:
                    new += 1
                    seen_now.add(eid)
                    self.acked[eid] = item
                    self.accepted_by_type[item["type"]] += 1
        assert not self.mismatches, self.mismatches[:5]
        assert (result["accepted"], result["duplicates"]) == (new, dups)


@pytest.mark.parametrize("name", ["trading", "model"])
def test_http_api_fuzz(name: str, tmp_path: Path) -> None:
    exporter = Exporter(name, tmp_path / "journal", **ENV[name])
    try:
        run = Run(exporter, name)
        rss_before = exporter.rss()

        @settings(max_examples=examples(250))
        @given(batch(name, 30, 60))
        def fuzz(items: list[Any]) -> None:
            run.send(items)

        fuzz()
        raw_inputs = _raw_bodies(exporter, run)
        assert exporter.alive()
        growth = exporter.rss() - rss_before
        assert growth < MAX_RSS_GROWTH, f"RSS grew by {growth / 2**20:.0f} MiB"
        assert exporter.total("tradewatch_errors_total") == 0, exporter.log_path.read_text()[-3000:]
        accepted = {
            dict(lab)["type"]: v
            for (n, lab), v in exporter.samples().items()
            if n == "tradewatch_events_accepted_total"
        }
        assert {k: v for k, v in accepted.items() if v} == dict(run.accepted_by_type)
        # Every acknowledged event is in the state: resent, each one is a duplicate ...
        acked = list(run.acked.values())
        for i in range(0, len(acked), 500):
            response = exporter.post(json.dumps(acked[i : i + 500]).encode())
            assert response.status_code == 200
            assert (response.json()["accepted"], response.json()["duplicates"]) == (0, len(acked[i : i + 500]))
        REPORT[name] = {
            "inputs": run.inputs + raw_inputs,
            "requests": run.requests,
            "acknowledged": len(acked),
            "5xx": sum(v for k, v in run.status.items() if k >= 500),
        }
        print(f"\nfuzz {name}: {REPORT[name]} statuses {dict(run.status)}")
        if not os.environ.get("FUZZ_EXAMPLES"):
            assert REPORT[name]["inputs"] >= MIN_INPUTS  # the figure README "Reliability" quotes
        assert "Traceback" not in exporter.log_path.read_text()
        # ... and a restart replays exactly the state that was acknowledged.
        state = exporter.state()
        exporter.stop()
        exporter.start()
        # (finite inputs can sum to inf: two realized_pnl of -1e308; NaN never equals itself)
        assert _comparable(exporter.state()) == _comparable(state)
        assert exporter.total("tradewatch_errors_total") == 0, exporter.log_path.read_text()[-3000:]
    finally:
        exporter.stop()


def _comparable(state: dict[Any, float]) -> dict[Any, Any]:
    return {k: "nan" if v != v else v for k, v in state.items()}


def _raw_bodies(exporter: Exporter, run: Run) -> int:
    """Malformed bodies and headers: each gets a 4xx (or a 200 for what is valid), never a 5xx."""
    count = 0

    @settings(max_examples=examples(60))
    @given(
        st.one_of(
            st.binary(max_size=2000),
            st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.sampled_from(
                [
                    b"",
                    b"[]",
                    b"{}",
                    b"null",
                    b"[[[[[[[[[[" * 2000,
                    b'{"a":' * 5000,
                    b"NaN",
                    b"[1e999]",
                    b'{"type":"heartbeat","ts":Infinity}',
                    b"\xff\xfe\x00",
                    b'["\\ud800"]',
                    b"\n\n\n",
                    gzip.compress(b"[{}]") + b"garbage",
                    gzip.compress(b"[]")[:-4],
                    b"\x1f\x8b\x08\x00",
                ]
            ),
        ),
        st.sampled_from(
            ["application/json", "application/x-ndjson", "text/plain", "", "application/json; charset=latin-1"]
        ),
        st.sampled_from(
            [{}, {"Content-Encoding": "gzip"}, {"Content-Encoding": "br"}, {"Content-Encoding": "gzip, gzip"}]
        ),
    )
    def raw(body: bytes, content_type: str, headers: dict[str, str]) -> None:
        nonlocal count
        count += 1
        response = exporter.post(body, content_type, **headers)
        run.status[response.status_code] += 1
        assert response.status_code < 500, (body[:200], headers, response.status_code, response.text[:300])

    raw()
    return count


def test_default_window_refuses_the_future_over_http(tmp_path: Path) -> None:
    """With the shipped defaults a market_data stamped 2100 is refused; the feed clock never moves there."""
    import time

    exporter = Exporter("trading", tmp_path / "journal")
    try:
        now = time.time()
        tick = {
            "type": "market_data",
            "event_id": "md-2100",
            "ts": now,
            "exchange_ts": "2100-01-01T00:00:00Z",
            "symbol": "BTC-USD",
            "kind": "tick",
            "price": 1,
        }
        response = exporter.post(json.dumps(tick).encode())
        assert response.status_code == 422
        assert response.json()["rejected"][0]["reason"] == "timestamp_in_future"
        response = exporter.post(json.dumps({**tick, "event_id": "md-now", "exchange_ts": now}).encode())
        assert response.status_code == 200 and response.json()["accepted"] == 1
        assert exporter.total("tradewatch_events_rejected_total", reason="timestamp_in_future") == 1
        # Historic data (a backfill) is accepted: the past bound is off by default.
        old = {**tick, "event_id": "md-2019", "ts": 1.55e9, "exchange_ts": "2019-02-12T00:00:00Z"}
        assert exporter.post(json.dumps(old).encode()).json()["accepted"] == 1
    finally:
        exporter.stop()
