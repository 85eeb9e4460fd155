"""Execution costs: fees paid and implementation shortfall (slippage) in quote currency.

A fold owned by :class:`~tradewatch.trading.state.TradingState`, which hands it every fill with
the order's (capped) strategy and venue, side and reference price. Per (strategy, venue):

* fees: the ``fee`` of each fill (quote currency; fills without one pay 0);
* slippage cost: side x (fill - reference) x quantity, split by sign into ``adverse`` (paid)
  and ``favourable`` (earned), so both counters only grow and ``rate()`` works on each;
* filled notional: quantity x reference price, the base slippage in bps is measured against.

Notional-weighted mean slippage in bps over a window is then
``(rate(adverse) - rate(favourable)) / rate(notional) x 1e4``, which equals
sum(slippage_bps_i x notional_i) / sum(notional_i) per fill (docs/trading-exporter.md). Fills of
an order never seen submitted have no reference price: their fee counts, their slippage does not.
"""

from __future__ import annotations

from typing import Any

DIRECTIONS = ("adverse", "favourable")


class CostsFold:
    def __init__(self) -> None:
        self.fees: dict[tuple[str, str], float] = {}  # (strategy, venue)
        self.slippage: dict[tuple[str, str, str], float] = {}  # (strategy, venue, direction)
        self.notional: dict[tuple[str, str], float] = {}  # (strategy, venue) -> filled at reference

    def fill(self, strategy: str, venue: str, side: str, ref: float | None, e: dict[str, Any]) -> None:
        key = (strategy, venue)
        self.fees[key] = self.fees.get(key, 0.0) + e.get("fee", 0.0)
        if not ref:
            return
        qty = e["fill_quantity"]
        cost = (1.0 if side == "buy" else -1.0) * (e["fill_price"] - ref) * qty
        for direction in DIRECTIONS:  # both directions exist from 0 once the pair has a fill
            self.slippage.setdefault((*key, direction), 0.0)
        self.slippage[(*key, "adverse" if cost > 0 else "favourable")] += abs(cost)
        self.notional[key] = self.notional.get(key, 0.0) + qty * ref

    def mean_slippage_bps(self, strategy: str, venue: str) -> float | None:
        """Lifetime notional-weighted mean slippage in bps (positive = worse); None before a fill."""
        notional = self.notional.get((strategy, venue))
        if not notional:
            return None
        net = self.slippage[(strategy, venue, "adverse")] - self.slippage[(strategy, venue, "favourable")]
        return net / notional * 1e4

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "fees": [[*k, v] for k, v in self.fees.items()],
            "slippage": [[*k, v] for k, v in self.slippage.items()],
            "notional": [[*k, v] for k, v in self.notional.items()],
        }

    def load(self, data: dict[str, Any] | None) -> None:
        if not data:  # a snapshot from before costs: starts empty
            return
        for name in ("fees", "slippage", "notional"):
            setattr(self, name, {tuple(row[:-1]): row[-1] for row in data[name]})


def families(s: Any, counter: Any, prefix: str) -> list[Any]:
    c: CostsFold = s.costs
    # Every (strategy, venue) with a submitted order exists from 0 (terminal_notional has them all).
    pairs = sorted({k[:2] for k in s.terminal_notional} | set(c.fees))
    return [
        counter(prefix + "fees_paid", "Fees of fills in quote currency.", ["strategy", "venue"], c.fees, pairs),
        counter(
            prefix + "slippage_cost",
            "Slippage of fills in quote currency, |side x (fill - reference) x quantity|, by direction "
            "(adverse: paid, favourable: earned).",
            ["strategy", "venue", "direction"],
            c.slippage,
            [(*p, d) for p in pairs for d in DIRECTIONS],
        ),
        counter(
            prefix + "filled_notional",
            "Filled quantity x reference price of fills with a known reference (slippage bps base).",
            ["strategy", "venue"],
            c.notional,
            pairs,
        ),
    ]
