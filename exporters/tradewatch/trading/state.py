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

from collections import OrderedDict, deque
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tradewatch.trading.attribution import AttributionFold
from tradewatch.trading.costs import CostsFold
from tradewatch.trading.counting import (
    CONFIDENCE_BUCKETS,
    DEFAULT,
    LATENCY_BUCKETS,
    OVERFLOW,
    SLIPPAGE_BUCKETS,
    Hist,
    LabelCap,
    hist,
    inc,
    migrate_slippage,
)
from tradewatch.trading.decisions import DecisionFold
from tradewatch.trading.eventtime import Timeline
from tradewatch.trading.health import HealthFold
from tradewatch.trading.limits import LimitsFold
from tradewatch.trading.orders import OrdersFold
from tradewatch.trading.portfolio import Account, PortfolioFold, sharpe_sortino
from tradewatch.trading.risk_feed import RiskFeedFold
from tradewatch.trading.rolling import RollingFold
from tradewatch.trading.settings import TradingConfig, clock_time

# Importers of these from here predate the split into counting, orders, portfolio and risk_feed.
__all__ = ["DEFAULT", "LATE_TYPES", "OVERFLOW", "Hist", "LabelCap", "TradingState", "sharpe_sortino"]

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


class TradingState(OrdersFold, PortfolioFold, RiskFeedFold):
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
            "api_call": lambda e: self.health.api_call(e, hist, LATENCY_BUCKETS),
        }

    def apply(self, event: dict[str, Any]) -> None:
        handler = self._handlers.get(event["type"])
        if handler is not None:  # types of another exporter are ignored, never an error
            handler(event)

    def _late_event(self, e: dict[str, Any]) -> None:
        inc(self.late, e["type"])

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
            (v, side): Hist(SLIPPAGE_BUCKETS, migrate_slippage(c), s) for v, side, c, s in data["slippage"]
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
