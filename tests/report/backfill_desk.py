"""The backfilled day's attribution and cost series (issue 12), with their known facts.

Hooked into ``backfill.generate``: :meth:`Desk.fill` for each fill (its slippage drawn there),
:meth:`Desk.step` once per scrape, :meth:`Desk.emit` when the trading exporter is up. Its own
random stream, so the rest of the day stays as it was. ETH-USD loses money all day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

SYMBOLS = {"BTC-USD": 4.0, "ETH-USD": -6.0, "SOL-USD": 1.0}  # drift of a closed trade's net P&L
TRADE_BUCKETS = (-100.0, -10.0, 0.0, 10.0, 100.0, math.inf)
FEE_RATE = 0.0004
STATISTICS = {
    "tradewatch_trading_rolling_win_rate_ratio": 0.41,
    "tradewatch_trading_session_win_rate_ratio": 0.38,
    "tradewatch_trading_rolling_profit_factor": 0.8,
    "tradewatch_trading_session_expectancy": -3.5,
}


class Desk:
    def __init__(self) -> None:
        self.rng = np.random.default_rng(23)
        self.realized: dict[str, float] = defaultdict(float)
        self.trade_buckets = np.zeros(len(TRADE_BUCKETS))
        self.best, self.worst = -math.inf, math.inf
        self.fees = self.adverse = self.favourable = self.notional = 0.0
        self.terminal = {"filled": 0.0, "unfilled": 0.0}
        self.marks: dict[str, float] = {}

    def fill(self, slip_bps: float) -> None:
        notional = float(self.rng.uniform(1_000, 20_000))
        cost = slip_bps * notional / 1e4
        self.adverse += max(cost, 0.0)
        self.favourable += max(-cost, 0.0)
        self.notional += notional
        self.fees += notional * FEE_RATE
        filled = float(self.rng.uniform(0.7, 1.0))
        self.terminal["filled"] += notional
        self.terminal["unfilled"] += notional * (1 / filled - 1)

    def step(self, off: float) -> None:
        for symbol, drift in SYMBOLS.items():
            if self.rng.random() < 0.05:
                pnl = float(self.rng.normal(drift, 20.0))
                self.realized[symbol] += pnl
                self.trade_buckets += np.array([pnl <= b for b in TRADE_BUCKETS], dtype=float)
                self.best, self.worst = max(self.best, pnl), min(self.worst, pnl)
            self.marks[symbol] = 50.0 * math.sin(off / 7000 + len(symbol))

    def facts(self) -> dict[str, Any]:
        """The cumulative values now (the test differences them over the day)."""
        n = self.trade_buckets[-1]
        return {
            "realized": dict(self.realized),
            "fees": self.fees,
            "cost": self.adverse - self.favourable,
            "notional": self.notional,
            "trades": n,
            "losing_trades": self.trade_buckets[TRADE_BUCKETS.index(0.0)],
            "filled": self.terminal["filled"],
            "terminal": self.terminal["filled"] + self.terminal["unfilled"],
        }

    def emit(self, f: Any, ts: float) -> None:
        g, c = "gauge", "counter"
        sv = {"strategy": "momentum", "venue": "binance"}
        for symbol, v in self.realized.items():
            name = "tradewatch_trading_symbol_realized_pnl"
            f.add(name, g, name, {"strategy": "momentum", "symbol": symbol}, ts, v)
        for symbol, v in self.marks.items():
            name = "tradewatch_trading_symbol_unrealized_pnl"
            f.add(name, g, name, {"symbol": symbol}, ts, v)
        fam = "tradewatch_trading_trade_pnl"
        for b, n in zip(TRADE_BUCKETS, self.trade_buckets, strict=True):
            f.add(
                fam,
                "histogram",
                fam + "_bucket",
                {"strategy": "momentum", "le": "+Inf" if b == math.inf else repr(b)},
                ts,
                n,
            )
        if self.best > -math.inf:
            name = "tradewatch_trading_trade_pnl_extreme"
            f.add(name, g, name, {"strategy": "momentum", "extreme": "best"}, ts, self.best)
            f.add(name, g, name, {"strategy": "momentum", "extreme": "worst"}, ts, self.worst)
        for name, v in STATISTICS.items():  # last N trades, session (lifetime 0.55 in backfill): it broke lately
            f.add(name, g, name, {"strategy": "momentum"}, ts, v)
        for fam, labels, v in (
            ("tradewatch_trading_fees_paid", sv, self.fees),
            ("tradewatch_trading_slippage_cost", {**sv, "direction": "adverse"}, self.adverse),
            ("tradewatch_trading_slippage_cost", {**sv, "direction": "favourable"}, self.favourable),
            ("tradewatch_trading_filled_notional", sv, self.notional),
            ("tradewatch_trading_order_terminal_notional", {**sv, "outcome": "filled"}, self.terminal["filled"]),
            ("tradewatch_trading_order_terminal_notional", {**sv, "outcome": "unfilled"}, self.terminal["unfilled"]),
        ):
            f.add(fam, c, fam + "_total", labels, ts, v)
