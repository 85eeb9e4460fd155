"""Orders in the trading fold: open orders (bounded, oldest forgotten), counts by status,
rejections, ack and fill latency, slippage, filled quantities and notional, the fill ratio.

A mixin of :class:`~tradewatch.trading.state.TradingState`, which owns the containers.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from tradewatch.core.floatsum import total
from tradewatch.trading.counting import DEFAULT, LATENCY_BUCKETS, SLIPPAGE_BUCKETS, UNKNOWN, hist, inc


class OrdersFold:
    """Handlers of the order events (``order_*``) of ``TradingState``."""

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
        inc(self.orders, (strategy, symbol, order[3], order[4], "submitted"))
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
        inc(self.orders, (order[1], order[2], order[3], order[4], status))

    def _order_acknowledged(self, e: dict[str, Any]) -> None:
        order = self._order_of(e)
        self._count(order, "acknowledged")
        if not order[9]:
            order[9] = True
            latency = e["ts"] - order[0]
            if latency >= 0:
                hist(self.ack_latency, order[5], LATENCY_BUCKETS, latency, e)

    def _order_fill(self, e: dict[str, Any]) -> None:
        order = self._order_of(e)
        final = e["type"] == "order_filled"
        self._count(order, "filled" if final else "partially_filled")
        order[7] += e["fill_quantity"]
        ref = order[8]
        if ref:
            sign = 1.0 if order[3] == "buy" else -1.0
            bps = sign * (e["fill_price"] - ref) / ref * 1e4
            hist(self.slippage, (order[5], order[3]), SLIPPAGE_BUCKETS, bps, e)
        self.costs.fill(order[1], order[5], order[3], ref, e)
        if final:
            if order[0] is not None and e["ts"] >= order[0]:
                hist(self.fill_latency, order[5], LATENCY_BUCKETS, e["ts"] - order[0], e)
            self._finish(e["order_id"], order)

    def _order_terminal(self, e: dict[str, Any]) -> None:
        order = self._order_of(e)
        if e["type"] == "order_rejected":
            self._count(order, "rejected")
            inc(self.rejections, (order[5], e["reason"]))
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
        inc(self.submitted_qty, strategy, qty)
        inc(self.filled_qty, strategy, filled)
        window = self.fill_window.get(strategy)
        if window is None:
            window = self.fill_window[strategy] = deque(maxlen=self.config.fill_window)
        # Weighted by notional at the reference price: quantities of different symbols (shares,
        # coins, contracts) do not add up, their notionals do.
        ref = order[8] if order[8] and order[8] > 0 else 1.0
        window.append((qty * ref, filled * ref))
        inc(self.terminal_notional, (strategy, order[5], "filled"), filled * ref)
        inc(self.terminal_notional, (strategy, order[5], "unfilled"), (qty - filled) * ref)

    def fill_ratio(self, strategy: str) -> float | None:
        window = self.fill_window.get(strategy)
        if not window:
            return None
        # Summed at scrape time (a window of a few hundred) rather than kept as running sums,
        # so rounding never drifts over a long run.
        submitted = total([q for q, _ in window])
        return total([f for _, f in window]) / submitted if submitted > 0 else None
