"""Client helpers for errors, timed API calls and the decision lifecycle, folded by the real exporter state."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from tradewatch.client import JournalWriter
from tradewatch.client.health import status_class_of
from tradewatch.trading.collector import TradingStateCollector
from tradewatch.trading.events import validate_trading_event
from tradewatch.trading.state import TradingState


class Response:
    def __init__(self, status_code: int):
        self.status_code = status_code


class ReadTimeout(Exception):  # named like requests' timeout, not a TimeoutError subclass
    pass


def _events(path: Path) -> list[dict]:
    return [validate_trading_event(orjson.loads(line)) for line in path.read_bytes().splitlines()]


def test_status_classes():
    assert [status_class_of(s) for s in (201, "503", 404, 302, "timeout", 99)] == [
        "2xx",
        "5xx",
        "4xx",
        "3xx",
        "timeout",
        "99",
    ]


def test_timer_records_status_latency_and_exceptions_and_reraises(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with JournalWriter(path, strategy="s") as tw:
        with tw.api_timer("broker", "orders") as call:
            time.sleep(0.02)
            call.status(503)
        with tw.api_timer("broker", "quotes", cache="hit"):
            pass
        with pytest.raises(ReadTimeout), tw.api_timer("broker", "orders"):
            raise ReadTimeout()
        with pytest.raises(ValueError), tw.api_timer("broker", "orders"):
            raise ValueError("bad")

        @tw.api_timer("broker", "positions")
        def positions(code: int) -> Response:
            return Response(code)

        assert positions(404).status_code == 404
        positions(200)
    got = [(e["endpoint"], e["status_class"], e.get("cache")) for e in _events(path)]
    assert got == [
        ("orders", "5xx", None),
        ("quotes", "2xx", "hit"),
        ("orders", "timeout", None),
        ("orders", "error", None),
        ("positions", "4xx", None),
        ("positions", "2xx", None),
    ]
    assert _events(path)[0]["latency_seconds"] >= 0.02


def test_error_and_decision_lifecycle_reach_the_metrics(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with JournalWriter(path) as tw:
        tw.error("database", "connection_lost", severity="critical", message="lost")
        did = tw.decision_made("llm", latency_seconds=1.2, confidence=0.8)
        tw.decision_approved("llm", did)
        tw.decision_executed("llm", did)
        other = tw.decision_made("llm")
        tw.decision_rejected("llm", other)
        tw.decision_made("llm", decision_id="kept-open")
        tw.decision("rules", 0.01)  # the v1 call still works: a decision made
    state = TradingState()
    for e in _events(path):
        state.apply(e)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in TradingStateCollector(state).collect()
        for s in f.samples
    }
    assert samples[("tradewatch_trading_decisions_total", (("provider", "llm"), ("stage", "made")))] == 3
    assert samples[("tradewatch_trading_decisions_total", (("provider", "llm"), ("stage", "executed")))] == 1
    assert samples[("tradewatch_trading_decisions_total", (("provider", "rules"), ("stage", "made")))] == 1
    assert samples[("tradewatch_trading_open_decisions", (("provider", "llm"),))] == 1
    key = (("component", "database"), ("kind", "connection_lost"), ("severity", "critical"))
    assert samples[("tradewatch_trading_errors_total", key)] == 1
