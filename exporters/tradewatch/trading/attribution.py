"""Where the P&L comes from: realized P&L by strategy and symbol, trade extremes and distribution.

A fold owned by :class:`~tradewatch.trading.state.TradingState`, which hands it every
``trade_closed`` with its strategy and symbol labels already capped (``limits.max_strategies``,
``limits.max_symbols``: past the cap a trade counts under ``__overflow__``, so the sums still add up
to ``realized_pnl``). Trade P&L is net of the trade's fees, like ``realized_pnl``. Unrealized P&L
by symbol is computed at scrape time from the position snapshots (:func:`unrealized_by_symbol`).

The trade P&L histogram is in quote currency (not R multiples: a trade event carries no risk
amount), with buckets symmetric around zero from 1 to 100 000, so ``histogram_quantile`` reads
the median trade as readily as the tail of a large book.
"""

from __future__ import annotations

from typing import Any

_STEPS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5)
TRADE_PNL_BUCKETS = (*(-v for v in reversed(_STEPS)), 0.0, *_STEPS)


class AttributionFold:
    def __init__(self) -> None:
        self.realized: dict[tuple[str, str], float] = {}  # (strategy, symbol) -> net realized P&L
        self.extremes: dict[str, list[float]] = {}  # strategy -> [best, worst] net trade P&L
        self.trade_pnl: dict[str, Any] = {}  # strategy -> Hist of net trade P&L

    def trade(self, strategy: str, symbol: str, net: float, hist: Any) -> None:
        key = (strategy, symbol)
        self.realized[key] = self.realized.get(key, 0.0) + net
        seen = self.extremes.get(strategy)
        if seen is None:
            self.extremes[strategy] = [net, net]
        else:
            seen[0] = max(seen[0], net)
            seen[1] = min(seen[1], net)
        hist(self.trade_pnl, strategy, TRADE_PNL_BUCKETS, net)

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "realized": [[*k, v] for k, v in self.realized.items()],
            "extremes": self.extremes,
            "trade_pnl": {k: [h.counts, h.sum] for k, h in self.trade_pnl.items()},
        }

    def load(self, data: dict[str, Any] | None, hist_type: Any) -> None:
        if not data:  # a snapshot from before attribution: starts empty
            return
        self.realized = {(st, sym): v for st, sym, v in data["realized"]}
        self.extremes = data["extremes"]
        self.trade_pnl = {k: hist_type(TRADE_PNL_BUCKETS, c, s) for k, (c, s) in data["trade_pnl"].items()}


def unrealized_by_symbol(positions: dict[str, list[float]], label: Any) -> dict[str, float]:
    """qty x (mark - avg) of the latest position snapshots, summed per (capped) symbol label."""
    out: dict[str, float] = {}
    for symbol, (qty, avg, mark) in positions.items():
        name = label(symbol)
        out[name] = out.get(name, 0.0) + qty * (mark - avg)
    return out


def families(s: Any, gauge: Any, histogram: Any, prefix: str) -> list[Any]:
    a: AttributionFold = s.attribution
    return [
        gauge(
            prefix + "symbol_realized_pnl",
            "Cumulative realized P&L net of fees by strategy and symbol (sums to realized_pnl).",
            ["strategy", "symbol"],
            sorted(a.realized.items()),
        ),
        gauge(
            prefix + "symbol_unrealized_pnl",
            "Unrealized P&L by symbol from the latest position snapshots.",
            ["symbol"],
            sorted(unrealized_by_symbol(s.positions, s.symbols).items()),
        ),
        gauge(
            prefix + "trade_pnl_extreme",
            "Best and worst closed trade (net P&L, quote currency) by strategy, lifetime.",
            ["strategy", "extreme"],
            [((k, name), v[i]) for k, v in sorted(a.extremes.items()) for i, name in enumerate(("best", "worst"))],
        ),
        histogram(
            prefix + "trade_pnl",
            "Net P&L of closed trades in quote currency (buckets symmetric around 0).",
            ["strategy"],
            a.trade_pnl,
        ),
    ]
