"""The fold: bounded cardinality, exact snapshot round trips, golden exposition."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from trading_fixtures import T0, event_stream, fold, metric_values

from tradewatch.trading.collector import TradingStateCollector
from tradewatch.trading.settings import TradingConfig
from tradewatch.trading.state import OVERFLOW, TradingState

GOLDEN = Path(__file__).parent / "golden" / "exposition.prom"


def exposition(state: TradingState, now: float = T0 + 10_000) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TradingStateCollector(state, clock=lambda: now))
    return generate_latest(registry)


def _flood(state: TradingState, start: int, stop: int, symbols: int) -> None:
    """Normalized events (validator skipped, for speed) spread over ``symbols`` symbols."""
    apply = state.apply
    for i in range(start, stop):
        sym = f"S{i % symbols}"
        ts = T0 + i * 0.01
        k = i % 8
        if k == 0:
            apply(
                {
                    "type": "order_submitted",
                    "ts": ts,
                    "event_id": "x",
                    "order_id": f"o{i}",
                    "symbol": sym,
                    "side": "buy",
                    "order_type": "limit",
                    "quantity": 1.0,
                    "reference_price": 10.0,
                    "strategy": f"st{i % 50}",
                    "venue": f"v{i % 80}",
                }
            )
        elif k == 1:
            apply(
                {
                    "type": "order_filled",
                    "ts": ts,
                    "event_id": "x",
                    "order_id": f"o{i - 1 - 8 * (i % 3)}",
                    "fill_quantity": 1.0,
                    "fill_price": 10.1,
                }
            )
        elif k == 2:
            apply(
                {
                    "type": "position_snapshot",
                    "ts": ts,
                    "event_id": "x",
                    "symbol": sym,
                    "quantity": 1.0,
                    "avg_price": 10.0,
                    "mark_price": 10.5,
                    "limit": 5.0,
                }
            )
        elif k == 3:
            apply(
                {
                    "type": "signal",
                    "ts": ts,
                    "event_id": "x",
                    "symbol": sym,
                    "action": "buy",
                    "confidence": 0.5,
                    "strategy": f"st{i % 50}",
                }
            )
        elif k == 4:
            apply(
                {
                    "type": "volatility_breach",
                    "ts": ts,
                    "event_id": "x",
                    "symbol": sym,
                    "volatility": 1.0,
                    "limit": 0.5,
                }
            )
        elif k == 5:
            apply(
                {
                    "type": "heartbeat",
                    "ts": ts,
                    "event_id": "x",
                    "component": f"c{i % 500}",
                    "status": "healthy",
                    "received_at": ts,
                }
            )
        else:
            apply(
                {
                    "type": "market_data",
                    "ts": ts,
                    "event_id": "x",
                    "symbol": sym,
                    "exchange_ts": ts,
                    "kind": "tick",
                    "received_at": ts,
                }
            )


def _series(state: TradingState) -> int:
    return len(metric_values(state))


def test_a_million_events_over_ten_thousand_symbols_keep_series_bounded():
    config = TradingConfig(
        max_symbols=100,
        max_strategies=20,
        max_label_values=50,
        max_open_orders=1000,
        max_tracked_symbols=2000,
    )
    state = TradingState(config)
    _flood(state, 0, 100_000, 10_000)
    at_100k = _series(state)
    _flood(state, 100_000, 1_000_000, 10_000)
    at_1m = _series(state)
    assert at_1m == at_100k  # every bounded label set saturated early; nothing grows with the stream
    values = metric_values(state)
    symbols = {dict(labels).get("symbol") for _, labels in values} - {
        None,
        "unknown",
    }  # fills of evicted orders
    assert len(symbols) == 101 and OVERFLOW in symbols
    strategies = {dict(labels).get("strategy") for _, labels in values} - {None}
    assert len(strategies) == 21
    components = {dict(labels)["component"] for name, labels in values if name == "tradewatch_heartbeat_status"}
    assert len(components) == 51
    assert len(state.open_orders) <= 1000
    assert len(state.positions) <= 2000 and len(state.feed_clock) <= 2000
    assert at_1m < 5000


def test_snapshot_round_trip_is_exact():
    events = list(event_stream(20_000, symbols=20))
    state = fold(events[:15_000])
    data = orjson.loads(orjson.dumps(state.to_snapshot()))
    restored = TradingState(state.config)
    restored.from_snapshot(data)
    assert exposition(restored) == exposition(state)
    # ...and it keeps folding identically afterwards.
    from tradewatch.trading.events import validate_trading_event

    for raw in events[15_000:]:
        event = validate_trading_event(dict(raw))
        state.apply(event)
        restored.apply(dict(event))
    assert exposition(restored) == exposition(state)


def test_unknown_types_are_ignored_by_the_fold():
    state = TradingState()
    state.apply({"type": "prediction", "ts": T0, "event_id": "p"})
    assert exposition(state) == exposition(TradingState())


def test_golden_exposition():
    events = list(event_stream(3000, symbols=5, seed=11))
    state = fold([{**e, "received_at": T0 + i * 0.05} for i, e in enumerate(events)])
    got = exposition(state)
    if os.environ.get("TRADEWATCH_UPDATE_GOLDEN"):  # after an intended change: regenerate, then review the diff
        GOLDEN.write_bytes(got)
    assert got.decode() == GOLDEN.read_text()


def test_every_exposed_metric_is_in_the_catalog(tmp_path):
    import re

    from tradewatch.core.ingest import EventIngestor
    from tradewatch.core.journal import Journal
    from tradewatch.trading.events import validate_trading_event

    catalog = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    section = catalog[catalog.index("## Trading exporter") :]
    section = section[: section.index("\n## ", 1)]
    trading_rows = set(re.findall(r"^\| `([a-z_0-9]+)` \|", section, re.M))
    documented = set(re.findall(r"^\| `([a-z_0-9]+)` \|", catalog, re.M))
    events = list(event_stream(3000, seed=3))
    state = fold(
        [
            *events,
            {
                "type": "portfolio_snapshot",
                "ts": T0 + 3 * 86400,
                "event_id": "late",
                "equity": 1,
                "cash": 1,
                "account": "main",
            },
        ],
        TradingConfig(daily_loss_limit=100, return_period=60),
    )
    exposed = {f.name + ("_total" if f.type == "counter" else "") for f in TradingStateCollector(state).collect()}
    ingestor = EventIngestor(Journal(tmp_path), validate_trading_event, TradingState())
    ingestor.start()
    ingestor.ingest([*events[:10], {"type": "nope"}])
    exposed_ingest = {f.name + ("_total" if f.type == "counter" else "") for f in ingestor.collect()}
    assert exposed == trading_rows  # every trading row is implemented, and nothing undocumented is exposed
    assert exposed_ingest <= documented


def test_open_orders_forget_the_oldest_beyond_the_limit():
    from trading_fixtures import Events

    ev = Events()
    events = [
        ev(
            "order_submitted",
            T0 + i,
            order_id=f"o{i}",
            symbol="X",
            side="buy",
            order_type="market",
            quantity=1,
            reference_price=10,
        )
        for i in range(5)
    ]
    events.append(ev("order_filled", T0 + 9, order_id="o0", fill_quantity=1, fill_price=10, symbol="X"))
    state = fold(events, TradingConfig(max_open_orders=3))
    assert list(state.open_orders) == ["o2", "o3", "o4"] and state.orders_evicted == 2
    m = metric_values(state)
    # The fill of a forgotten order is still counted, with the attributes it carries.
    key = (
        "tradewatch_trading_orders_total",
        (
            ("order_type", "unknown"),
            ("side", "unknown"),
            ("status", "filled"),
            ("strategy", "default"),
            ("symbol", "X"),
        ),
    )
    assert m[key] == 1
    restored = TradingState(state.config)
    restored.from_snapshot(orjson.loads(orjson.dumps(state.to_snapshot())))
    assert list(restored.open_orders) == ["o2", "o3", "o4"]
