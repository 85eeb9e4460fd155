"""The simulator's fills carry fees and the losing-symbol scenario loses money on one instrument only;
the trading exporter's per-symbol P&L and fees agree with a plain recomputation from the raw events."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tradewatch.simulate import Simulator
from tradewatch.trading.collector import TradingStateCollector
from tradewatch.trading.events import validate_trading_event
from tradewatch.trading.state import TradingState

START = 1_767_225_600.0


@pytest.fixture(scope="module")
def events() -> list[dict]:
    # default seed, 60 s warm-up + 600 s incident at speed 1 (what the scenario table documents)
    return Simulator(42, "losing-symbol", start=START, log_events=False).steps(1320)


def test_one_symbol_loses_the_others_do_not_and_every_fill_pays_a_fee(events):
    net: dict[str, float] = defaultdict(float)
    for e in events:
        if e["type"] == "trade_closed":
            net[e["symbol"]] += e["realized_pnl"] - e["fees"]
    fills = [e for e in events if e["type"] in ("order_filled", "order_partially_filled")]
    assert fills and all(e["fee"] > 0 for e in fills)
    assert net["BTC-USD"] < -500
    assert all(v > -200 for k, v in net.items() if k != "BTC-USD"), net


def test_exporter_attribution_agrees_with_the_raw_events(events):
    state = TradingState()
    for raw in events:
        if raw["type"] in ("prediction", "outcome", "ai_call"):
            continue
        state.apply(validate_trading_event(dict(raw)))
    got = {}
    for family in TradingStateCollector(state, clock=lambda: START).collect():
        for s in family.samples:
            got[(s.name, tuple(sorted(s.labels.items())))] = s.value
    net: dict[str, float] = defaultdict(float)
    fees = 0.0
    for e in events:
        if e["type"] == "trade_closed":
            net[e["symbol"]] += e["realized_pnl"] - e["fees"]
        elif e["type"] in ("order_filled", "order_partially_filled"):
            fees += e["fee"]
    for symbol, v in net.items():
        key = ("tradewatch_trading_symbol_realized_pnl", (("strategy", "momentum"), ("symbol", symbol)))
        assert got[key] == pytest.approx(v, abs=1e-6)
    key = ("tradewatch_trading_fees_paid_total", (("strategy", "momentum"), ("venue", "sim-exchange")))
    assert got[key] == pytest.approx(fees, rel=1e-9)
