"""Panels of the desk's questions (issue 12): where the P&L comes from, what execution costs.

``pnl_sources`` goes on the Trading & portfolio dashboard (by symbol, by strategy, top and bottom
five, best and worst trade, trade P&L distribution, win rate over the last N trades, the session
and the lifetime); ``costs`` on Execution quality (fees, notional-weighted mean slippage, slippage
cost). Both take and return the dashboard builder so ``trading.py`` hooks them in with one line.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from tradewatch.dashboards.common import GREEN, RED, Context, bars, heat, q, rising, row, steps, ts

STRATEGY = 'strategy=~"$strategy"'
SYMBOL = 'symbol=~"$symbol"'
VENUE = 'venue=~"$venue"'
BY_SYMBOL = f"sum by (symbol) (tradewatch_trading_symbol_realized_pnl{{{STRATEGY},{SYMBOL}}})"
PNL = steps((None, RED), (0, GREEN))


def pnl_sources(board: db.Dashboard, ctx: Context) -> db.Dashboard:
    board = board.with_row(row("Where does the P&L come from"))
    for title, description, expr, legend in (
        (
            "Realized P&L by symbol",
            "Cumulative realized P&L net of fees per instrument (selected strategies); a losing instrument shows red.",
            BY_SYMBOL,
            "{{symbol}}",
        ),
        (
            "Top five symbols",
            "The five instruments with the highest realized P&L net of fees.",
            f"topk(5, {BY_SYMBOL})",
            "{{symbol}}",
        ),
        (
            "Bottom five symbols",
            "The five instruments with the lowest realized P&L net of fees: where the losses are.",
            f"bottomk(5, {BY_SYMBOL})",
            "{{symbol}}",
        ),
        (
            "Realized P&L by strategy and symbol",
            "Cumulative realized P&L net of fees per strategy and instrument.",
            f"tradewatch_trading_symbol_realized_pnl{{{STRATEGY},{SYMBOL}}}",
            "{{strategy}} {{symbol}}",
        ),
        (
            "Unrealized P&L by symbol",
            "Mark-to-market P&L of each open position (latest position snapshots).",
            f"tradewatch_trading_symbol_unrealized_pnl{{{SYMBOL}}}",
            "{{symbol}}",
        ),
        (
            "Best and worst trade",
            "Largest gain and largest loss of a single closed trade (net of fees), per strategy, lifetime.",
            f"tradewatch_trading_trade_pnl_extreme{{{STRATEGY}}}",
            "{{strategy}} {{extreme}}",
        ),
    ):
        board = board.with_panel(bars(title, description, [q(expr, legend, instant=True)], w=8, thresholds=PNL))
    board = board.with_panel(
        heat(
            "Trade P&L distribution",
            "Closed trades per net P&L bucket (quote currency) over time, selected strategies.",
            [
                q(
                    f"sum by (le) (increase(tradewatch_trading_trade_pnl_bucket{{{STRATEGY}}}[$__rate_interval]))",
                    "{{le}}",
                    fmt="heatmap",
                )
            ],
            unit="none",
        )
    )
    board = board.with_panel(
        ts(
            "Win rate: last N trades, session, lifetime",
            "Winning closed trades / closed trades over the last analytics.trade_window trades "
            "(rolling), in the current trading session, and since the journal began (lifetime). "
            "A strategy that broke shows in the rolling and session lines long before the lifetime one.",
            [
                q(f"tradewatch_trading_rolling_win_rate_ratio{{{STRATEGY}}}", "rolling {{strategy}}"),
                q(f"tradewatch_trading_session_win_rate_ratio{{{STRATEGY}}}", "session {{strategy}}"),
                q(f"tradewatch_trading_win_rate_ratio{{{STRATEGY}}}", "lifetime {{strategy}}"),
            ],
            unit="percentunit",
            min_val=0,
            max_val=1,
        )
    )
    board = board.with_panel(
        ts(
            "Profit factor and expectancy: last N trades",
            "Gross gains / |gross losses| and the mean net P&L per trade over the last "
            "analytics.trade_window closed trades (the lifetime values are in Strategy statistics).",
            [
                q(f"tradewatch_trading_rolling_profit_factor{{{STRATEGY}}}", "profit factor {{strategy}}"),
                q(f"tradewatch_trading_rolling_expectancy{{{STRATEGY}}}", "expectancy {{strategy}}"),
            ],
            unit="short",
            w=12,
        )
    )
    board = board.with_panel(
        ts(
            "This session: profit factor, expectancy, trades",
            "The same statistics over the trades closed in the current trading session (session.boundary "
            "of the trading exporter), and how many trades the session and the rolling window hold.",
            [
                q(f"tradewatch_trading_session_profit_factor{{{STRATEGY}}}", "session profit factor {{strategy}}"),
                q(f"tradewatch_trading_session_expectancy{{{STRATEGY}}}", "session expectancy {{strategy}}"),
                q(f"tradewatch_trading_session_trades{{{STRATEGY}}}", "session trades {{strategy}}"),
                q(f"tradewatch_trading_rolling_trades{{{STRATEGY}}}", "trades in window {{strategy}}"),
            ],
            unit="short",
            w=12,
        )
    )
    return board


def costs(board: db.Dashboard, ctx: Context) -> db.Dashboard:
    board = board.with_row(row("Costs"))
    board = board.with_panel(
        ts(
            "Mean slippage (notional-weighted)",
            "Implementation shortfall in bps over 15 m per strategy and venue: (adverse - favourable "
            "slippage cost) / filled notional at the reference price; what MeanSlippageHigh compares "
            "with its level (dashed).",
            [
                q(
                    f"strategy_venue:tradewatch_trading_slippage_bps:mean_rate15m{{{STRATEGY},{VENUE}}}",
                    "{{strategy}} {{venue}}",
                )
            ],
            unit="none",
            w=8,
            thresholds=rising(None, ctx.t("mean_slippage_high_bps")),
            links=[ctx.runbook("MeanSlippageHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "Fees paid",
            "Fees of fills in quote currency per interval, by strategy and venue.",
            [
                q(
                    f"sum by (strategy, venue) (increase(tradewatch_trading_fees_paid_total{{{STRATEGY},{VENUE}}}"
                    "[$__rate_interval]))",
                    "{{strategy}} {{venue}}",
                )
            ],
            unit="short",
            w=8,
            bars=True,
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Execution cost per hour",
            "Fees and net slippage cost (adverse - favourable) in quote currency over the last hour.",
            [
                q(f"sum(strategy_venue:tradewatch_trading_fees_paid:increase1h{{{STRATEGY},{VENUE}}})", "fees"),
                q(
                    " - ".join(
                        f'sum(increase(tradewatch_trading_slippage_cost_total{{direction="{d}",{STRATEGY},{VENUE}}}[1h]))'
                        for d in ("adverse", "favourable")
                    ),
                    "slippage",
                ),
            ],
            unit="short",
            w=8,
        )
    )
    board = board.with_panel(
        ts(
            "Filled notional",
            "Filled quantity x reference price per interval by strategy and venue: the base mean "
            "slippage in bps is measured against.",
            [
                q(
                    "sum by (strategy, venue) "
                    f"(increase(tradewatch_trading_filled_notional_total{{{STRATEGY},{VENUE}}}[$__rate_interval]))",
                    "{{strategy}} {{venue}}",
                )
            ],
            unit="short",
            w=24,
        )
    )
    return board
