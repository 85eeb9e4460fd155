"""P&L attribution, execution costs and rolling statistics (issue 12) against an independent recomputation.

Every expected figure here is recomputed from the raw events with numpy (no exporter code): fees by
strategy and venue, notional-weighted mean slippage, realized P&L by symbol and strategy, unrealized
P&L by symbol, the rolling and per-session win rate, profit factor and expectancy.
"""

from __future__ import annotations

import math
import random

import numpy as np
import orjson
import pytest
from trading_fixtures import T0, fold, metric_values, value

from tradewatch.core import config as cfg
from tradewatch.trading.settings import TradingConfig, settings
from tradewatch.trading.state import TradingState

P = "tradewatch_trading_"
DAY = 86400.0
STRATEGIES = ("momo", "meanrev")
VENUES = ("binance", "kraken")
SYMBOLS = ("AAA", "BBB", "CCC")


def _stream(seed: int = 3, orders: int = 300, trades: int = 250) -> list[dict]:
    """Orders with fills (fees, slippage both ways) and closed trades over two sessions."""
    rng = random.Random(seed)
    out: list[dict] = []
    ts = T0 + 3600.0
    for i in range(orders):
        ts += 1.0
        strategy, venue, symbol = rng.choice(STRATEGIES), rng.choice(VENUES), rng.choice(SYMBOLS)
        side = rng.choice(("buy", "sell"))
        ref = round(rng.uniform(50, 150), 2)
        qty = float(rng.randint(1, 20))
        env = {"strategy": strategy, "venue": venue}
        out.append(
            {"type": "order_submitted", "ts": ts, "order_id": f"o{i}", "symbol": symbol, "side": side}
            | {"order_type": "market", "quantity": qty, "reference_price": ref}
            | env
        )
        first = float(rng.randint(0, int(qty) - 1)) if qty > 1 else 0.0
        for kind, part in (("order_partially_filled", first), ("order_filled", qty - first)):
            if part <= 0:
                continue
            fill = round(ref * (1 + rng.gauss(0.0002, 0.003)), 4)
            fill_event = {"type": kind, "ts": ts + 0.5, "order_id": f"o{i}", "fill_quantity": part}
            out.append(fill_event | {"fill_price": fill, "fee": round(part * fill * 0.0004, 6)} | env)
    for i in range(trades):
        # the first 150 trades on day 0, the rest on day 1 (session boundary 00:00 UTC)
        ts = T0 + (3600.0 + i if i < 150 else DAY + 3600.0 + i)
        strategy, symbol = rng.choice(STRATEGIES), rng.choice(SYMBOLS)
        drift = -8.0 if symbol == "CCC" else 4.0  # CCC loses money
        out.append(
            {"type": "trade_closed", "ts": ts, "trade_id": f"t{i}", "symbol": symbol}
            | {"realized_pnl": round(rng.gauss(drift, 25.0), 2), "fees": round(rng.uniform(0, 1), 4)}
            | {"holding_seconds": 30.0, "exit_reason": "signal", "strategy": strategy}
        )
    for symbol, qty, avg, mark in (("AAA", 3.0, 100.0, 104.5), ("BBB", -2.0, 50.0, 51.25), ("CCC", 5.0, 10.0, 9.0)):
        out.append(
            {"type": "position_snapshot", "ts": T0 + DAY + 7200, "symbol": symbol, "quantity": qty}
            | {"avg_price": avg, "mark_price": mark}
        )
    return out


def _fold(events: list[dict], config: TradingConfig | None = None) -> TradingState:
    return fold([e | {"event_id": f"e{i}"} for i, e in enumerate(events)], config)


@pytest.fixture(scope="module")
def folded():
    events = _stream()
    state = _fold(events, TradingConfig(trade_window=40))
    return events, state, metric_values(state)


def test_fees_by_strategy_and_venue_match_the_fills(folded):
    events, _, m = folded
    for strategy in STRATEGIES:
        for venue in VENUES:
            fees = np.array(
                [
                    e["fee"]
                    for e in events
                    if e["type"] in ("order_filled", "order_partially_filled")
                    and (e["strategy"], e["venue"]) == (strategy, venue)
                ]
            )
            got = value(m, P + "fees_paid_total", strategy=strategy, venue=venue)
            assert got == pytest.approx(fees.sum(), rel=1e-12) and got > 0


def test_mean_slippage_from_the_counters_is_the_notional_weighted_mean(folded):
    events, _, m = folded
    orders = {e["order_id"]: e for e in events if e["type"] == "order_submitted"}
    for strategy in STRATEGIES:
        for venue in VENUES:
            fills = [
                (orders[e["order_id"]], e)
                for e in events
                if e["type"] in ("order_filled", "order_partially_filled")
                and (e["strategy"], e["venue"]) == (strategy, venue)
            ]
            sign = np.array([1.0 if o["side"] == "buy" else -1.0 for o, _ in fills])
            ref = np.array([o["reference_price"] for o, _ in fills])
            price = np.array([f["fill_price"] for _, f in fills])
            qty = np.array([f["fill_quantity"] for _, f in fills])
            bps = sign * (price - ref) / ref * 1e4
            expected = np.average(bps, weights=qty * ref)  # the figure traders quote
            labels = {"strategy": strategy, "venue": venue}
            adverse = value(m, P + "slippage_cost_total", direction="adverse", **labels)
            favourable = value(m, P + "slippage_cost_total", direction="favourable", **labels)
            notional = value(m, P + "filled_notional_total", **labels)
            assert adverse > 0 and favourable > 0  # both directions occur in this stream
            assert notional == pytest.approx((qty * ref).sum(), rel=1e-12)
            assert (adverse - favourable) / notional * 1e4 == pytest.approx(expected, rel=1e-9)


def test_realized_pnl_by_symbol_and_strategy_and_unrealized_by_symbol(folded):
    events, _, m = folded
    trades = [e for e in events if e["type"] == "trade_closed"]
    for strategy in STRATEGIES:
        total = 0.0
        for symbol in SYMBOLS:
            net = np.array(
                [t["realized_pnl"] - t["fees"] for t in trades if (t["strategy"], t["symbol"]) == (strategy, symbol)]
            )
            got = value(m, P + "symbol_realized_pnl", strategy=strategy, symbol=symbol)
            assert got == pytest.approx(net.sum(), abs=1e-9)
            total += got
        assert value(m, P + "realized_pnl", strategy=strategy) == pytest.approx(total, abs=1e-9)
        nets = np.array([t["realized_pnl"] - t["fees"] for t in trades if t["strategy"] == strategy])
        assert value(m, P + "trade_pnl_extreme", strategy=strategy, extreme="best") == nets.max()
        assert value(m, P + "trade_pnl_extreme", strategy=strategy, extreme="worst") == nets.min()
        # negative buckets: no _sum/_count (OpenMetrics), the +Inf bucket counts every trade
        assert value(m, P + "trade_pnl_bucket", strategy=strategy, le="+Inf") == len(nets)
        assert value(m, P + "trade_pnl_bucket", strategy=strategy, le="0.0") == (nets <= 0).sum()
    by_symbol = {
        s: sum(value(m, P + "symbol_realized_pnl", strategy=st, symbol=s) for st in STRATEGIES) for s in SYMBOLS
    }
    assert by_symbol["CCC"] < 0 < by_symbol["AAA"]  # the losing symbol shows
    assert value(m, P + "symbol_unrealized_pnl", symbol="AAA") == pytest.approx(3 * 4.5)
    assert value(m, P + "symbol_unrealized_pnl", symbol="BBB") == pytest.approx(-2 * 1.25)
    assert value(m, P + "symbol_unrealized_pnl", symbol="CCC") == pytest.approx(-5.0)


def _stats(nets: np.ndarray) -> tuple[float, float, float]:
    gains, losses = nets[nets > 0].sum(), -nets[nets <= 0].sum()
    return (nets > 0).mean(), gains / losses, nets.mean()


def test_rolling_and_session_statistics_beside_the_lifetime_ones(folded):
    events, _, m = folded
    trades = [e for e in events if e["type"] == "trade_closed"]
    for strategy in STRATEGIES:
        mine = [t for t in trades if t["strategy"] == strategy]
        nets = np.array([t["realized_pnl"] - t["fees"] for t in mine])
        today = np.array([t["realized_pnl"] - t["fees"] for t in mine if t["ts"] >= T0 + DAY])
        for scope, sample in (("rolling_", nets[-40:]), ("session_", today), ("", nets)):
            win, pf, expectancy = _stats(sample)
            assert value(m, P + scope + "win_rate_ratio", strategy=strategy) == pytest.approx(win), scope
            assert value(m, P + scope + "profit_factor", strategy=strategy) == pytest.approx(pf), scope
            assert value(m, P + scope + "expectancy", strategy=strategy) == pytest.approx(expectancy), scope
        assert value(m, P + "rolling_trades", strategy=strategy) == 40
        assert value(m, P + "session_trades", strategy=strategy) == len(today)
        # the window is what makes them differ: a lifetime figure would hide a change
        assert value(m, P + "rolling_win_rate_ratio", strategy=strategy) != value(
            m, P + "win_rate_ratio", strategy=strategy
        )


def test_a_late_trade_of_an_earlier_session_stays_out_of_the_session_figures():
    base = {"symbol": "AAA", "fees": 0.0, "holding_seconds": 1.0, "exit_reason": "signal", "strategy": "s"}
    events = [
        {"type": "trade_closed", "ts": T0 + DAY + 10, "trade_id": "a", "realized_pnl": 5.0} | base,
        {"type": "trade_closed", "ts": T0 + 10, "trade_id": "b", "realized_pnl": -5.0} | base,  # yesterday's
    ]
    m = metric_values(_fold(events))
    assert value(m, P + "session_win_rate_ratio", strategy="s") == 1.0
    assert value(m, P + "session_profit_factor", strategy="s") == math.inf
    assert value(m, P + "rolling_win_rate_ratio", strategy="s") == 0.5


def test_snapshot_round_trip_keeps_every_new_family(folded):
    _, state, m = folded
    restored = TradingState(state.config)
    restored.from_snapshot(orjson.loads(orjson.dumps(state.to_snapshot())))
    assert metric_values(restored) == m


def test_slippage_tail_is_not_capped_and_old_snapshots_load():
    events = [
        {"type": "order_submitted", "ts": T0, "order_id": "o", "symbol": "A", "side": "buy"}
        | {"order_type": "market", "quantity": 1.0, "reference_price": 100.0},
        {"type": "order_filled", "ts": T0 + 1, "order_id": "o", "fill_quantity": 1.0, "fill_price": 101.97},
    ]
    state = _fold(events)
    m = metric_values(state)
    labels = {"venue": "default", "side": "buy"}
    assert value(m, P + "slippage_bps_bucket", le="100.0", **labels) == 0  # 197 bps is above 100
    assert value(m, P + "slippage_bps_bucket", le="200.0", **labels) == 1
    # A snapshot from before the wider buckets (14 bounds, 15 counts) loads into the new layout.
    snap = orjson.loads(orjson.dumps(state.to_snapshot()))
    snap["slippage"] = [["default", "buy", [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 3], 5.0]]
    old = TradingState()
    old.from_snapshot(snap)
    m = metric_values(old)
    assert value(m, P + "slippage_bps_bucket", le="1.0", **labels) == 1
    assert value(m, P + "slippage_bps_bucket", le="100.0", **labels) == 3
    assert value(m, P + "slippage_bps_bucket", le="1000.0", **labels) == 3
    assert value(m, P + "slippage_bps_bucket", le="+Inf", **labels) == 6


def test_trade_window_setting_is_validated_and_read_from_the_environment():
    c = TradingConfig.from_config(cfg.load(settings(), environ={"TRADEWATCH_ANALYTICS_TRADE_WINDOW": "25"}))
    assert c.trade_window == 25
    with pytest.raises(cfg.ConfigError, match=r"analytics\.trade_window"):
        cfg.load(settings(), environ={"TRADEWATCH_ANALYTICS_TRADE_WINDOW": "0"})


def test_fees_of_fills_of_unknown_orders_count_and_pairs_exist_from_zero():
    events = [
        {"type": "order_submitted", "ts": T0, "order_id": "o", "symbol": "A", "side": "sell", "venue": "v"}
        | {"order_type": "market", "quantity": 1.0, "reference_price": 100.0},
        {"type": "order_filled", "ts": T0 + 1, "order_id": "x", "fill_quantity": 1.0, "fill_price": 9.0, "fee": 0.5},
    ]
    m = metric_values(_fold(events))
    assert value(m, P + "fees_paid_total", strategy="default", venue="v") == 0  # submitted: exists from 0
    assert value(m, P + "slippage_cost_total", strategy="default", venue="v", direction="adverse") == 0
    assert value(m, P + "fees_paid_total", strategy="default", venue="default") == 0.5  # no reference: fee only
    assert value(m, P + "filled_notional_total", strategy="default", venue="default") == 0
