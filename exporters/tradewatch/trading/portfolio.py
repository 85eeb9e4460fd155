"""Accounts, positions and P&L of the trading fold: each account's equity path (high-water mark,
drawdown, session start, period returns), position snapshots, closed trades, Sharpe and Sortino.

A mixin of :class:`~tradewatch.trading.state.TradingState` (which owns the containers it updates,
``_newest`` and ``_late_event``); the formulas are in ``tradewatch.trading.state``'s docstring.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from tradewatch.trading.counting import DEFAULT, hist, inc


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


class PortfolioFold:
    """Closed trades, position and portfolio snapshots, sessions (handlers of ``TradingState``)."""

    def _trade_closed(self, e: dict[str, Any]) -> None:
        strategy = self.strategies(e.get("strategy", DEFAULT))
        net = e["realized_pnl"] - e["fees"]
        inc(self.realized, strategy, net)
        inc(self.trades, (strategy, e["exit_reason"]))
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
        self.attribution.trade(strategy, self.symbols(e["symbol"]), net, hist)
        self.rolling.trade(strategy, net, self.session_of(e["ts"]))

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
