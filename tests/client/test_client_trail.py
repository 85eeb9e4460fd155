"""Correlation trails in the client (tradewatch.client.trail): a decision's ID reaches its orders,
acks, fills and closing trade, its stages (decision_id) and a prediction's outcome; the logging
context supplies one; sampling keeps whole trails."""

from __future__ import annotations

import threading

import orjson
import pytest
import structlog

from tradewatch.client import JournalWriter, TradeWatchClient
from tradewatch.client.trail import sampled
from tradewatch.core.logging import correlation
from tradewatch.trading.events import validate_trading_event


def _events(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _order_story(w: JournalWriter, n: int) -> None:
    w.order_acknowledged(f"o{n}")
    w.order_partially_filled(f"o{n}", 0.4, 101.0)
    w.order_filled(f"o{n}", 0.6, 101.1)
    w.trade_closed(f"t{n}", "BTC", 12.0)


def test_one_id_from_the_decision_to_the_closing_trade(tmp_path):
    path = tmp_path / "j.jsonl"
    with JournalWriter(path) as w:
        with w.trail() as cid:
            w.decision("llm", 0.8)
            w.order_submitted("o1", "BTC", "buy", 1, 100.0)
            inner = structlog.contextvars.get_contextvars()["correlation_id"]
        _order_story(w, 1)  # later, in the venue's callbacks: no trail in effect
        w.heartbeat("bot")
        assert w.trails.of_order("o1") == cid
    events = _events(path)
    assert inner == cid and "correlation_id" not in structlog.contextvars.get_contextvars()
    assert [e.get("correlation_id") for e in events] == [cid] * 6 + [None]
    for e in events:
        validate_trading_event(e)  # the exporter accepts what the client sends


def test_a_decisions_stages_and_orders_share_its_trail(tmp_path):
    """Made in a trail: the first decision takes the trail's ID as its decision_id, so its later
    stages find the trail in this process and in another; outside a trail a decision is its own."""
    path, other = tmp_path / "j.jsonl", tmp_path / "approver.jsonl"
    with JournalWriter(path) as w, JournalWriter(other) as approver:
        with w.trail() as cid:
            did = w.decision_made("llm", latency_seconds=0.8)
            second = w.decision_made("rules")
            w.order_submitted("o1", "BTC", "buy", 1, 100.0)
        w.decision_approved("llm", did)  # later, outside the trail
        w.decision_executed("rules", second)
        approver.decision_rejected("llm", did)  # another process knows only the decision_id
        alone = w.decision_made("llm")  # no trail: the decision is its own
        with w.trail(alone):
            w.order_submitted("o2", "BTC", "sell", 1, 100.0)
        w.decision_executed("llm", alone)
    events = _events(path)
    assert did == cid and second != cid
    assert [e["correlation_id"] for e in events] == [cid] * 5 + [alone] * 3
    assert _events(other)[0]["correlation_id"] == cid
    with JournalWriter(tmp_path / "given.jsonl") as w:
        assert w.decision_made("llm", correlation_id="c-9") == "c-9"  # an explicit ID is the decision's
    for e in events:
        validate_trading_event(e)


def test_an_outcome_inherits_its_predictions_id(tmp_path):
    path = tmp_path / "j.jsonl"
    with JournalWriter(path) as w:
        with w.trail() as cid:
            w.prediction("clf", "1", "p-1", {"x": 1.0}, "up", 0.004)
        w.outcome("p-1", "clf", "down")
        w.outcome("p-2", "clf", "down")
    assert [e.get("correlation_id") for e in _events(path)] == [cid, cid, None]


def test_decorator_gives_each_call_its_own_trail_and_explicit_ids_win(tmp_path):
    path = tmp_path / "j.jsonl"
    with JournalWriter(path) as w:

        @w.trail()
        def decide(n: int) -> None:
            w.order_submitted(f"o{n}", "ETH", "sell", 1, 10.0)

        threads = [threading.Thread(target=decide, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with w.trail("dec-given"):
            w.order_submitted("o9", "ETH", "sell", 1, 10.0, correlation_id="explicit-1")
            w.order_submitted("o10", "ETH", "sell", 1, 10.0, correlation_id="not valid!")
    ids = [e.get("correlation_id") for e in _events(path)]
    assert len(set(ids[:4])) == 4 and all(ids[:4])
    assert ids[4:] == ["explicit-1", None]


def test_the_active_logging_context_supplies_the_id(tmp_path):
    path = tmp_path / "j.jsonl"
    with JournalWriter(path) as w:
        with correlation("req-7f3a"):
            w.order_submitted("o1", "BTC", "buy", 1, 100.0)
            with w.trail() as cid:  # a trail inside a logged request keeps the request's ID
                w.decision("llm", 0.1)
        w.order_filled("o1", 1, 100.0)
    assert cid == "req-7f3a"
    assert [e["correlation_id"] for e in _events(path)] == ["req-7f3a"] * 3


def test_sampling_keeps_or_drops_whole_trails(tmp_path):
    path = tmp_path / "j.jsonl"
    with JournalWriter(path, trail_sample_rate=0.25) as w:
        kept = 0
        for n in range(800):
            with w.trail() as cid:
                w.order_submitted(f"o{n}", "BTC", "buy", 1, 100.0)
            kept += cid is not None
            w.order_filled(f"o{n}", 1, 100.0)
    assert 150 <= kept <= 250
    events = _events(path)
    by_order: dict[str, set] = {}
    for e in events:
        by_order.setdefault(e["order_id"], set()).add(e.get("correlation_id"))
    assert all(len(ids) == 1 for ids in by_order.values())  # a trail is whole or absent
    assert sum(None not in ids for ids in by_order.values()) == kept
    with JournalWriter(tmp_path / "none.jsonl", trail_sample_rate=0) as w, w.trail() as cid:
        w.decision("llm", 0.1)
    assert cid is None and "correlation_id" not in _events(tmp_path / "none.jsonl")[0]
    # An unsampled trail's decision stays unsampled in its later stages, whatever its own ID's draw.
    unkept = next(f"t-{n}" for n in range(99) if not sampled(f"t-{n}", 0.5))
    kept = next(f"d-{n}" for n in range(99) if sampled(f"d-{n}", 0.5))
    with JournalWriter(tmp_path / "half.jsonl", trail_sample_rate=0.5) as w:
        with w.trail(unkept):
            w.decision_made("llm", decision_id=kept)
        w.decision_executed("llm", kept)
    assert all("correlation_id" not in e for e in _events(tmp_path / "half.jsonl"))


@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.5", True])
def test_bad_sample_rates_are_refused(tmp_path, rate):
    with pytest.raises(ValueError, match="trail_sample_rate"):
        JournalWriter(tmp_path / "j.jsonl", trail_sample_rate=rate)


def test_sample_rate_from_the_environment():
    client = TradeWatchClient.from_env({"TRADEWATCH_TRAIL_SAMPLE_RATE": "0.1"}, url="http://127.0.0.1:9")
    try:
        assert client.trails.sample_rate == 0.1
    finally:
        client.close(0)
    with pytest.raises(ValueError, match="TRADEWATCH_TRAIL_SAMPLE_RATE"):
        TradeWatchClient.from_env({"TRADEWATCH_TRAIL_SAMPLE_RATE": "half"})
