"""Risk limits as desks set them: per account, in quote currency or in percent.

Four limits, each either an amount in quote currency (``2500``) or a percentage (``"5%"``):

* ``daily_loss``: percent of the equity the session started from; usage = today's loss / limit.
* ``drawdown``: percent of the high-water mark (the ratio ``drawdown_ratio`` is measured against),
  or an amount below it; usage = drawdown / limit.
* ``take_profit`` and ``stop_loss``: portfolio P&L levels, percent of the account's initial balance
  (``initial_balance`` of its portfolio snapshots; the first equity seen when it never carries one);
  usage = P&L / level (gains for take-profit, losses for stop-loss).

``risk.accounts`` sets them per account; an account it does not name (and every limit it leaves
out) uses the global settings (``risk.daily_loss_limit`` and ``risk.daily_loss_limit_percent``,
``risk.max_drawdown``, ``risk.take_profit``, ``risk.stop_loss``). When both global daily loss
limits are set, the tighter one applies. Everything here is computed at scrape time from the
account's equity path (``state.Account``) and the initial balances folded by :class:`LimitsFold`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tradewatch.core import config as cfg

LIMITS = ("daily_loss", "drawdown", "take_profit", "stop_loss")
_AMOUNT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*")


def parse_limit(value: Any) -> tuple[float, bool] | None:
    """``"5%"`` -> (5.0, True), ``2500`` -> (2500.0, False), ``""``/``0`` -> None (not set)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise cfg.Invalid(f"expected an amount (2500) or a percentage (5%), got {value!r}")
    m = _AMOUNT.fullmatch(str(value))
    if not m:
        raise cfg.Invalid(f"expected an amount (2500) or a percentage (5%), got {value!r}")
    amount, percent = float(m.group(1)), bool(m.group(2))
    if percent and amount > 100:
        raise cfg.Invalid(f"a percentage is at most 100%, got {value!r}")
    return None if amount == 0 else (amount, percent)


def limit_text(value: Any) -> str:
    """The setting's normalized text: ``"5%"``, ``"2500"`` or ``""`` (not set)."""
    parsed = parse_limit(value)
    if parsed is None:
        return ""
    amount, percent = parsed
    return f"{amount:g}%" if percent else f"{amount:g}"


ACCOUNT_LIMITS = cfg.Record({name: (limit_text, "", False) for name in LIMITS})


def settings() -> list[cfg.Setting]:
    S = cfg.Setting
    return [
        S(
            "risk.daily_loss_limit_percent",
            cfg.number(minimum=0, maximum=100),
            0.0,
            "Daily loss limit in percent of the equity the session started from; 0: not set. With "
            "risk.daily_loss_limit also set, the tighter applies.",
        ),
        S(
            "risk.take_profit",
            limit_text,
            "",
            "Portfolio take-profit level: P&L since the initial balance, as an amount or a percentage "
            "of the initial balance (25%); empty: not set.",
        ),
        S(
            "risk.stop_loss",
            limit_text,
            "",
            "Portfolio stop-loss level: loss since the initial balance, as an amount or a percentage "
            "of the initial balance (15%); empty: not set.",
        ),
        S(
            "risk.accounts",
            cfg.mapping_of(ACCOUNT_LIMITS),
            {},
            "Limits per account: {account: {daily_loss, drawdown, take_profit, stop_loss}}, each an "
            "amount or a percentage (see docs/trading-exporter.md); the rest use the global settings.",
        ),
    ]


def _global_limits(c: Any) -> dict[str, tuple[float, bool] | None]:
    return {
        "drawdown": (c.max_drawdown * 100.0, True) if c.max_drawdown > 0 else None,
        "take_profit": parse_limit(c.take_profit),
        "stop_loss": parse_limit(c.stop_loss),
    }


class LimitsFold:
    """Initial balances per account label (the base of take-profit and stop-loss levels)."""

    def __init__(self) -> None:
        self.initial: dict[str, float] = {}
        self.volatility: dict[str, list[float]] = {}  # symbol label -> [ts, volatility, limit]

    def portfolio(self, account: str, e: Mapping[str, Any]) -> None:
        balance = e.get("initial_balance")
        if balance is not None:
            self.initial[account] = balance
        elif account not in self.initial:
            self.initial[account] = e["equity"]

    def volatility_breach(self, symbol: str, e: Mapping[str, Any]) -> None:
        seen = self.volatility.get(symbol)
        if seen is None or e["ts"] >= seen[0]:
            self.volatility[symbol] = [e["ts"], e["volatility"], e["limit"]]

    def to_snapshot(self) -> dict[str, Any]:
        return {"initial": self.initial, "volatility": self.volatility}

    def load(self, data: Mapping[str, Any] | None) -> None:
        data = data or {}
        self.initial = dict(data.get("initial", {}))
        self.volatility = dict(data.get("volatility", {}))


def resolve(c: Any, account: str, acct: Any, initial: float | None) -> dict[str, tuple[float, float]]:
    """limit name -> (limit in quote currency, usage ratio) for the limits that apply to ``acct``."""
    own = c.account_limits.get(account) or {}
    glob = _global_limits(c)
    out: dict[str, tuple[float, float]] = {}
    daily = parse_limit(own.get("daily_loss"))
    if daily is not None:
        amount = daily[0] / 100.0 * acct.session_start if daily[1] else daily[0]
    else:
        candidates = [c.daily_loss_limit] if c.daily_loss_limit > 0 else []
        if c.daily_loss_limit_percent > 0:
            candidates.append(c.daily_loss_limit_percent / 100.0 * acct.session_start)
        amount = min(candidates) if candidates else None
    if amount is not None and amount > 0:
        out["daily_loss"] = (amount, max(0.0, acct.session_start - acct.equity) / amount)
    drawdown = parse_limit(own.get("drawdown")) or glob["drawdown"]
    if drawdown is not None and acct.hwm > 0:
        amount = drawdown[0] / 100.0 * acct.hwm if drawdown[1] else drawdown[0]
        out["drawdown"] = (amount, max(0.0, acct.hwm - acct.equity) / amount)
    if initial is not None:
        pnl = acct.equity - initial
        for name, sign in (("take_profit", 1.0), ("stop_loss", -1.0)):
            level = parse_limit(own.get(name)) or glob[name]
            if level is None:
                continue
            amount = level[0] / 100.0 * abs(initial) if level[1] else level[0]
            if amount > 0:
                out[name] = (amount, max(0.0, sign * pnl) / amount)
    return out


def legacy_rows(s: Any) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Rows of ``daily_loss_limit`` (quote currency) and ``drawdown_limit_ratio`` in use, per account.

    Before any account is seen, the global settings under the ``default`` account (as always)."""
    c = s.config
    if not s.account_state:
        from tradewatch.trading.state import DEFAULT

        daily = [(DEFAULT, c.daily_loss_limit)] if c.daily_loss_limit > 0 else []
        return daily, ([(DEFAULT, c.max_drawdown)] if c.max_drawdown > 0 else [])
    daily, drawdown = [], []
    for name, acct, lim in account_rows(s):
        if "daily_loss" in lim:
            daily.append((name, lim["daily_loss"][0]))
        own = parse_limit((c.account_limits.get(name) or {}).get("drawdown")) or _global_limits(c)["drawdown"]
        if own is not None and own[1]:
            drawdown.append((name, own[0] / 100.0))
        elif own is not None and acct.hwm > 0:
            drawdown.append((name, own[0] / acct.hwm))
    return daily, drawdown


def account_rows(state: Any) -> Iterable[tuple[str, Any, dict[str, tuple[float, float]]]]:
    """(account, Account, resolved limits) for every account seen, sorted."""
    c = state.config
    for name, acct in sorted(state.account_state.items()):
        yield name, acct, resolve(c, name, acct, state.limits.initial.get(name))


def families(s: Any) -> list[Any]:
    """Limits in use and their usage, margin, the latest volatility breach (docs/metrics.md)."""
    from tradewatch.trading.collector import P, _gauge

    rows = list(account_rows(s))
    vol = sorted(s.limits.volatility.items())
    return [
        _gauge(
            P + "limit",
            "Risk limit in use, in quote currency (percentages resolved against session-start equity, "
            "the high-water mark or the initial balance).",
            ["account", "limit"],
            (((name, k), v[0]) for name, _, lim in rows for k, v in sorted(lim.items())),
        ),
        _gauge(
            P + "limit_usage_ratio",
            "Share of the risk limit used: loss, drawdown or P&L / limit (1 = at the limit).",
            ["account", "limit"],
            (((name, k), v[1]) for name, _, lim in rows for k, v in sorted(lim.items())),
        ),
        _gauge(
            P + "initial_balance",
            "Initial balance of the account (from its snapshots; else the first equity seen).",
            ["account"],
            ((name, s.limits.initial.get(name)) for name, _, _ in rows),
        ),
        _gauge(
            P + "portfolio_pnl",
            "Equity minus the initial balance.",
            ["account"],
            ((name, a.equity - s.limits.initial[name]) for name, a, _ in rows if name in s.limits.initial),
        ),
        _gauge(
            P + "margin_used", "Margin in use (latest snapshot).", ["account"], ((n, a.margin_used) for n, a, _ in rows)
        ),
        _gauge(
            P + "margin_usage_ratio",
            "Margin in use / equity.",
            ["account"],
            ((n, a.margin_used / a.equity if a.equity > 0 else None) for n, a, _ in rows),
        ),
        _gauge(
            P + "volatility", "Volatility of the latest volatility breach.", ["symbol"], ((k, v[1]) for k, v in vol)
        ),
        _gauge(
            P + "volatility_limit",
            "Volatility limit of the latest volatility breach.",
            ["symbol"],
            ((k, v[2]) for k, v in vol),
        ),
    ]
