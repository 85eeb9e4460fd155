"""Event time that arrives late, jumps ahead or is far away: "the latest" follows event time.

Every case here was seen on main before the fix (issue 11, section 4): a late portfolio snapshot
folded as the latest (equity 90 instead of 120, daily P&L -30, max drawdown 0.25 for good, a bogus
-25 % return in the Sharpe window); one tick in 2100 froze a symbol's feed clock; counters born at 1.
"""

from __future__ import annotations

import random

import orjson
import pytest
from trading_fixtures import T0, Events, event_stream, fold, metric_values, value

from tradewatch.trading.eventtime import TIMELINE_EVENTS, Timeline
from tradewatch.trading.settings import TradingConfig
from tradewatch.trading.state import LATE_TYPES, TradingState

DAY = 86400.0
Y2100 = 4_102_444_800.0
LATE = "tradewatch_trading_late_events_total"


def _without(m: dict, name: str) -> dict:
    return {k: v for k, v in m.items() if k[0] != name}


def test_a_late_portfolio_snapshot_is_counted_and_never_folded_as_the_latest():
    ev = Events()
    path = [
        ev("portfolio_snapshot", T0 + i * DAY, equity=e, cash=0.0, account="main")
        for i, e in enumerate([100, 105, 112, 120])
    ]
    late = ev("portfolio_snapshot", T0 + 2 * DAY + 3600, equity=90, cash=0.0, account="main")
    after = [
        ev("portfolio_snapshot", T0 + (4 + i) * DAY, equity=e, cash=0.0, account="main")
        for i, e in enumerate([126, 131, 140])
    ]
    config = TradingConfig(daily_loss_limit=50)
    in_order = metric_values(fold(path + after, config))
    m = metric_values(fold([*path, late], config))
    assert value(m, "tradewatch_trading_equity", account="main") == 120  # main: 90
    assert value(m, "tradewatch_trading_daily_pnl", account="main") == 8  # 120 - 112 (main: -30)
    assert value(m, "tradewatch_trading_max_drawdown_ratio", account="main") == 0  # main: 0.25
    assert value(m, "tradewatch_trading_portfolio_snapshot_timestamp_seconds", account="main") == T0 + 3 * DAY
    assert value(m, LATE, type="portfolio_snapshot") == 1
    # ...and nothing of it reaches the returns: the same Sharpe as the path without it (main: a -25 % return).
    m = metric_values(fold([*path, late, *after], config))
    assert value(m, LATE, type="portfolio_snapshot") == 1
    assert _without(m, LATE) == _without(in_order, LATE)
    assert value(m, "tradewatch_trading_sharpe_ratio", account="main") == pytest.approx(
        value(in_order, "tradewatch_trading_sharpe_ratio", account="main")
    )


def test_a_snapshot_with_the_same_ts_is_not_late_and_accounts_are_independent():
    ev = Events()
    events = [
        ev("portfolio_snapshot", T0 + 10, equity=100, cash=0.0, account="a"),
        ev("portfolio_snapshot", T0 + 10, equity=101, cash=0.0, account="a"),  # same instant: the newer wins
        ev("portfolio_snapshot", T0 + 5, equity=50, cash=0.0, account="b"),  # older than a's, but b's first
    ]
    m = metric_values(fold(events))
    assert value(m, "tradewatch_trading_equity", account="a") == 101
    assert value(m, "tradewatch_trading_equity", account="b") == 50
    assert value(m, LATE, type="portfolio_snapshot") == 0


def test_late_positions_limits_scores_and_heartbeats_never_overwrite_newer_state():
    ev = Events()
    events = [
        ev("position_snapshot", T0 + 10, symbol="X", quantity=5, avg_price=10, mark_price=11, limit=10),
        ev("position_snapshot", T0 + 5, symbol="X", quantity=1, avg_price=10, mark_price=9, limit=10),
        ev("position_limit", T0 + 20, symbol="Y", usage_ratio=0.8),
        ev("position_limit", T0 + 15, symbol="Y", usage_ratio=0.1),
        ev("risk_score", T0 + 10, risk_type="var", score=0.7),
        ev("risk_score", T0 + 9, risk_type="var", score=0.1),
        {**ev("heartbeat", T0 + 10, component="feed", status="down"), "received_at": T0 + 10},
        {**ev("heartbeat", T0 + 8, component="feed", status="healthy"), "received_at": T0 + 50},
    ]
    m = metric_values(fold(events), now=T0 + 60)
    assert value(m, "tradewatch_trading_position_value", symbol="X") == 55
    assert value(m, "tradewatch_trading_position_limit_usage_ratio", symbol="X") == 0.5
    assert value(m, "tradewatch_trading_position_limit_usage_ratio", symbol="Y") == 0.8
    assert value(m, "tradewatch_trading_risk_score", type="var") == 0.7
    assert value(m, "tradewatch_heartbeat_status", component="feed", status="down") == 1
    # A late heartbeat still proves the component sends (a stepped-back clock must not look like "down").
    assert value(m, "tradewatch_heartbeat_age_seconds", component="feed") == 10
    for kind, n in [("position_snapshot", 1), ("position_limit", 1), ("risk_score", 1), ("heartbeat", 1)]:
        assert value(m, LATE, type=kind) == n


def test_the_kill_switch_follows_event_time_and_a_late_activation_is_still_counted():
    ev = Events()
    act = "tradewatch_trading_kill_switch_activations_total"
    # Engaged at 10, a release from 5 arrives late: still engaged (main: released).
    m = metric_values(
        fold([ev("kill_switch", T0 + 10, active=True, reason="daily_loss"), ev("kill_switch", T0 + 5, active=False)])
    )
    assert value(m, "tradewatch_trading_kill_switch_active") == 1
    assert value(m, act, reason="daily_loss") == 1 and value(m, LATE, type="kill_switch") == 1
    # Released at 30; an activation at 20 arrives after: a halt that happened (counted), not a halt now.
    events = [
        ev("kill_switch", T0, active=False),
        ev("kill_switch", T0 + 30, active=False),
        ev("kill_switch", T0 + 20, active=True, reason="manual"),
    ]
    m = metric_values(fold(events))
    assert value(m, "tradewatch_trading_kill_switch_active") == 0  # main: 1
    assert value(m, act, reason="manual") == 1
    # A late repeat inside a known engagement is not a second activation.
    events = [
        ev("kill_switch", T0 + 10, active=True, reason="drawdown"),
        ev("kill_switch", T0 + 30, active=False),
        ev("kill_switch", T0 + 20, active=True, reason="drawdown"),
    ]
    m = metric_values(fold(events))
    assert value(m, act, reason="drawdown") == 1 and value(m, "tradewatch_trading_kill_switch_active") == 0
    # A late release inside an engagement splits it in two: the second engagement is counted.
    events = [
        ev("kill_switch", T0 + 10, active=True, reason="drawdown"),
        ev("kill_switch", T0 + 30, active=True, reason="volatility"),
        ev("kill_switch", T0 + 20, active=False),
    ]
    m = metric_values(fold(events))
    assert value(m, act, reason="drawdown") == 1 and value(m, act, reason="volatility") == 1
    assert value(m, "tradewatch_trading_kill_switch_active") == 1


def test_a_late_breaker_event_does_not_reopen_a_closed_breaker():
    ev = Events()
    events = [
        ev("circuit_breaker", T0, service="broker", state="closed"),
        ev("circuit_breaker", T0 + 10, service="broker", state="open"),
        ev("circuit_breaker", T0 + 30, service="broker", state="closed"),
        ev("circuit_breaker", T0 + 20, service="broker", state="open"),
    ]  # late, inside the open spell
    m = metric_values(fold(events))
    tr = "tradewatch_trading_circuit_breaker_transitions_total"
    assert value(m, "tradewatch_trading_circuit_breaker_state", service="broker", state="closed") == 1  # main: open
    assert value(m, tr, service="broker", state="open") == 1  # main: 2
    assert value(m, tr, service="broker", state="closed") == 1
    assert value(m, tr, service="broker", state="half_open") == 0
    assert value(m, LATE, type="circuit_breaker") == 1


@pytest.mark.parametrize("seed", range(200))
def test_timeline_counts_the_same_transitions_whatever_the_arrival_order(seed):
    rng = random.Random(seed)
    n = rng.randint(1, TIMELINE_EVENTS)
    states = ("closed", "open", "half_open")
    events = [(float(i), rng.choice(states)) for i in range(n)]
    expected: dict[str, int] = {}
    prev = "closed"
    for _, st in events:
        if st != prev:
            expected[st] = expected.get(st, 0) + 1
        prev = st
    arrival = events[:]
    rng.shuffle(arrival)
    timeline = Timeline("closed")
    got: dict[str, int] = {}
    for ts, st in arrival:
        for into, _ in timeline.add(ts, st) or ():
            got[into] = got.get(into, 0) + 1
    assert got == expected
    assert timeline.value == events[-1][1]


def _ticks(ev: Events, times: list[float], symbol: str = "X") -> list[dict]:
    return [
        {**ev("market_data", T0, symbol=symbol, exchange_ts=t, kind="tick"), "received_at": T0 + i}
        for i, t in enumerate(times)
    ]


def test_one_tick_far_in_the_future_never_moves_the_feed_clock():
    ev = Events()
    times = [T0 + i for i in range(6)] + [Y2100] + [T0 + 6 + i for i in range(5)] + [T0 + 40, T0 + 41, T0 + 42]
    m = metric_values(fold(_ticks(ev, times)))
    assert value(m, "tradewatch_market_data_last_tick_timestamp_seconds", symbol="X") == T0 + 42  # main: 2100
    assert value(m, "tradewatch_market_data_gaps_total", symbol="X") == 1  # the real one (main: only the bogus one)
    assert value(m, "tradewatch_market_data_clock_outliers_total", symbol="X") == 1
    assert value(m, LATE, type="market_data") == 0
    # The first tick of a symbol is no more trusted than any other.
    m = metric_values(fold(_ticks(ev, [Y2100, T0, T0 + 1, T0 + 30, T0 + 31], "Y")))
    assert value(m, "tradewatch_market_data_last_tick_timestamp_seconds", symbol="Y") == T0 + 31
    assert value(m, "tradewatch_market_data_gaps_total", symbol="Y") == 1
    assert value(m, "tradewatch_market_data_clock_outliers_total", symbol="Y") == 1


def test_a_late_tick_never_moves_the_clock_back_nor_counts_as_fresh():
    ev = Events()
    state = fold(_ticks(ev, [T0, T0 + 1, T0 + 2, T0 - 100, T0 + 3]))
    m = metric_values(state, now=T0 + 10)
    assert value(m, "tradewatch_market_data_last_tick_timestamp_seconds", symbol="X") == T0 + 3
    assert value(m, "tradewatch_market_data_gaps_total", symbol="X") == 0
    assert value(m, LATE, type="market_data") == 1
    state = fold(_ticks(ev, [T0, T0 + 1, T0 - 100]))
    assert value(metric_values(state, now=T0 + 10), "tradewatch_market_data_age_seconds", symbol="X") == 9


def test_a_gap_is_counted_when_the_next_tick_confirms_it():
    ev = Events()
    m = metric_values(fold(_ticks(ev, [T0, T0 + 1, T0 + 30])))
    assert value(m, "tradewatch_market_data_gaps_total", symbol="X") == 0  # held: one tick proves nothing
    assert value(m, "tradewatch_market_data_last_tick_timestamp_seconds", symbol="X") == T0 + 1
    m = metric_values(fold(_ticks(ev, [T0, T0 + 1, T0 + 30, T0 + 60, T0 + 90, T0 + 90.5])))
    assert value(m, "tradewatch_market_data_gaps_total", symbol="X") == 3  # a slow feed: every jump confirmed
    assert value(m, "tradewatch_market_data_last_tick_timestamp_seconds", symbol="X") == T0 + 90.5


def test_counters_exist_from_zero_once_their_labels_are_known():
    m = metric_values(TradingState())
    for reason in ("daily_loss", "drawdown", "manual", "volatility", "error_rate", "other"):
        assert value(m, "tradewatch_trading_kill_switch_activations_total", reason=reason) == 0
    for kind in LATE_TYPES:
        assert value(m, LATE, type=kind) == 0
    ev = Events()
    events = [
        ev(
            "order_submitted",
            T0,
            order_id="o1",
            symbol="X",
            side="buy",
            order_type="limit",
            quantity=1,
            reference_price=10,
            strategy="s",
            venue="v",
        ),
        ev("market_data", T0, symbol="X", exchange_ts=T0, kind="tick"),
        ev("circuit_breaker", T0, service="broker", state="closed"),
        ev("volatility_breach", T0, symbol="Z", volatility=1, limit=2),
    ]
    m = metric_values(fold(events))
    assert value(m, "tradewatch_market_data_gaps_total", symbol="X") == 0  # main: absent until the first gap
    assert value(m, "tradewatch_market_data_clock_outliers_total", symbol="X") == 0
    for reason in ("insufficient_funds", "risk_limit", "rate_limited", "kill_switch", "other"):
        assert value(m, "tradewatch_trading_order_rejections_total", venue="v", reason=reason) == 0
    for status in ("acknowledged", "partially_filled", "filled", "cancelled", "rejected"):
        key = dict(strategy="s", symbol="X", side="buy", order_type="limit", status=status)
        assert value(m, "tradewatch_trading_orders_total", **key) == 0
    for reason in ("take_profit", "stop_loss", "kill_switch"):
        assert value(m, "tradewatch_trading_trades_closed_total", strategy="s", exit_reason=reason) == 0
    for action in ("buy", "sell", "hold", "close"):
        assert value(m, "tradewatch_trading_signals_total", strategy="s", action=action) == 0
    for state in ("closed", "open", "half_open"):
        assert value(m, "tradewatch_trading_circuit_breaker_transitions_total", service="broker", state=state) == 0
    for symbol in ("X", "Z"):
        assert value(m, "tradewatch_trading_volatility_breaches_total", symbol=symbol) == (symbol == "Z")
    for outcome in ("filled", "unfilled"):
        assert (
            value(m, "tradewatch_trading_order_terminal_notional_total", strategy="s", venue="v", outcome=outcome) == 0
        )
    assert value(m, "tradewatch_trading_order_submitted_quantity_total", strategy="s") == 0


def test_terminal_notional_by_outcome():
    ev = Events()
    sub = dict(side="buy", order_type="limit", strategy="s", venue="v")
    events = [
        ev("order_submitted", T0, order_id="a", symbol="X", quantity=10, reference_price=100, **sub),
        ev("order_partially_filled", T0 + 1, order_id="a", fill_quantity=6, fill_price=100),
        ev("order_cancelled", T0 + 2, order_id="a"),
        ev("order_submitted", T0, order_id="b", symbol="Y", quantity=5, reference_price=20, **sub),
        ev("order_rejected", T0 + 1, order_id="b", reason="risk_limit"),
        ev("order_submitted", T0, order_id="c", symbol="Y", quantity=2, reference_price=20, **sub),
        ev("order_filled", T0 + 1, order_id="c", fill_quantity=3, fill_price=20),  # overfill capped
        ev("order_submitted", T0, order_id="d", symbol="Y", quantity=2, reference_price=20, **sub),  # open
    ]
    m = metric_values(fold(events))
    name = "tradewatch_trading_order_terminal_notional_total"
    assert value(m, name, strategy="s", venue="v", outcome="filled") == 600 + 40
    assert value(m, name, strategy="s", venue="v", outcome="unfilled") == 400 + 100
    assert value(m, "tradewatch_trading_fill_ratio", strategy="s") == pytest.approx(640 / 1140)


def test_snapshots_round_trip_the_event_time_state_and_old_snapshots_still_load():
    ev = Events()
    events = [
        *event_stream(3000, symbols=4, seed=5),
        ev("kill_switch", T0 + 1, active=True, reason="manual"),
        ev("portfolio_snapshot", T0 + 2, equity=1, cash=1, account="main"),
        *_ticks(ev, [Y2100]),
    ]
    state = fold(events)
    restored = TradingState(state.config)
    restored.from_snapshot(orjson.loads(orjson.dumps(state.to_snapshot())))
    assert metric_values(restored) == metric_values(state)
    assert restored.kill_switch.entries == state.kill_switch.entries
    # A snapshot written before event-time ordering: no timelines, float feed clocks, shorter rows.
    old = orjson.loads(orjson.dumps(state.to_snapshot()))
    for key in (
        "position_ts",
        "limit_ts",
        "risk_ts",
        "outliers",
        "late",
        "breakers",
        "kill_switch",
        "terminal_notional",
    ):
        del old[key]
    old["feed_clock"] = {k: v[0] for k, v in old["feed_clock"].items()}
    old["accounts_state"] = {k: v[:11] for k, v in old["accounts_state"].items()}
    old["heartbeats"] = {k: v[:2] for k, v in old["heartbeats"].items()}
    migrated = TradingState(state.config)
    migrated.from_snapshot(old)
    m = metric_values(migrated)
    assert value(m, "tradewatch_trading_equity", account="main") == value(
        metric_values(state), "tradewatch_trading_equity", account="main"
    )
    assert value(m, "tradewatch_trading_kill_switch_active") == float(state.kill_switch_active)
    for raw in event_stream(200, symbols=4, seed=6, start=T0 + 10_000, prefix="n"):
        from tradewatch.trading.events import validate_trading_event

        migrated.apply(validate_trading_event(dict(raw)))
    assert metric_values(migrated)
