"""The desk's questions in the report: where the P&L came from, what execution cost, and how the
period compares with the one before it.

Two sections (``attribution`` and ``comparison``) and the mean slippage of Execution quality, built
on the same :class:`~tradewatch.report.sections.Builder` as the others: every number is a PromQL
expression over the period ``[R]`` evaluated at its end, kept in the document next to the value.
The previous period is the same expression evaluated one period earlier (day over day for a daily
report, week over week for a weekly one), so both figures are checkable the same way.

Realized P&L gauges can fall, so their change is a plain difference with ``offset`` (a series born
in the period starts from 0), never ``increase()``; fees, slippage cost, notional and the trade
P&L histogram's buckets are counters, so ``increase()`` is right for them.
"""

from __future__ import annotations

import math
from typing import Any

from tradewatch.report.sections import Section, Table, fmoney, fnum, fpct, jnum

TOP = 5


def _change(metric: str, by: str, R: str) -> str:
    """Change of a gauge over the period, per ``by`` label(s); series born in the period from 0."""
    return f"sum by ({by}) ({metric}) - (sum by ({by}) ({metric} offset {R}) or 0 * sum by ({by}) ({metric}))"


def _mean_slippage_expr(R: str, by: str = "") -> str:
    grp = f"sum by ({by})" if by else "sum"
    cost = "tradewatch_trading_slippage_cost_total"
    return (
        f'1e4 * ({grp} (increase({cost}{{direction="adverse"}}[{R}])) '
        f'- {grp} (increase({cost}{{direction="favourable"}}[{R}]))) '
        f"/ ({grp} (increase(tradewatch_trading_filled_notional_total[{R}])) > 0)"
    )


def mean_slippage_bps(b: Any) -> float:
    """Notional-weighted mean slippage of the period's fills, from the slippage cost counters."""
    return b.value("slippage_bps_mean", _mean_slippage_expr(b.R))


def comparison_exprs(R: str) -> dict[str, str]:
    """The figures compared period over period (each over ``[R]`` at the period's end)."""
    buckets = "tradewatch_trading_trade_pnl_bucket"
    notional = "tradewatch_trading_order_terminal_notional_total"
    return {
        "realized_pnl": (
            f"sum(tradewatch_trading_realized_pnl) - (sum(tradewatch_trading_realized_pnl offset {R}) or vector(0))"
        ),
        # Trades with net P&L > 0 / all trades closed in the period, from the histogram's buckets.
        "win_rate_ratio": (
            f'1 - sum(increase({buckets}{{le="0.0"}}[{R}])) / (sum(increase({buckets}{{le="+Inf"}}[{R}])) > 0)'
        ),
        "mean_slippage_bps": _mean_slippage_expr(R),
        "fill_ratio": (f'sum(increase({notional}{{outcome="filled"}}[{R}])) / (sum(increase({notional}[{R}])) > 0)'),
        "fees": f"sum(increase(tradewatch_trading_fees_paid_total[{R}]))",
    }


def s_attribution(b: Any, sec: Section) -> None:
    R = b.R
    by_symbol = b.by("realized_pnl_by_symbol", _change("tradewatch_trading_symbol_realized_pnl", "symbol", R), "symbol")
    by_pair = b.by(
        "realized_pnl_by_strategy_symbol",
        _change("tradewatch_trading_symbol_realized_pnl", "strategy, symbol", R),
        "strategy",
        "symbol",
    )
    unrealized = b.by(
        "unrealized_pnl_by_symbol", "sum by (symbol) (tradewatch_trading_symbol_unrealized_pnl)", "symbol"
    )
    fees = b.by(
        "fees_by_strategy_venue",
        f"sum by (strategy, venue) (increase(tradewatch_trading_fees_paid_total[{R}]))",
        "strategy",
        "venue",
    )
    slip = b.by("mean_slippage_by_strategy_venue", _mean_slippage_expr(R, "strategy, venue"), "strategy", "venue")
    extremes = b.by(
        "trade_pnl_extreme", "max by (strategy, extreme) (tradewatch_trading_trade_pnl_extreme)", "strategy", "extreme"
    )
    ranked = sorted(((k, v) for k, v in by_symbol.items() if math.isfinite(v)), key=lambda kv: kv[1], reverse=True)
    total_fees = math.fsum(v for v in fees.values() if math.isfinite(v))
    sec.data.update(
        realized_by_symbol={k: jnum(v) for k, v in by_symbol.items()},
        realized_by_strategy_symbol={k: jnum(v) for k, v in by_pair.items()},
        unrealized_by_symbol={k: jnum(v) for k, v in unrealized.items()},
        top_symbols=[k for k, _ in ranked[:TOP]],
        bottom_symbols=[k for k, _ in reversed(ranked[-TOP:])],
        fees_by_strategy_venue={k: jnum(v) for k, v in fees.items()},
        fees_total=jnum(total_fees) if fees else None,
        mean_slippage_bps_by_strategy_venue={k: jnum(v) for k, v in slip.items()},
        trade_pnl_extreme={k: jnum(v) for k, v in extremes.items()},
    )
    if ranked:
        sec.figures += [
            ("Best symbol", f"{ranked[0][0]} {fmoney(ranked[0][1])}"),
            ("Worst symbol", f"{ranked[-1][0]} {fmoney(ranked[-1][1])}"),
        ]
    sec.figures.append(("Fees paid", fnum(total_fees) if fees else "n/a"))
    losers = [k for k, v in ranked if v < 0]
    if losers:
        sec.notes.append(f"Losing symbols in the period: {', '.join(losers)}.")
    sec.tables.append(
        Table(
            "Realized P&L by symbol (top and bottom five)",
            ["rank", "symbol", "realized P&L", "unrealized at end"],
            [
                [label, k, fmoney(v), fmoney(unrealized.get(k, math.nan))]
                for label, rows in (("top", ranked[:TOP]), ("bottom", list(reversed(ranked[-TOP:]))))
                for k, v in rows
            ],
        )
    )
    sec.tables.append(
        Table(
            "Realized P&L by strategy and symbol",
            ["strategy", "symbol", "realized P&L"],
            [[*k.split(",", 1), fmoney(v)] for k, v in sorted(by_pair.items())],
        )
    )
    sec.tables.append(
        Table(
            "Execution costs by strategy and venue",
            ["strategy", "venue", "fees", "mean slippage (bps)"],
            [
                [*k.split(",", 1), fnum(fees.get(k, math.nan)), fnum(slip.get(k, math.nan), 1)]
                for k in sorted(set(fees) | set(slip))
            ],
        )
    )
    if extremes:
        sec.tables.append(
            Table(
                "Best and worst closed trade (lifetime)",
                ["strategy", "best", "worst"],
                [
                    [s, fmoney(extremes.get(f"{s},best", math.nan)), fmoney(extremes.get(f"{s},worst", math.nan))]
                    for s in sorted({k.split(",", 1)[0] for k in extremes})
                ],
            )
        )
    sec.notes.append(
        "Realized P&L is net of fees (trade_closed); fees are those of the period's fills; mean slippage is "
        "notional-weighted: (adverse - favourable slippage cost) / filled notional at the reference price."
    )
    if not by_symbol:
        sec.notes.append("No realized P&L by symbol in this period.")


def s_comparison(b: Any, sec: Section) -> None:
    previous_end = b.E - b.p.seconds
    word = "day" if b.p.kind == "daily" else "week"
    rows = []
    for key, expr in comparison_exprs(b.R).items():
        now = b.value(f"{key}_current", expr)
        before = b.prom.value(expr, previous_end)
        b.queries[f"{key}_previous"] = f"{expr} at the end of the previous {word}"
        sec.data[key] = {"current": jnum(now), "previous": jnum(before), "change": jnum(now - before)}
        rows.append((key, now, before))
    fmt = {
        "realized_pnl": ("realized P&L", fmoney, fmoney),
        "win_rate_ratio": ("win rate", fpct, lambda x: f"{x * 100:+.1f} pts" if math.isfinite(x) else "n/a"),
        "mean_slippage_bps": ("mean slippage (bps)", lambda x: fnum(x, 1), lambda x: fnum(x, 1)),
        "fill_ratio": ("fill ratio", fpct, lambda x: f"{x * 100:+.1f} pts" if math.isfinite(x) else "n/a"),
        "fees": ("fees", fnum, fmoney),
    }
    sec.tables.append(
        Table(
            f"This {word} against the previous {word}",
            ["measure", f"this {word}", f"previous {word}", "change"],
            [[fmt[k][0], fmt[k][1](now), fmt[k][1](before), fmt[k][2](now - before)] for k, now, before in rows],
        )
    )
    _statistics_that_move(b, sec)
    pnl = sec.data["realized_pnl"]
    sec.figures.append(
        (f"Realized P&L vs previous {word}", fmoney(pnl["change"] if pnl["change"] is not None else math.nan))
    )
    sec.notes.append(
        f"Each figure is over the whole {word} (win rate: closed trades with net P&L > 0, from the trade P&L "
        f"histogram); the previous {word} is the same expression evaluated one {word} earlier."
    )


STATS = ("win_rate_ratio", "profit_factor", "expectancy")
SCOPES = (("", "lifetime"), ("rolling_", "last N trades"), ("session_", "session"))


def _statistics_that_move(b: Any, sec: Section) -> None:
    """Win rate, profit factor, expectancy per strategy at the end of the period: lifetime, over the
    last analytics.trade_window trades and over the session, side by side."""
    got = {
        (prefix, stat): b.by(f"{prefix}{stat}", f"max by (strategy) (tradewatch_trading_{prefix}{stat})", "strategy")
        for prefix, _ in SCOPES
        for stat in STATS
    }
    strategies = sorted({k for v in got.values() for k in v})
    sec.data["trade_statistics"] = {
        s: {f"{prefix}{stat}": jnum(got[(prefix, stat)].get(s, math.nan)) for prefix, _ in SCOPES for stat in STATS}
        for s in strategies
    }
    fmt = {"win_rate_ratio": fpct, "profit_factor": fnum, "expectancy": fmoney}
    sec.tables.append(
        Table(
            "Win rate, profit factor, expectancy at the end of the period",
            ["strategy", "measure", *(label for _, label in SCOPES)],
            [
                [
                    s,
                    stat.removesuffix("_ratio").replace("_", " "),
                    *(fmt[stat](got[(p, stat)].get(s, math.nan)) for p, _ in SCOPES),
                ]
                for s in strategies
                for stat in STATS
            ],
        )
    )
