"""Exposes a :class:`TradingState` as the metrics of docs/metrics.md, "Trading exporter".

Every family is built fresh at scrape time from the fold, counters and histograms included, so
after a restart they come back exactly as replay (or the snapshot) rebuilt them. Only the "age"
gauges read the wall clock (``clock``, injected so tests pin it).

Counters exist from 0 as soon as their labels are known (``zeros``): every reason, status, action
or outcome of a fixed vocabulary next to a symbol, strategy, venue or service already seen, so that
``increase()`` sees the first event of each (a series born at 1 has no earlier sample to rise from).
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from tradewatch.core.exemplars import with_exemplars
from tradewatch.trading import attribution, costs, decisions, health, limits, rolling
from tradewatch.trading.events import (
    BREAKER_STATES,
    EXIT_REASONS,
    HEARTBEAT_STATUSES,
    KILL_REASONS,
    ORDER_STATUSES,
    REJECT_REASONS,
    SIGNAL_ACTIONS,
)
from tradewatch.trading.state import LATE_TYPES, Hist, TradingState

P = "tradewatch_trading_"


def _gauge(name: str, doc: str, labels: list[str], rows: Iterable[tuple[Any, float | None]]) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in rows:
        if value is None:
            continue
        g.add_metric(list(key) if isinstance(key, tuple) else ([key] if labels else []), value)
    return g


def _counter(
    name: str, doc: str, labels: list[str], rows: dict[Any, float], zeros: Iterable[Any] = ()
) -> CounterMetricFamily:
    """A counter family; ``zeros`` are label keys exported as 0 until they count something."""
    c = CounterMetricFamily(name, doc, labels=labels)
    merged = dict.fromkeys(zeros, 0)
    merged.update(rows)
    for key, value in sorted(merged.items()):
        c.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return c


def _cross(keys: Iterable[Any], values: Iterable[str]) -> list[tuple[Any, ...]]:
    """Every known key (a label value or a tuple of them) with every value of a fixed vocabulary."""
    values = tuple(values)
    return [(*(k if isinstance(k, tuple) else (k,)), v) for k in keys for v in values]


def _histogram(name: str, doc: str, labels: list[str], rows: dict[Any, Hist]) -> HistogramMetricFamily:
    h = HistogramMetricFamily(name, doc, labels=labels)
    for key, hist in sorted(rows.items()):
        buckets = []
        total = 0
        for bound, count in zip((*hist.bounds, math.inf), hist.counts, strict=True):
            total += count
            buckets.append((floatToGoString(bound), total))
        buckets = with_exemplars(buckets, hist.exemplars)
        h.add_metric(list(key) if isinstance(key, tuple) else [key], buckets, hist.sum)
    return h


class TradingStateCollector:
    """Reads the fold under the ingestor's lock and yields the trading metric families."""

    def __init__(self, state: TradingState, lock: Any = None, clock: Callable[[], float] = time.time):
        self.state = state
        self.lock = lock or threading.RLock()
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        with self.lock:
            return self._collect(self.state, self.clock())

    def _collect(self, s: TradingState, now: float) -> list[Metric]:
        c = s.config
        strategies = sorted({*s.strategies.known, *(k[0] for k in s.orders)})
        venues = sorted({*s.venues.known, *(k[0] for k in s.rejections)})
        out: list[Metric] = [
            _counter(
                P + "orders",
                "Order lifecycle events by status.",
                ["strategy", "symbol", "side", "order_type", "status"],
                s.orders,
                _cross({k[:4] for k in s.orders}, ORDER_STATUSES),
            ),
            _counter(
                P + "order_rejections",
                "Rejected orders by bounded reason code.",
                ["venue", "reason"],
                s.rejections,
                _cross(venues, REJECT_REASONS),
            ),
            _counter(
                P + "order_submitted_quantity",
                "Quantity of orders that reached a terminal state.",
                ["strategy"],
                s.submitted_qty,
                {k[0] for k in s.orders},
            ),
            _counter(
                P + "order_filled_quantity",
                "Filled quantity of orders that reached a terminal state.",
                ["strategy"],
                s.filled_qty,
                {k[0] for k in s.orders},
            ),
            _counter(
                P + "order_terminal_notional",
                "Notional (quantity x reference price) of orders that reached a terminal state, "
                "by outcome: the filled and the unfilled part.",
                ["strategy", "venue", "outcome"],
                s.terminal_notional,
            ),
            _gauge(
                P + "fill_ratio",
                "Filled / submitted quantity over the last analytics.fill_window terminal orders.",
                ["strategy"],
                ((k, s.fill_ratio(k)) for k in sorted(s.fill_window)),
            ),
            _gauge(
                P + "open_orders",
                "Orders submitted and not yet terminal (bounded by limits.max_open_orders).",
                [],
                [((), len(s.open_orders))],
            ),
            _histogram(
                P + "order_ack_latency_seconds",
                "Submitted to acknowledged (event time).",
                ["venue"],
                s.ack_latency,
            ),
            _histogram(
                P + "order_fill_latency_seconds",
                "Submitted to last fill (event time).",
                ["venue"],
                s.fill_latency,
            ),
            _histogram(
                P + "slippage_bps",
                "side x (fill - reference) / reference x 1e4; positive = worse.",
                ["venue", "side"],
                s.slippage,
            ),
            _gauge(
                P + "realized_pnl",
                "Cumulative realized P&L net of fees.",
                ["strategy"],
                sorted(s.realized.items()),
            ),
        ]
        out += self._trade_stats(s, strategies)
        out += self._portfolio(s)
        out += self._accounts(s)
        symbols = sorted({*s.symbols.known, *s.volatility_breaches})
        out += [
            _counter(
                P + "signals",
                "Signals by action.",
                ["strategy", "action"],
                s.signals,
                _cross(strategies, SIGNAL_ACTIONS),
            ),
            _histogram(P + "signal_confidence", "Signal confidence.", ["strategy"], s.signal_confidence),
            _histogram(
                P + "decision_latency_seconds",
                "Decision latency by provider.",
                ["provider"],
                s.decision_latency,
            ),
            _gauge(
                P + "circuit_breaker_state",
                "1 for the breaker's current state, 0 for the others.",
                ["service", "state"],
                (
                    ((svc, st), float(st == cur))
                    for svc, cur in sorted(s.breaker_state.items())
                    for st in BREAKER_STATES
                ),
            ),
            _counter(
                P + "circuit_breaker_transitions",
                "Transitions into each breaker state.",
                ["service", "state"],
                s.breaker_transitions,
                _cross(s.breaker_state, BREAKER_STATES),
            ),
            _gauge(
                P + "kill_switch_active",
                "1 while the kill switch is engaged.",
                [],
                [((), float(s.kill_switch_active))],
            ),
            _counter(
                P + "kill_switch_activations",
                "Kill switch activations by reason.",
                ["reason"],
                s.kill_switch_activations,
                KILL_REASONS,
            ),
            _gauge(P + "risk_score", "Latest risk score by type.", ["type"], sorted(s.risk_scores.items())),
            _counter(
                P + "volatility_breaches",
                "Volatility limit breaches.",
                ["symbol"],
                s.volatility_breaches,
                symbols,
            ),
            _counter(
                P + "late_events",
                "Events older than the state they would set (same account, symbol, key); not folded as the latest.",
                ["type"],
                s.late,
                LATE_TYPES,
            ),
            _gauge(
                P + "position_limit_usage_ratio",
                "Position / position limit.",
                ["symbol"],
                sorted(s.position_limit_usage.items()),
            ),
        ]
        out += self._feed(s, now)
        out += health.families(s) + decisions.families(s) + limits.families(s)
        out += attribution.families(s, _gauge, _histogram, P) + costs.families(s, _counter, P)
        out += rolling.families(s, _gauge, P)
        out.append(
            _gauge(
                "tradewatch_heartbeat_age_seconds",
                "Now minus the latest heartbeat of the component.",
                ["component"],
                ((k, max(0.0, now - v[0])) for k, v in sorted(s.heartbeats.items())),
            )
        )
        out.append(
            _gauge(
                "tradewatch_heartbeat_status",
                "1 for the component's last reported status.",
                ["component", "status"],
                (((k, st), float(st == v[1])) for k, v in sorted(s.heartbeats.items()) for st in HEARTBEAT_STATUSES),
            )
        )
        out.append(
            _gauge(
                "tradewatch_heartbeat_timeout_seconds",
                "Configured heartbeat.timeout.",
                [],
                [((), c.heartbeat_timeout)],
            )
        )
        return out

    def _trade_stats(self, s: TradingState, strategies: list[str]) -> list[Metric]:
        win, pf, exp, hold = [], [], [], []
        for strategy, (n, wins, gains, losses, holding) in sorted(s.trade_stats.items()):
            w = wins / n
            losers = n - wins
            avg_win = gains / wins if wins else 0.0
            avg_loss = losses / losers if losers else 0.0
            win.append((strategy, w))
            pf.append((strategy, gains / losses if losses > 0 else (math.inf if gains > 0 else None)))
            exp.append((strategy, w * avg_win - (1 - w) * avg_loss))
            hold.append((strategy, holding / n))
        return [
            _counter(
                P + "trades_closed",
                "Closed trades by exit reason.",
                ["strategy", "exit_reason"],
                s.trades,
                _cross(strategies, EXIT_REASONS),
            ),
            _gauge(
                P + "win_rate_ratio",
                "Lifetime: winning closed trades (net P&L > 0) / closed trades.",
                ["strategy"],
                win,
            ),
            _gauge(
                P + "profit_factor", "Lifetime: gross gains / abs(gross losses) of closed trades.", ["strategy"], pf
            ),
            _gauge(P + "expectancy", "Lifetime: W x avg_win - (1 - W) x avg_loss per closed trade.", ["strategy"], exp),
            _gauge(P + "average_holding_time_seconds", "Mean holding time of closed trades.", ["strategy"], hold),
        ]

    def _portfolio(self, s: TradingState) -> list[Metric]:
        values: dict[str, float] = {}
        unrealized = gross = net = long = short = 0.0
        magnitudes = []
        for symbol, (qty, avg, mark) in s.positions.items():
            v = qty * mark
            unrealized += qty * (mark - avg)
            label = s.symbols(symbol)
            values[label] = values.get(label, 0.0) + v
            a = abs(v)
            gross += a
            net += v
            if v > 0:
                long += v
            else:
                short -= v
            magnitudes.append(a)
        conc: list[tuple[str, float | None]] = []
        if gross > 0:
            top = heapq.nlargest(3, magnitudes)
            conc = [
                ("largest", top[0] / gross),
                ("top3", sum(top) / gross),
                ("herfindahl", math.fsum((m / gross) ** 2 for m in magnitudes)),
            ]
        equity = sum(a.equity for a in s.account_state.values())
        return [
            _gauge(
                P + "unrealized_pnl",
                "Unrealized P&L from the latest position snapshots.",
                [],
                [((), unrealized)],
            ),
            _gauge(P + "open_positions", "Symbols with a non-zero position.", [], [((), len(s.positions))]),
            _gauge(
                P + "position_value",
                "Signed market value of the position.",
                ["symbol"],
                sorted(values.items()),
            ),
            _gauge(
                P + "exposure",
                "Gross, net, long and short exposure.",
                ["kind"],
                [("gross", gross), ("net", net), ("long", long), ("short", short)],
            ),
            _gauge(
                P + "leverage_ratio",
                "Gross exposure / equity.",
                [],
                [((), gross / equity if equity > 0 else None)],
            ),
            _gauge(
                P + "concentration_ratio",
                "Largest and top-3 position share of gross exposure; Herfindahl index of the shares.",
                ["measure"],
                conc,
            ),
        ]

    def _accounts(self, s: TradingState) -> list[Metric]:
        accounts = sorted(s.account_state.items())
        ratios = {k: s.ratios(k) for k, _ in accounts}
        daily_limits, drawdown_limits = limits.legacy_rows(s)
        return [
            _gauge(P + "equity", "Latest equity.", ["account"], ((k, a.equity) for k, a in accounts)),
            _gauge(
                P + "portfolio_snapshot_timestamp_seconds",
                "Event time (ts) of the latest portfolio snapshot folded.",
                ["account"],
                ((k, a.ts) for k, a in accounts),
            ),
            _gauge(
                P + "daily_pnl",
                "Equity minus equity at the start of the trading session.",
                ["account"],
                ((k, a.equity - a.session_start) for k, a in accounts),
            ),
            _gauge(
                P + "daily_loss_limit",
                "Daily loss limit in use, quote currency (positive; a percentage resolved, docs/metrics.md).",
                ["account"],
                daily_limits,
            ),
            _gauge(
                P + "high_water_mark",
                "Highest equity seen.",
                ["account"],
                ((k, a.hwm) for k, a in accounts if a.hwm > -math.inf),
            ),
            _gauge(
                P + "drawdown_ratio",
                "1 - equity / high-water mark.",
                ["account"],
                ((k, a.drawdown) for k, a in accounts),
            ),
            _gauge(
                P + "max_drawdown_ratio",
                "Largest drawdown seen.",
                ["account"],
                ((k, a.max_dd) for k, a in accounts),
            ),
            _gauge(
                P + "drawdown_limit_ratio",
                "Maximum drawdown in use, as a ratio of the high-water mark.",
                ["account"],
                drawdown_limits,
            ),
            _gauge(
                P + "sharpe_ratio",
                "Rolling annualised Sharpe of period returns.",
                ["account"],
                ((k, ratios[k][0]) for k, _ in accounts),
            ),
            _gauge(
                P + "sortino_ratio",
                "Rolling annualised Sortino of period returns.",
                ["account"],
                ((k, ratios[k][1]) for k, _ in accounts),
            ),
        ]

    def _feed(self, s: TradingState, now: float) -> list[Metric]:
        last = sorted(s.last_tick.items())
        return [
            _counter("tradewatch_market_data_ticks", "Ticks or bars received.", ["symbol"], s.ticks),
            _gauge(
                "tradewatch_market_data_last_tick_timestamp_seconds",
                "Exchange timestamp of the latest tick (confirmed: never a single outlier ahead).",
                ["symbol"],
                ((k, v[0]) for k, v in last),
            ),
            _gauge(
                "tradewatch_market_data_age_seconds",
                "Now minus the receipt time of the latest tick.",
                ["symbol"],
                ((k, max(0.0, now - v[1])) for k, v in last),
            ),
            _counter(
                "tradewatch_market_data_gaps",
                "Consecutive ticks further apart than market_data.gap_seconds.",
                ["symbol"],
                s.gaps,
                s.ticks,
            ),
            _counter(
                "tradewatch_market_data_clock_outliers",
                "Ticks more than market_data.gap_seconds ahead of the feed clock that the next tick "
                "contradicted; they never moved the clock.",
                ["symbol"],
                s.outliers,
                s.ticks,
            ),
            _gauge(
                "tradewatch_market_data_stale_threshold_seconds",
                "Configured market_data.stale_seconds.",
                [],
                [((), s.config.stale_seconds)],
            ),
        ]
