"""Trade statistics that move: over the last N closed trades and over the current session.

The lifetime win rate, profit factor and expectancy (``win_rate_ratio``, ``profit_factor``,
``expectancy``) are over every trade since the journal began, so a strategy that broke this week
hides behind months of history. This fold keeps, per strategy:

* ``rolling_*``: the last ``analytics.trade_window`` closed trades (a deque of their net P&L);
* ``session_*``: the trades closed in the trading session (``session.boundary``/``timezone``) of
  the newest closed trade; a trade of a later session starts a new one, a late trade of an
  earlier session is left out.

Same formulas as the lifetime ones (net P&L after fees; a trade with net P&L <= 0 is a loss):
win rate = wins / trades, profit factor = gross gains / |gross losses| (+Inf without a loss),
expectancy = W x avg_win - (1 - W) x avg_loss (= the mean net P&L per trade).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

from tradewatch.core.floatsum import total


def trade_stats(pnls: Iterable[float]) -> tuple[float, float | None, float] | None:
    """(win rate, profit factor, expectancy) of net trade P&Ls; None for no trade."""
    values = list(pnls)
    if not values:
        return None
    gains = total([v for v in values if v > 0])
    losses = -total([v for v in values if v <= 0])
    wins = sum(1 for v in values if v > 0)
    pf = gains / losses if losses > 0 else (math.inf if gains > 0 else None)
    return wins / len(values), pf, total(values) / len(values)


class RollingFold:
    def __init__(self, window: int):
        self.window = window
        self.recent: dict[str, deque[float]] = {}  # strategy -> net P&L of the last N trades
        self.session: dict[str, list[Any]] = {}  # strategy -> [session key, net P&L of its trades...]

    def trade(self, strategy: str, net: float, session: int) -> None:
        recent = self.recent.get(strategy)
        if recent is None:
            recent = self.recent[strategy] = deque(maxlen=self.window)
        recent.append(net)
        current = self.session.get(strategy)
        if current is None or session > current[0]:
            self.session[strategy] = [session, net]
        elif session == current[0]:
            current.append(net)

    def to_snapshot(self) -> dict[str, Any]:
        return {"recent": {k: list(v) for k, v in self.recent.items()}, "session": self.session}

    def load(self, data: dict[str, Any] | None) -> None:
        if not data:  # a snapshot from before rolling statistics: starts empty
            return
        self.recent = {k: deque(v, maxlen=self.window) for k, v in data["recent"].items()}
        self.session = data["session"]


def families(s: Any, gauge: Any, prefix: str) -> list[Any]:
    r: RollingFold = s.rolling
    out = []
    for scope, rows in (
        ("rolling", {k: trade_stats(v) for k, v in sorted(r.recent.items())}),
        ("session", {k: trade_stats(v[1:]) for k, v in sorted(r.session.items())}),
    ):
        where = (
            "over the last analytics.trade_window closed trades"
            if scope == "rolling"
            else "over the trades closed in the current trading session"
        )
        out += [
            gauge(
                f"{prefix}{scope}_win_rate_ratio",
                f"Winning closed trades / closed trades {where}.",
                ["strategy"],
                ((k, v[0]) for k, v in rows.items() if v),
            ),
            gauge(
                f"{prefix}{scope}_profit_factor",
                f"Gross gains / abs(gross losses) {where}.",
                ["strategy"],
                ((k, v[1]) for k, v in rows.items() if v),
            ),
            gauge(
                f"{prefix}{scope}_expectancy",
                f"Mean net P&L per closed trade {where}.",
                ["strategy"],
                ((k, v[2]) for k, v in rows.items() if v),
            ),
        ]
    out.append(
        gauge(
            prefix + "rolling_trades",
            "Closed trades in the rolling window (at most analytics.trade_window).",
            ["strategy"],
            ((k, len(v)) for k, v in sorted(r.recent.items())),
        )
    )
    out.append(
        gauge(
            prefix + "session_trades",
            "Closed trades in the current trading session.",
            ["strategy"],
            ((k, len(v) - 1) for k, v in sorted(r.session.items())),
        )
    )
    return out
