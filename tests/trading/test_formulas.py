"""Analytics formulas against cases computed by hand (the numbers in the comments)."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from trading_fixtures import T0, Events, fold, metric_values, value

from tradewatch.trading.settings import TradingConfig
from tradewatch.trading.state import sharpe_sortino

DAY = 86400.0


def equity_path(ev: Events, values: list[float], step: float = 60.0, account: str = "main") -> list[dict]:
    return [ev("portfolio_snapshot", T0 + i * step, equity=v, cash=0.0, account=account) for i, v in enumerate(values)]


def test_drawdown_high_water_mark_and_max_drawdown():
    ev = Events()
    # HWM 100 -> 120 -> 130; drawdown at 90 is 1 - 90/120 = 0.25 (the maximum), final 1 - 104/130 = 0.2.
    m = metric_values(fold(equity_path(ev, [100, 120, 90, 110, 130, 104])))
    assert value(m, "tradewatch_trading_high_water_mark", account="main") == 130
    assert value(m, "tradewatch_trading_drawdown_ratio", account="main") == pytest.approx(0.2)
    assert value(m, "tradewatch_trading_max_drawdown_ratio", account="main") == pytest.approx(0.25)
    assert value(m, "tradewatch_trading_equity", account="main") == 104
    assert value(m, "tradewatch_trading_drawdown_limit_ratio", account="main") == 0.2


def test_sharpe_and_sortino_from_daily_returns():
    ev = Events()
    # Closes of days 0..3: 100, 110, 99, 108.9 -> returns +0.1, -0.1, +0.1 (day 4 is still open).
    # mean = 1/30, std(ddof=1) = 0.2/sqrt(3) -> Sharpe = sqrt(3)/6 * sqrt(252) = 4.58258
    # downside deviation = sqrt(0.01/3) = 0.1/sqrt(3) -> Sortino = sqrt(3)/3 * sqrt(252) = 9.16515
    events = equity_path(ev, [100, 110, 99, 108.9, 119.79], step=DAY)
    m = metric_values(fold(events))
    assert value(m, "tradewatch_trading_sharpe_ratio", account="main") == pytest.approx(4.58258, abs=1e-5)
    assert value(m, "tradewatch_trading_sortino_ratio", account="main") == pytest.approx(9.16515, abs=1e-5)


def test_sharpe_annualisation_and_risk_free_rate():
    # 365 periods (crypto): scales by sqrt(365); rf = 3.65% a year = 0.0001 per period.
    sharpe, sortino = sharpe_sortino([0.01, -0.01, 0.02], 365, 0.0365)
    excess_mean = (0.02 / 3) - 0.0001
    std = math.sqrt(((0.01 - 0.02 / 3) ** 2 + (-0.01 - 0.02 / 3) ** 2 + (0.02 - 0.02 / 3) ** 2) / 2)
    downside = math.sqrt((0.0101**2) / 3)
    assert sharpe == pytest.approx(excess_mean / std * math.sqrt(365))
    assert sortino == pytest.approx(excess_mean / downside * math.sqrt(365))
    assert sharpe_sortino([0.01], 252) == (None, None)
    assert sharpe_sortino([0.01, 0.01], 252) == (None, None)  # no dispersion, no downside: undefined


def test_ratios_are_absent_until_two_returns():
    ev = Events()
    m = metric_values(fold(equity_path(ev, [100, 101, 102], step=DAY)))
    assert ("tradewatch_trading_sharpe_ratio", (("account", "main"),)) not in m


def test_profit_factor_win_rate_expectancy_holding_time():
    ev = Events()
    # Net P&L (realized - fees): +100, -50, +30, -20, 0 -> gains 130, losses 70 -> PF 130/70.
    # W = 2/5; avg_win = 65; avg_loss over the 3 non-winners = 70/3 ->
    # expectancy = 0.4 * 65 - 0.6 * 70/3 = 26 - 14 = 12 = mean net P&L (60/5).
    trades = [(101, 1), (-49, 1), (30, 0), (-20, 0), (0.5, 0.5)]
    events = [
        ev(
            "trade_closed",
            T0 + i,
            trade_id=f"x{i}",
            symbol="AAPL",
            realized_pnl=p,
            fees=f,
            holding_seconds=60 * (i + 1),
            exit_reason="signal",
            strategy="s1",
        )
        for i, (p, f) in enumerate(trades)
    ]
    m = metric_values(fold(events))
    assert value(m, "tradewatch_trading_profit_factor", strategy="s1") == pytest.approx(130 / 70)
    assert value(m, "tradewatch_trading_win_rate_ratio", strategy="s1") == pytest.approx(0.4)
    assert value(m, "tradewatch_trading_expectancy", strategy="s1") == pytest.approx(12.0)
    assert value(m, "tradewatch_trading_average_holding_time_seconds", strategy="s1") == 180
    assert value(m, "tradewatch_trading_realized_pnl", strategy="s1") == pytest.approx(60.0)
    assert value(m, "tradewatch_trading_trades_closed_total", strategy="s1", exit_reason="signal") == 5


def test_profit_factor_without_losses_is_infinite():
    ev = Events()
    m = metric_values(
        fold(
            [
                ev(
                    "trade_closed",
                    T0,
                    trade_id="a",
                    symbol="X",
                    realized_pnl=5,
                    fees=0,
                    holding_seconds=1,
                    exit_reason="take_profit",
                )
            ]
        )
    )
    assert value(m, "tradewatch_trading_profit_factor", strategy="default") == math.inf


def _order(ev, ts, oid, side, ref, fill, qty=10.0):
    return [
        ev(
            "order_submitted",
            ts,
            order_id=oid,
            symbol="AAPL",
            side=side,
            order_type="market",
            quantity=qty,
            reference_price=ref,
            venue="nyse",
        ),
        ev("order_acknowledged", ts + 0.05, order_id=oid),
        ev("order_filled", ts + 0.3, order_id=oid, fill_quantity=qty, fill_price=fill),
    ]


def test_slippage_sign_for_buys_and_sells():
    ev = Events()
    # buy 100 -> 100.5: +50 bps (worse); sell 100 -> 99.5: +50 bps (worse); sell 100 -> 100.2: -20 (better)
    events = (
        _order(ev, T0, "b1", "buy", 100.0, 100.5)
        + _order(ev, T0 + 1, "s1", "sell", 100.0, 99.5)
        + _order(ev, T0 + 2, "s2", "sell", 100.0, 100.2)
    )
    state = fold(events)
    assert state.slippage[("nyse", "buy")].sum == pytest.approx(50.0)
    assert state.slippage[("nyse", "sell")].sum == pytest.approx(30.0)
    m = metric_values(state)
    buy = dict(venue="nyse", side="buy")
    sell = dict(venue="nyse", side="sell")
    # Negative buckets: Prometheus convention drops _sum/_count (the +Inf bucket is the count).
    assert ("tradewatch_trading_slippage_bps_sum", (("side", "buy"), ("venue", "nyse"))) not in m
    assert value(m, "tradewatch_trading_slippage_bps_bucket", le="+Inf", **sell) == 2
    assert value(m, "tradewatch_trading_slippage_bps_bucket", le="20.0", **buy) == 0
    assert value(m, "tradewatch_trading_slippage_bps_bucket", le="50.0", **buy) == 1
    assert value(m, "tradewatch_trading_slippage_bps_bucket", le="-20.0", **sell) == 1
    assert value(m, "tradewatch_trading_slippage_bps_bucket", le="0.0", **sell) == 1


def test_latencies_fill_ratio_and_order_counts():
    ev = Events()
    events = [
        *_order(ev, T0, "o1", "buy", 100.0, 100.0),
        ev(
            "order_submitted",
            T0 + 1,
            order_id="o2",
            symbol="AAPL",
            side="sell",
            order_type="limit",
            quantity=10,
            limit_price=101,
            reference_price=100,
            venue="nyse",
        ),
        ev("order_partially_filled", T0 + 2, order_id="o2", fill_quantity=4, fill_price=101),
        ev("order_cancelled", T0 + 3, order_id="o2"),
        ev(
            "order_submitted",
            T0 + 4,
            order_id="o3",
            symbol="AAPL",
            side="buy",
            order_type="market",
            quantity=5,
            reference_price=100,
            venue="nyse",
        ),
        ev("order_rejected", T0 + 5, order_id="o3", reason="rate_limited"),
    ]
    m = metric_values(fold(events))
    # Filled 10 + 4 + 0 of 10 + 10 + 5 submitted: 14 / 25.
    assert value(m, "tradewatch_trading_fill_ratio", strategy="default") == pytest.approx(14 / 25)
    assert value(m, "tradewatch_trading_order_submitted_quantity_total", strategy="default") == 25
    assert value(m, "tradewatch_trading_order_filled_quantity_total", strategy="default") == 14
    assert value(m, "tradewatch_trading_order_ack_latency_seconds_bucket", venue="nyse", le="0.05") == 1
    assert value(m, "tradewatch_trading_order_ack_latency_seconds_bucket", venue="nyse", le="0.025") == 0
    assert value(m, "tradewatch_trading_order_fill_latency_seconds_sum", venue="nyse") == pytest.approx(0.3)
    assert value(m, "tradewatch_trading_order_rejections_total", venue="nyse", reason="rate_limited") == 1
    labels = dict(strategy="default", symbol="AAPL", side="sell", order_type="limit")
    assert value(m, "tradewatch_trading_orders_total", status="partially_filled", **labels) == 1
    assert value(m, "tradewatch_trading_orders_total", status="cancelled", **labels) == 1
    assert value(m, "tradewatch_trading_open_orders") == 0


def test_fill_ratio_window_keeps_the_latest_orders():
    ev = Events()
    events = []
    for i in range(4):  # order i fills i of 10
        events += [
            ev(
                "order_submitted",
                T0 + i,
                order_id=f"w{i}",
                symbol="X",
                side="buy",
                order_type="market",
                quantity=10,
                reference_price=1,
            )
        ]
        if i:
            events.append(ev("order_partially_filled", T0 + i, order_id=f"w{i}", fill_quantity=i, fill_price=1))
        events.append(ev("order_cancelled", T0 + i, order_id=f"w{i}"))
    m = metric_values(fold(events, TradingConfig(fill_window=2)))
    assert value(m, "tradewatch_trading_fill_ratio", strategy="default") == pytest.approx(5 / 20)


def test_fill_ratio_weighs_orders_by_notional_not_by_quantity():
    """1 BTC at 60,000 filled and 100 SPY at 500 rejected: 60,000 of 110,000 notional filled
    (by raw quantity it would read 1 of 101, adding coins to shares)."""
    ev = Events()
    events = [
        ev(
            "order_submitted",
            T0,
            order_id="b",
            symbol="BTC-USD",
            side="buy",
            order_type="market",
            quantity=1,
            reference_price=60_000,
        ),
        ev("order_filled", T0 + 1, order_id="b", fill_quantity=1, fill_price=60_000),
        ev(
            "order_submitted",
            T0 + 2,
            order_id="s",
            symbol="SPY",
            side="buy",
            order_type="market",
            quantity=100,
            reference_price=500,
        ),
        ev("order_rejected", T0 + 3, order_id="s", reason="risk_limit"),
    ]
    m = metric_values(fold(events))
    assert value(m, "tradewatch_trading_fill_ratio", strategy="default") == pytest.approx(60_000 / 110_000)


def test_exposure_leverage_concentration_unrealized():
    ev = Events()
    events = [
        ev("position_snapshot", T0, symbol="A", quantity=6, avg_price=90, mark_price=100),
        ev("position_snapshot", T0, symbol="B", quantity=-3, avg_price=110, mark_price=100),
        ev("position_snapshot", T0, symbol="C", quantity=1, avg_price=100, mark_price=100, limit=4),
        ev("position_snapshot", T0, symbol="D", quantity=2, avg_price=1, mark_price=1),
        ev("position_snapshot", T0 + 1, symbol="D", quantity=0, avg_price=0, mark_price=1),  # closed
        ev("portfolio_snapshot", T0, equity=2000, cash=1000),
    ]
    m = metric_values(fold(events))
    # Values 600, -300, 100: gross 1000, net 400, long 700, short 300; shares .6 .3 .1.
    for kind, expected in (("gross", 1000), ("net", 400), ("long", 700), ("short", 300)):
        assert value(m, "tradewatch_trading_exposure", kind=kind) == pytest.approx(expected)
    assert value(m, "tradewatch_trading_leverage_ratio") == pytest.approx(0.5)
    assert value(m, "tradewatch_trading_concentration_ratio", measure="largest") == pytest.approx(0.6)
    assert value(m, "tradewatch_trading_concentration_ratio", measure="top3") == pytest.approx(1.0)
    assert value(m, "tradewatch_trading_concentration_ratio", measure="herfindahl") == pytest.approx(0.46)
    # 6 x (100 - 90) + (-3) x (100 - 110) + 0 = 90
    assert value(m, "tradewatch_trading_unrealized_pnl") == pytest.approx(90)
    assert value(m, "tradewatch_trading_open_positions") == 3
    assert value(m, "tradewatch_trading_position_value", symbol="B") == pytest.approx(-300)
    assert value(m, "tradewatch_trading_position_limit_usage_ratio", symbol="C") == pytest.approx(0.25)


def test_daily_pnl_across_a_session_boundary_in_new_york():
    ny = ZoneInfo("America/New_York")
    at = lambda h, m, day=5: datetime(2026, 1, day, h, m, tzinfo=ny).timestamp()  # noqa: E731 (EST, UTC-5)
    ev = Events()
    config = TradingConfig(session_boundary="17:00", session_timezone="America/New_York")
    events = [
        ev("portfolio_snapshot", at(10, 0), equity=1000, cash=0),  # first equity: the session starts at 1000
        ev("portfolio_snapshot", at(16, 59), equity=1100, cash=0),  # +100 in the session
    ]
    state = fold(events, config)
    assert value(metric_values(state), "tradewatch_trading_daily_pnl", account="default") == pytest.approx(100)
    from tradewatch.trading.events import validate_trading_event as v

    state.apply(v(ev("portfolio_snapshot", at(17, 1), equity=1050, cash=0)))  # new session from 1100
    assert value(metric_values(state), "tradewatch_trading_daily_pnl", account="default") == pytest.approx(-50)
    # 19:30 New York is 00:30 UTC the next day: a UTC boundary, not a session boundary.
    state.apply(v(ev("portfolio_snapshot", at(19, 30), equity=1070, cash=0)))
    assert datetime.fromtimestamp(at(19, 30), ZoneInfo("UTC")).day == 6
    assert value(metric_values(state), "tradewatch_trading_daily_pnl", account="default") == pytest.approx(-30)
    # Next day 16:00 New York is still the session that began at 17:00 the day before.
    state.apply(v(ev("portfolio_snapshot", at(16, 0, day=6), equity=1000, cash=0)))
    assert value(metric_values(state), "tradewatch_trading_daily_pnl", account="default") == pytest.approx(-100)


def test_daily_loss_limit_gauge_only_when_configured():
    ev = Events()
    events = equity_path(ev, [100])
    assert not any(k[0] == "tradewatch_trading_daily_loss_limit" for k in metric_values(fold(events)))
    m = metric_values(fold(events, TradingConfig(daily_loss_limit=500)))
    assert value(m, "tradewatch_trading_daily_loss_limit", account="main") == 500


def test_risk_controls_feed_and_heartbeats():
    ev = Events()
    events = [
        ev("circuit_breaker", T0, service="broker", state="closed"),  # initial state: not a transition
        ev("circuit_breaker", T0 + 1, service="broker", state="open"),
        ev("circuit_breaker", T0 + 2, service="broker", state="open"),  # repeated: not a transition
        ev("circuit_breaker", T0 + 3, service="broker", state="half_open"),
        ev("kill_switch", T0, active=True, reason="daily_loss"),
        ev("kill_switch", T0 + 1, active=True, reason="manual"),  # already active: not an activation
        ev("kill_switch", T0 + 2, active=False),
        ev("kill_switch", T0 + 3, active=True, reason="drawdown"),
        ev("risk_score", T0, risk_type="var", score=0.3),
        ev("volatility_breach", T0, symbol="X", volatility=0.1, limit=0.05),
        ev("market_data", T0, symbol="X", exchange_ts=T0 - 1, kind="tick", price=1),
        ev("market_data", T0, symbol="X", exchange_ts=T0 + 4, kind="tick", price=1),  # 5 s apart: no gap
        ev("market_data", T0, symbol="X", exchange_ts=T0 + 20, kind="bar"),  # 16 s: a gap (> 10 s)...
        ev("market_data", T0, symbol="X", exchange_ts=T0 + 21, kind="bar"),  # ...confirmed by the next tick
        ev("heartbeat", T0, component="feed", status="degraded"),
        ev("signal", T0, symbol="X", action="buy", confidence=0.75, strategy="s"),
        ev("decision", T0, provider="llm", latency_seconds=1.5),
    ]
    state = fold(events)
    state.last_tick["X"][1] = T0 + 100  # receipt time (the ingestor stamps received_at)
    state.heartbeats["feed"][0] = T0 + 90
    m = metric_values(state, now=T0 + 130)
    assert value(m, "tradewatch_trading_circuit_breaker_state", service="broker", state="half_open") == 1
    assert value(m, "tradewatch_trading_circuit_breaker_state", service="broker", state="open") == 0
    assert value(m, "tradewatch_trading_circuit_breaker_transitions_total", service="broker", state="open") == 1
    # Exported from 0 once the service is known: increase() sees the first transition into a state.
    assert value(m, "tradewatch_trading_circuit_breaker_transitions_total", service="broker", state="closed") == 0
    assert value(m, "tradewatch_trading_kill_switch_active") == 1
    assert value(m, "tradewatch_trading_kill_switch_activations_total", reason="daily_loss") == 1
    assert value(m, "tradewatch_trading_kill_switch_activations_total", reason="drawdown") == 1
    assert value(m, "tradewatch_trading_kill_switch_activations_total", reason="manual") == 0  # re-engaged
    assert value(m, "tradewatch_trading_risk_score", type="var") == 0.3
    assert value(m, "tradewatch_trading_volatility_breaches_total", symbol="X") == 1
    assert value(m, "tradewatch_market_data_ticks_total", symbol="X") == 4
    assert value(m, "tradewatch_market_data_gaps_total", symbol="X") == 1
    assert value(m, "tradewatch_market_data_last_tick_timestamp_seconds", symbol="X") == T0 + 21
    assert value(m, "tradewatch_market_data_age_seconds", symbol="X") == pytest.approx(30)
    assert value(m, "tradewatch_heartbeat_age_seconds", component="feed") == pytest.approx(40)
    assert value(m, "tradewatch_heartbeat_status", component="feed", status="degraded") == 1
    assert value(m, "tradewatch_heartbeat_status", component="feed", status="healthy") == 0
    assert value(m, "tradewatch_trading_signals_total", strategy="s", action="buy") == 1
    assert value(m, "tradewatch_trading_signal_confidence_bucket", strategy="s", le="0.8") == 1
    assert value(m, "tradewatch_trading_signal_confidence_bucket", strategy="s", le="0.7") == 0
    assert value(m, "tradewatch_trading_decision_latency_seconds_sum", provider="llm") == 1.5
