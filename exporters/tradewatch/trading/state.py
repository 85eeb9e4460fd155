"""The trading exporter's state: a pure fold over the event log.

``TradingState.apply(event)`` takes one normalized event (``tradewatch.trading.events``) and
updates plain Python containers; nothing here reads the wall clock, so replaying the journal
rebuilds exactly the same state, and ``to_snapshot()``/``from_snapshot()`` round-trip it through
JSON exactly (floats keep their shortest repr). Event timestamps (``ts``, ``exchange_ts``) drive
sessions, latencies, returns and gaps, so a time-accelerated simulator works; only ``received_at``
(ingest wall-clock time) is kept for the "age" gauges computed at scrape time.

"The latest" follows event time: a snapshot, score, status or state older than the one already
folded for its key (account, symbol, risk type, component, breaker, the kill switch) is late: it is
counted in ``late`` by event type and never overwrites newer state, drawdown or returns (switch-like
states are placed in their :class:`~tradewatch.trading.eventtime.Timeline`). Feed clocks ignore late
ticks and hold a jump ahead until the next tick confirms it (see ``eventtime``).

Everything is bounded: label values go through :class:`LabelCap` (``__overflow__`` past the
limit), open orders are an insertion-ordered map that forgets the oldest, per-symbol maps stop
tracking new symbols past ``max_tracked_symbols``, rolling windows are deques.

Formulas (also in docs/trading-exporter.md and docs/metrics.md):
  slippage_bps  = side x (fill - reference) / reference x 1e4, side +1 buy / -1 sell (positive = worse)
  drawdown      = 1 - E_t / max_{s<=t} E_s; max drawdown is its running maximum
  daily P&L     = equity - equity at the session start (last equity before the boundary)
  Sharpe        = mean(r - rf) / std(r, ddof=1) x sqrt(N); Sortino = mean(r - rf) / DD x sqrt(N),
                  DD = sqrt(mean(min(0, r - rf)^2)); r = equity returns per return period, rf = rate / N
  profit factor = gross gains / |gross losses|; expectancy = W x avg_win - (1 - W) x avg_loss
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import OrderedDict, deque
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tradewatch.core.exemplars import BucketExemplars
from tradewatch.core.floatsum import total
from tradewatch.trading.attribution import AttributionFold
from tradewatch.trading.costs import CostsFold
from tradewatch.trading.decisions import DecisionFold
from tradewatch.trading.eventtime import LATE, Timeline, advance_feed_clock
from tradewatch.trading.health import HealthFold
from tradewatch.trading.limits import LimitsFold
from tradewatch.trading.rolling import RollingFold
from tradewatch.trading.settings import TradingConfig, clock_time

OVERFLOW = "__overflow__"
DEFAULT = "default"  # label value when an optional envelope field (strategy, account, venue) is absent
UNKNOWN = "unknown"  # order attributes of an order we never saw submitted

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Up to 1000 bps either way: a 100 bps top bucket capped every quantile above it (a 197 bps p99
# read as 100). Classic buckets, which Prometheus 2.42 and 3.x both read; the old bounds are a
# subset, so older snapshots load (_migrate_slippage).
SLIPPAGE_BUCKETS = (
    -1000.0, -500.0, -200.0, -100.0, -50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0,
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
)  # fmt: skip
OLD_SLIPPAGE_BUCKETS = (-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# Event types that set "latest" state, so can arrive late (the `type` label of the late counter).
LATE_TYPES = (
    "circuit_breaker",
    "heartbeat",
    "kill_switch",
    "market_data",
    "portfolio_snapshot",
    "position_limit",
    "position_snapshot",
    "risk_score",
)


class LabelCap:
    """Admits the first ``limit`` distinct values of a label; later ones become ``__overflow__``."""

    __slots__ = ("known", "limit")

    def __init__(self, limit: int, known: list[str] | None = None):
        self.limit = limit
        self.known: dict[str, str] = {v: v for v in known or ()}

    def __call__(self, value: str) -> str:
        out = self.known.get(value)
        if out is not None:
            return out
        if len(self.known) < self.limit:
            self.known[value] = value
            return value
        return OVERFLOW


class Hist:
    """Histogram buckets as plain counts (observe is a bisect and two adds).

    ``exemplars`` (core.exemplars) holds each bucket's latest correlated observation; it is not in
    the snapshot: exemplars are a pointer to recent orders, rebuilt by the journal tail on replay.
    """

    __slots__ = ("bounds", "counts", "exemplars", "sum")

    def __init__(self, bounds: tuple[float, ...], counts: list[int] | None = None, total: float = 0.0):
        self.bounds = bounds
        self.counts = counts or [0] * (len(bounds) + 1)  # last slot: above the largest bound (+Inf)
        self.sum = total
        self.exemplars: BucketExemplars | None = None

    def observe(self, value: float, event: dict[str, Any] | None = None) -> None:
        i = bisect_left(self.bounds, value)
        self.counts[i] += 1
        self.sum += value
        if event is not None and "correlation_id" in event:
            self.exemplars = BucketExemplars.note(self.exemplars, len(self.counts), i, value, event)


def _inc(d: dict, key: Any, by: float = 1) -> None:
    d[key] = d.get(key, 0) + by


def _hist(
    d: dict[Any, Hist], key: Any, bounds: tuple[float, ...], value: float, event: dict[str, Any] | None = None
) -> None:
    h = d.get(key)
    if h is None:
        h = d[key] = Hist(bounds)
    h.observe(value, event)


class Account:
    """Equity path of one account: high-water mark, drawdown, session start, period returns."""

    __slots__ = (
        "cash",
        "equity",
        "hwm",
        "last_period",
        "margin_used",
        "max_dd",
        "period_close",
        "prev_close",
        "returns",
        "session",
        "session_start",
        "ts",
    )

    def __init__(self, window: int):
        self.equity = 0.0
        self.cash = 0.0
        self.margin_used = 0.0
        self.hwm = -math.inf
        self.max_dd = 0.0
        self.session = None  # session key (date ordinal) of the latest equity
        self.session_start = 0.0  # equity the current session started from
        self.last_period = None  # return period index of the latest equity
        self.period_close = 0.0  # latest equity in the current period
        self.prev_close = None  # closing equity of the previous period
        self.returns: deque[float] = deque(maxlen=window)
        self.ts: float | None = None  # event time of the latest snapshot folded

    @property
    def drawdown(self) -> float:
        return 1.0 - self.equity / self.hwm if self.hwm > 0 else 0.0

    def to_list(self) -> list[Any]:
        return [
            self.equity,
            self.cash,
            self.margin_used,
            self.hwm if self.hwm > -math.inf else None,
            self.max_dd,
            self.session,
            self.session_start,
            self.last_period,
            self.period_close,
            self.prev_close,
            list(self.returns),
            self.ts,
        ]

    @classmethod
    def from_list(cls, data: list[Any], window: int) -> Account:
        a = cls(window)
        (
            a.equity,
            a.cash,
            a.margin_used,
            hwm,
            a.max_dd,
            a.session,
            a.session_start,
            a.last_period,
            a.period_close,
            a.prev_close,
            returns,
        ) = data[:11]
        a.ts = data[11] if len(data) > 11 else None  # snapshots before event-time ordering: unknown
        a.hwm = -math.inf if hwm is None else hwm
        a.returns.extend(returns)
        return a


class TradingState:
    """Fold of trading events into everything the trading collector exports."""

    def __init__(self, config: TradingConfig | None = None):
        self.config = c = config or TradingConfig()
        self.symbols = LabelCap(c.max_symbols)
        self.strategies = LabelCap(c.max_strategies)
        self.accounts = LabelCap(c.max_label_values)
        self.venues = LabelCap(c.max_label_values)
        self.providers = LabelCap(c.max_label_values)
        self.services = LabelCap(c.max_label_values)
        self.components = LabelCap(c.max_label_values)
        self.risk_types = LabelCap(c.max_label_values)
        self._tz = ZoneInfo(c.session_timezone)
        bt = clock_time(c.session_boundary)
        self._boundary = timedelta(hours=bt.hour, minutes=bt.minute)
        self._session_cache: tuple[float, float, int] = (0.0, -1.0, 0)  # [start, end) -> key

        # orders: order_id -> [submit ts, strategy, symbol, side, order_type, venue, qty, filled, ref, acked]
        # OrderedDict: evicting the oldest is O(1) (a plain dict rescans deleted slots from the front).
        self.open_orders: OrderedDict[str, list[Any]] = OrderedDict()
        self.orders_evicted = 0
        self.orders: dict[tuple[str, str, str, str, str], int] = {}
        self.rejections: dict[tuple[str, str], int] = {}
        self.submitted_qty: dict[str, float] = {}
        self.filled_qty: dict[str, float] = {}
        self.fill_window: dict[str, deque[tuple[float, float]]] = {}  # strategy -> (qty, filled)
        # (strategy, venue, filled | unfilled) -> notional at the reference price of terminal orders;
        # both outcomes exist from 0 once an order of the pair is submitted (windowed fill ratios).
        self.terminal_notional: dict[tuple[str, str, str], float] = {}
        self.ack_latency: dict[str, Hist] = {}
        self.fill_latency: dict[str, Hist] = {}
        self.slippage: dict[tuple[str, str], Hist] = {}

        self.realized: dict[str, float] = {}
        self.trades: dict[tuple[str, str], int] = {}  # (strategy, exit_reason) -> closed trades
        # strategy -> [trades, wins, gross gains, gross losses (abs), holding seconds]
        self.trade_stats: dict[str, list[float]] = {}

        self.account_state: dict[str, Account] = {}
        self.positions: dict[str, list[float]] = {}  # symbol -> [quantity, avg_price, mark_price]
        self.position_ts: dict[str, float] = {}  # symbol -> ts of the latest position snapshot
        self.position_limit_usage: dict[str, float] = {}
        self.limit_ts: dict[str, float] = {}  # symbol label -> ts of the latest usage

        self.signals: dict[tuple[str, str], int] = {}
        self.signal_confidence: dict[str, Hist] = {}
        self.decision_latency: dict[str, Hist] = {}
        self.breaker_state: dict[str, str] = {}  # service -> state of the newest event (from breakers)
        self.breakers: dict[str, Timeline] = {}
        self.breaker_transitions: dict[tuple[str, str], int] = {}
        self.kill_switch_active = False  # the newest kill_switch event's (from kill_switch)
        self.kill_switch = Timeline(False)
        self.kill_switch_activations: dict[str, int] = {}
        self.risk_scores: dict[str, float] = {}
        self.risk_ts: dict[str, float] = {}
        self.volatility_breaches: dict[str, int] = {}

        self.ticks: dict[str, int] = {}
        self.gaps: dict[str, int] = {}
        self.last_tick: dict[str, list[float]] = {}  # symbol label -> [exchange ts, received_at]
        # real symbol -> [confirmed exchange ts or None, held jump or None] (eventtime.advance_feed_clock)
        self.feed_clock: dict[str, list[Any]] = {}
        self.outliers: dict[str, int] = {}  # symbol label -> ticks dropped as clock outliers
        self.heartbeats: dict[str, list[Any]] = {}  # component -> [received_at, status, ts]
        self.late: dict[str, int] = {}  # event type -> events older than the state they would set
        # Folded in their own modules: health (errors, API calls), decisions, limits.
        self.health = HealthFold(LabelCap, c.max_label_values, self.components)
        self.decisions = DecisionFold(c.max_open_decisions)
        self.limits = LimitsFold()
        # P&L attribution, execution costs, rolling and session trade statistics (issue 12).
        self.attribution = AttributionFold()
        self.costs = CostsFold()
        self.rolling = RollingFold(c.trade_window)

        self._handlers = {
            "order_submitted": self._order_submitted,
            "order_acknowledged": self._order_acknowledged,
            "order_partially_filled": self._order_fill,
            "order_filled": self._order_fill,
            "order_cancelled": self._order_terminal,
            "order_rejected": self._order_terminal,
            "trade_closed": self._trade_closed,
            "position_snapshot": self._position_snapshot,
            "portfolio_snapshot": self._portfolio_snapshot,
            "signal": self._signal,
            "decision": self._decision,
            "circuit_breaker": self._circuit_breaker,
            "kill_switch": self._kill_switch,
            "risk_score": self._risk_score,
            "volatility_breach": self._volatility_breach,
            "position_limit": self._position_limit,
            "market_data": self._market_data,
            "heartbeat": self._heartbeat,
            "error": self.health.error,
            "api_call": lambda e: self.health.api_call(e, _hist, LATENCY_BUCKETS),
        }

    def apply(self, event: dict[str, Any]) -> None:
        handler = self._handlers.get(event["type"])
        if handler is not None:  # types of another exporter are ignored, never an error
            handler(event)

    # ------------------------------------------------------------------ orders
    def _order_submitted(self, e: dict[str, Any]) -> None:
        strategy = self.strategies(e.get("strategy", DEFAULT))
        symbol = self.symbols(e["symbol"])
        venue = self.venues(e.get("venue", DEFAULT))
        order = [
            e["ts"],
            strategy,
            symbol,
            e["side"],
            e["order_type"],
            venue,
            e["quantity"],
            0.0,
            e["reference_price"],
            False,
        ]
        orders = self.open_orders
        oid = e["order_id"]
        if oid in orders:
            del orders[oid]  # a resubmitted id replaces the old order (and moves to the newest end)
        orders[oid] = order
        if len(orders) > self.config.max_open_orders:
            orders.popitem(last=False)
            self.orders_evicted += 1
        _inc(self.orders, (strategy, symbol, order[3], order[4], "submitted"))
        notional = self.terminal_notional
        if (strategy, venue, "filled") not in notional:
            notional[(strategy, venue, "filled")] = notional[(strategy, venue, "unfilled")] = 0.0

    def _order_of(self, e: dict[str, Any]) -> list[Any]:
        order = self.open_orders.get(e["order_id"])
        if order is not None:
            return order
        # Never saw the submission (evicted, or sent before the exporter existed): use what it carries.
        return [
            None,
            self.strategies(e.get("strategy", DEFAULT)),
            self.symbols(e["symbol"]) if "symbol" in e else UNKNOWN,
            e.get("side", UNKNOWN),
            e.get("order_type", UNKNOWN),
            self.venues(e.get("venue", DEFAULT)),
            0.0,
            0.0,
            None,
            True,
        ]

    def _count(self, order: list[Any], status: str) -> None:
        _inc(self.orders, (order[1], order[2], order[3], order[4], status))

    def _order_acknowledged(self, e: dict[str, Any]) -> None:
        order = self._order_of(e)
        self._count(order, "acknowledged")
        if not order[9]:
            order[9] = True
            latency = e["ts"] - order[0]
            if latency >= 0:
                _hist(self.ack_latency, order[5], LATENCY_BUCKETS, latency, e)

    def _order_fill(self, e: dict[str, Any]) -> None:
        order = self._order_of(e)
        final = e["type"] == "order_filled"
        self._count(order, "filled" if final else "partially_filled")
        order[7] += e["fill_quantity"]
        ref = order[8]
        if ref:
            sign = 1.0 if order[3] == "buy" else -1.0
            bps = sign * (e["fill_price"] - ref) / ref * 1e4
            _hist(self.slippage, (order[5], order[3]), SLIPPAGE_BUCKETS, bps, e)
        self.costs.fill(order[1], order[5], order[3], ref, e)
        if final:
            if order[0] is not None and e["ts"] >= order[0]:
                _hist(self.fill_latency, order[5], LATENCY_BUCKETS, e["ts"] - order[0], e)
            self._finish(e["order_id"], order)

    def _order_terminal(self, e: dict[str, Any]) -> None:
        order = self._order_of(e)
        if e["type"] == "order_rejected":
            self._count(order, "rejected")
            _inc(self.rejections, (order[5], e["reason"]))
        else:
            self._count(order, "cancelled")
        self._finish(e["order_id"], order)

    def _finish(self, order_id: str, order: list[Any]) -> None:
        """An order reached a terminal state: account its quantities once."""
        if order[0] is None:
            return  # unknown order: its submitted quantity is unknown
        del self.open_orders[order_id]
        strategy = order[1]
        qty = order[6]
        filled = min(order[7], qty)
        _inc(self.submitted_qty, strategy, qty)
        _inc(self.filled_qty, strategy, filled)
        window = self.fill_window.get(strategy)
        if window is None:
            window = self.fill_window[strategy] = deque(maxlen=self.config.fill_window)
        # Weighted by notional at the reference price: quantities of different symbols (shares,
        # coins, contracts) do not add up, their notionals do.
        ref = order[8] if order[8] and order[8] > 0 else 1.0
        window.append((qty * ref, filled * ref))
        _inc(self.terminal_notional, (strategy, order[5], "filled"), filled * ref)
        _inc(self.terminal_notional, (strategy, order[5], "unfilled"), (qty - filled) * ref)

    def fill_ratio(self, strategy: str) -> float | None:
        window = self.fill_window.get(strategy)
        if not window:
            return None
        # Summed at scrape time (a window of a few hundred) rather than kept as running sums,
        # so rounding never drifts over a long run.
        submitted = total([q for q, _ in window])
        return total([f for _, f in window]) / submitted if submitted > 0 else None

    # ------------------------------------------------------------------ P&L and portfolio
    def _trade_closed(self, e: dict[str, Any]) -> None:
        strategy = self.strategies(e.get("strategy", DEFAULT))
        net = e["realized_pnl"] - e["fees"]
        _inc(self.realized, strategy, net)
        _inc(self.trades, (strategy, e["exit_reason"]))
        stats = self.trade_stats.get(strategy)
        if stats is None:
            stats = self.trade_stats[strategy] = [0, 0, 0.0, 0.0, 0.0]
        stats[0] += 1
        if net > 0:
            stats[1] += 1
            stats[2] += net
        else:
            stats[3] -= net
        stats[4] += e["holding_seconds"]
        self.attribution.trade(strategy, self.symbols(e["symbol"]), net, _hist)
        self.rolling.trade(strategy, net, self.session_of(e["ts"]))

    def _late_event(self, e: dict[str, Any]) -> None:
        _inc(self.late, e["type"])

    def _newest(self, stamps: dict[str, float], key: str, ts: float, cap: int | None = None) -> bool:
        """Record ``ts`` for ``key`` unless an event newer than it was folded already (False: late)."""
        last = stamps.get(key)
        if last is not None:
            if ts < last:
                return False
            stamps[key] = ts
        elif cap is None or len(stamps) < cap:
            stamps[key] = ts
        return True

    def _position_snapshot(self, e: dict[str, Any]) -> None:
        symbol = e["symbol"]
        if not self._newest(self.position_ts, symbol, e["ts"], self.config.max_tracked_symbols):
            self._late_event(e)
            return
        qty = e["quantity"]
        positions = self.positions
        if qty == 0:
            positions.pop(symbol, None)
        elif symbol in positions or len(positions) < self.config.max_tracked_symbols:
            positions[symbol] = [qty, e["avg_price"], e["mark_price"]]
        limit = e.get("limit")
        if limit:
            label = self.symbols(symbol)
            if self._newest(self.limit_ts, label, e["ts"]):
                self.position_limit_usage[label] = abs(qty) / limit

    def session_of(self, ts: float) -> int:
        """Key (proleptic ordinal of the session's date) of the trading session containing ``ts``."""
        start, end, key = self._session_cache
        if start <= ts < end:
            return key
        local = datetime.fromtimestamp(ts, self._tz) - self._boundary
        day = local.date()
        begin = datetime(day.year, day.month, day.day, tzinfo=self._tz) + self._boundary
        nxt = day + timedelta(days=1)
        finish = datetime(nxt.year, nxt.month, nxt.day, tzinfo=self._tz) + self._boundary
        key = day.toordinal()
        self._session_cache = (begin.timestamp(), finish.timestamp(), key)
        return key

    def _portfolio_snapshot(self, e: dict[str, Any]) -> None:
        name = self.accounts(e.get("account", DEFAULT))
        acct = self.account_state.get(name)
        if acct is None:
            acct = self.account_state[name] = Account(self.config.sharpe_window)
        ts = e["ts"]
        if acct.ts is not None and ts < acct.ts:
            # Late: its place in the equity path is past; folding it as the latest would fake a
            # drawdown, a session start and a return. Counted, not folded.
            self._late_event(e)
            return
        acct.ts = ts
        equity = e["equity"]
        session = self.session_of(ts)
        if acct.session is None:
            acct.session_start = equity
        elif session != acct.session:
            acct.session_start = acct.equity  # the last equity before the boundary
        acct.session = session
        period = int(ts // self.config.return_period)
        if acct.last_period is None:
            acct.last_period = period
        elif period != acct.last_period:
            if acct.prev_close is not None and acct.prev_close > 0:
                acct.returns.append(acct.period_close / acct.prev_close - 1.0)
            acct.prev_close = acct.period_close
            acct.last_period = period
        acct.period_close = equity
        acct.equity = equity
        acct.cash = e["cash"]
        acct.margin_used = e.get("margin_used", 0.0)
        self.limits.portfolio(name, e)
        if equity > acct.hwm:
            acct.hwm = equity
        dd = acct.drawdown
        if dd > acct.max_dd:
            acct.max_dd = dd

    def ratios(self, account: str) -> tuple[float | None, float | None]:
        """(Sharpe, Sortino) of the account's rolling returns; None where undefined."""
        acct = self.account_state.get(account)
        if acct is None or len(acct.returns) < 2:
            return None, None
        return sharpe_sortino(list(acct.returns), self.config.periods_per_year, self.config.risk_free_rate)

    # ------------------------------------------------------------------ signals, risk, feed
    def _signal(self, e: dict[str, Any]) -> None:
        strategy = self.strategies(e.get("strategy", DEFAULT))
        _inc(self.signals, (strategy, e["action"]))
        _hist(self.signal_confidence, strategy, CONFIDENCE_BUCKETS, e["confidence"])

    def _decision(self, e: dict[str, Any]) -> None:
        provider = self.providers(e["provider"])
        if "latency_seconds" in e:
            _hist(self.decision_latency, provider, LATENCY_BUCKETS, e["latency_seconds"], e)
        self.decisions.apply(e, provider, _hist, CONFIDENCE_BUCKETS, LATENCY_BUCKETS)

    def _circuit_breaker(self, e: dict[str, Any]) -> None:
        service = self.services(e["service"])
        timeline = self.breakers.get(service)
        if timeline is None:
            timeline = self.breakers[service] = Timeline("closed")  # breakers start closed
        if timeline.is_late(e["ts"]):
            self._late_event(e)
        for state, _ in timeline.add(e["ts"], e["state"]) or ():
            _inc(self.breaker_transitions, (service, state))
        self.breaker_state[service] = timeline.value
        self.health.breaker(service, e)

    def _kill_switch(self, e: dict[str, Any]) -> None:
        # In event time: a late activation that was released before it arrived is still counted.
        timeline = self.kill_switch
        if timeline.is_late(e["ts"]):
            self._late_event(e)
        for active, reason in timeline.add(e["ts"], e["active"], e.get("reason", "other")) or ():
            if active:
                _inc(self.kill_switch_activations, reason)
        self.kill_switch_active = timeline.value

    def _risk_score(self, e: dict[str, Any]) -> None:
        label = self.risk_types(e["risk_type"])
        if self._newest(self.risk_ts, label, e["ts"]):
            self.risk_scores[label] = e["score"]
        else:
            self._late_event(e)

    def _volatility_breach(self, e: dict[str, Any]) -> None:
        label = self.symbols(e["symbol"])
        _inc(self.volatility_breaches, label)
        self.limits.volatility_breach(label, e)

    def _position_limit(self, e: dict[str, Any]) -> None:
        label = self.symbols(e["symbol"])
        if self._newest(self.limit_ts, label, e["ts"]):
            self.position_limit_usage[label] = e["usage_ratio"]
        else:
            self._late_event(e)

    def _market_data(self, e: dict[str, Any]) -> None:
        symbol = e["symbol"]
        label = self.symbols(symbol)
        exchange_ts = e["exchange_ts"]
        self.ticks[label] = self.ticks.get(label, 0) + 1
        last = self.last_tick.get(label)
        if last is None:
            last = self.last_tick[label] = [None, 0.0]
        clock = self.feed_clock.get(symbol)
        if clock is not None and clock[1] is None and clock[0] <= exchange_ts <= clock[0] + self.config.gap_seconds:
            clock[0] = exchange_ts  # the common case, inline: in order, no jump held
            if last[0] is None or exchange_ts > last[0]:
                last[0] = exchange_ts
            last[1] = e.get("received_at", 0.0)
            return
        if clock is None and len(self.feed_clock) < self.config.max_tracked_symbols:
            clock = self.feed_clock[symbol] = [None, None]
        if clock is None:  # untracked symbol (past limits.max_tracked_symbols): no gap or outlier logic
            outcome, confirmed = "in_order", exchange_ts
        else:
            outcome, gap, outlier = advance_feed_clock(clock, exchange_ts, self.config.gap_seconds)
            if gap:
                _inc(self.gaps, label)
            if outlier:
                _inc(self.outliers, label)
            confirmed = clock[0]
        if confirmed is not None and (last[0] is None or confirmed > last[0]):
            last[0] = confirmed
        if outcome == LATE:
            self._late_event(e)
        else:  # a late tick is not fresh data
            last[1] = e.get("received_at", 0.0)

    def _heartbeat(self, e: dict[str, Any]) -> None:
        label = self.components(e["component"])
        seen = self.heartbeats.get(label)
        if seen is not None and len(seen) > 2 and e["ts"] < seen[2]:
            # Late (a second sender, a clock stepped back): it still proves the component is sending,
            # so it refreshes the receipt time the age is computed from, but not the newer status.
            self._late_event(e)
            seen[0] = max(seen[0], e.get("received_at", 0.0))
            return
        self.heartbeats[label] = [e.get("received_at", 0.0), e["status"], e["ts"]]

    # ------------------------------------------------------------------ snapshot
    _CAPS = ("symbols", "strategies", "accounts", "venues", "providers", "services", "components", "risk_types")
    _PLAIN = (
        "open_orders",
        "orders_evicted",
        "submitted_qty",
        "filled_qty",
        "realized",
        "trade_stats",
        "positions",
        "position_limit_usage",
        "breaker_state",
        "kill_switch_active",
        "kill_switch_activations",
        "risk_scores",
        "volatility_breaches",
        "ticks",
        "gaps",
        "last_tick",
        "feed_clock",
        "heartbeats",
    )
    # Added later: absent from older snapshots, which load with these empty.
    _PLAIN_SINCE_EVENT_TIME = ("position_ts", "limit_ts", "risk_ts", "outliers", "late")
    _TUPLE_KEYED = ("orders", "rejections", "trades", "signals", "breaker_transitions", "terminal_notional")
    _HISTS = {
        "ack_latency": LATENCY_BUCKETS,
        "fill_latency": LATENCY_BUCKETS,
        "signal_confidence": CONFIDENCE_BUCKETS,
        "decision_latency": LATENCY_BUCKETS,
    }

    def to_snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: list(getattr(self, name).known) for name in self._CAPS}
        for name in (*self._PLAIN, *self._PLAIN_SINCE_EVENT_TIME):
            out[name] = getattr(self, name)
        out["breakers"] = {k: t.dump() for k, t in self.breakers.items()}
        out["kill_switch"] = self.kill_switch.dump()
        for name in self._TUPLE_KEYED:
            out[name] = [[*k, v] for k, v in getattr(self, name).items()]
        for name in self._HISTS:
            out[name] = {k: [h.counts, h.sum] for k, h in getattr(self, name).items()}
        out["slippage"] = [[*k, h.counts, h.sum] for k, h in self.slippage.items()]
        out["fill_window"] = {k: list(map(list, w)) for k, w in self.fill_window.items()}
        out["accounts_state"] = {k: a.to_list() for k, a in self.account_state.items()}
        out["health"] = self.health.to_snapshot()
        out["decisions"] = self.decisions.to_snapshot()
        out["limits"] = self.limits.to_snapshot()
        out["attribution"] = self.attribution.to_snapshot()
        out["costs"] = self.costs.to_snapshot()
        out["rolling"] = self.rolling.to_snapshot()
        return out

    def from_snapshot(self, data: dict[str, Any]) -> None:
        for name in self._CAPS:
            setattr(self, name, LabelCap(getattr(self, name).limit, data[name]))
        for name in self._PLAIN:
            setattr(self, name, data[name])
        for name in self._PLAIN_SINCE_EVENT_TIME:
            setattr(self, name, data.get(name, {}))
        self.open_orders = OrderedDict(self.open_orders)
        for name in self._TUPLE_KEYED:
            setattr(self, name, {tuple(row[:-1]): row[-1] for row in data.get(name, [])})
        self._load_timelines(data)
        for name, bounds in self._HISTS.items():
            setattr(self, name, {k: Hist(bounds, c, s) for k, (c, s) in data[name].items()})
        self.slippage = {
            (v, side): Hist(SLIPPAGE_BUCKETS, _migrate_slippage(c), s) for v, side, c, s in data["slippage"]
        }
        self.fill_window = {
            k: deque(((q, f) for q, f in rows), maxlen=self.config.fill_window)
            for k, rows in data["fill_window"].items()
        }
        self.account_state = {
            k: Account.from_list(v, self.config.sharpe_window) for k, v in data["accounts_state"].items()
        }
        self.health.load(data.get("health"), Hist, LATENCY_BUCKETS)
        self.health.components = self.components
        self.decisions.load(data.get("decisions"), Hist, CONFIDENCE_BUCKETS, LATENCY_BUCKETS)
        self.limits.load(data.get("limits"))
        self.attribution.load(data.get("attribution"), Hist)
        self.costs.load(data.get("costs"))
        self.rolling.load(data.get("rolling"))

    def _load_timelines(self, data: dict[str, Any]) -> None:
        """Timelines and feed clocks; a snapshot from before them carries only the current states."""
        if "kill_switch" in data:
            self.kill_switch = Timeline.load(False, data["kill_switch"])
            self.breakers = {k: Timeline.load("closed", v) for k, v in data["breakers"].items()}
        else:  # the state is known, its time is not: a later event of any time follows it
            self.kill_switch = Timeline(False, floor=[-1e300, self.kill_switch_active])
            self.breakers = {k: Timeline("closed", floor=[-1e300, v]) for k, v in self.breaker_state.items()}
        self.feed_clock = {k: (v if isinstance(v, list) else [v, None]) for k, v in self.feed_clock.items()}


def _migrate_slippage(counts: list[int]) -> list[int]:
    """Bucket counts of a snapshot taken with OLD_SLIPPAGE_BUCKETS, in SLIPPAGE_BUCKETS.

    Each old bucket's count goes to the new bucket with the same upper bound (cumulative counts stay
    exact at every old bound); the old overflow (> 100 bps) stays in +Inf, as it cannot be placed.
    """
    if len(counts) == len(SLIPPAGE_BUCKETS) + 1:
        return counts
    out = [0] * (len(SLIPPAGE_BUCKETS) + 1)
    for bound, count in zip((*OLD_SLIPPAGE_BUCKETS, math.inf), counts, strict=True):
        out[len(SLIPPAGE_BUCKETS) if bound == math.inf else SLIPPAGE_BUCKETS.index(bound)] += count
    return out


def sharpe_sortino(
    returns: list[float], periods_per_year: float, risk_free_rate: float = 0.0
) -> tuple[float | None, float | None]:
    """Annualised Sharpe and Sortino of per-period returns (see the module docstring)."""
    import numpy as np

    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return None, None
    excess = r - risk_free_rate / periods_per_year
    mean = float(excess.mean())
    scale = math.sqrt(periods_per_year)
    std = float(r.std(ddof=1))
    sharpe = mean / std * scale if std > 0 else None
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    sortino = mean / downside * scale if downside > 0 else None
    return sharpe, sortino
