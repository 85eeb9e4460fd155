"""Panels of the trading system's own health and of limits as desks set them (issue 12).

``system`` goes on Execution quality (errors, external API calls, the decision lifecycle);
``limits`` on Risk (limit usage per account, portfolio P&L against its levels, margin, volatility
against its limit, risk scores). ``execution`` and ``risk`` are those two dashboards with the
panels appended (build.py lists them).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from tradewatch.dashboards import trading
from tradewatch.dashboards.common import Context, bars, q, rising, row, ts

ACCOUNT = 'account=~"$account"'
SYMBOL = 'symbol=~"$symbol"'
CALLS = "tradewatch_trading_api_calls_total"
ERRORS = 'status_class=~"5xx|timeout|error"'


def system(board: db.Dashboard, ctx: Context) -> db.Dashboard:
    board = board.with_row(row("The trading system's own health"))
    board = board.with_panel(
        ts(
            "Errors by component and severity",
            "error events of the trading system per interval (the messages are in the trading exporter's "
            'log: event="trading_system_error"). One critical error pages.',
            [
                q(
                    "sum by (component, severity, kind) (increase(tradewatch_trading_errors_total[$__rate_interval]))",
                    "{{component}} {{severity}} {{kind}}",
                )
            ],
            unit="short",
            bars=True,
            stack=True,
            links=[ctx.runbook("TradingSystemCriticalError")],
        )
    )
    board = board.with_panel(
        ts(
            "API requests by provider and status class",
            "External API calls of the trading system per second (api_call events).",
            [q(f"sum by (provider, status_class) (rate({CALLS}[$__rate_interval]))", "{{provider}} {{status_class}}")],
            unit="reqps",
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "API error ratio",
            "Share of calls per provider ending in 5xx, a timeout or a transport error (5 m).",
            [q("provider:tradewatch_trading_api_calls_errors:ratio_rate5m", "{{provider}}")],
            unit="percentunit",
            thresholds=rising(None, ctx.t("api_error_high_ratio")),
            links=[ctx.runbook("ApiErrorRatioHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "API latency p95 / p99",
            "Latency quantiles of external calls per provider and endpoint group (5 m).",
            [
                q(
                    "provider_endpoint:tradewatch_trading_api_call_latency_seconds:quantile_rate5m",
                    "{{provider}} {{endpoint}} p{{quantile}}",
                )
            ],
            unit="s",
            thresholds=rising(None, ctx.t("api_latency_p95_seconds")),
            links=[ctx.runbook("ApiLatencyHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "API cache hit ratio",
            "Hits / lookups of the caches in front of external calls, per provider and endpoint group.",
            [
                q(
                    'sum by (provider, endpoint) (rate(tradewatch_trading_api_cache_lookups_total{result="hit"}'
                    "[$__rate_interval])) / sum by (provider, endpoint) "
                    "(rate(tradewatch_trading_api_cache_lookups_total[$__rate_interval]))",
                    "{{provider}} {{endpoint}}",
                )
            ],
            unit="percentunit",
            min_val=0,
            max_val=1,
        )
    )
    board = board.with_panel(
        ts(
            "Decisions: made, approved, executed",
            "Decision lifecycle events per second by stage (decision events), all providers.",
            [
                q(
                    "sum by (stage) (rate(tradewatch_trading_decisions_total[$__rate_interval]))",
                    "{{stage}}",
                )
            ],
            unit="ops",
        )
    )
    board = board.with_panel(
        ts(
            "Open decisions and confidence",
            "Decisions made and not yet executed, rejected, failed or expired; median confidence of decisions made.",
            [
                q("sum by (provider) (tradewatch_trading_open_decisions)", "open {{provider}}"),
                q(
                    "histogram_quantile(0.5, sum by (provider, le) "
                    "(rate(tradewatch_trading_decision_confidence_bucket[$__rate_interval])))",
                    "median confidence {{provider}}",
                ),
            ],
            unit="short",
        )
    )
    return board


def limits(board: db.Dashboard, ctx: Context) -> db.Dashboard:
    board = board.with_row(row("Limits as the desk set them"))
    board = board.with_panel(
        bars(
            "Limit usage",
            "Share of each limit used per account (1 = at the limit): daily loss, drawdown, take-profit, "
            "stop-loss; percentages resolved by the exporter (risk.accounts).",
            [q(f"tradewatch_trading_limit_usage_ratio{{{ACCOUNT}}}", "{{account}} {{limit}}", instant=True)],
            unit="percentunit",
            thresholds=rising(ctx.t("daily_loss_near_ratio"), 1.0),
            links=[ctx.runbook("PortfolioStopLossReached")],
        )
    )
    board = board.with_panel(
        ts(
            "Portfolio P&L against its levels",
            "Equity minus the initial balance, with the take-profit level and the stop-loss level (as a loss).",
            [
                q(f"tradewatch_trading_portfolio_pnl{{{ACCOUNT}}}", "P&L {{account}}"),
                q(f'tradewatch_trading_limit{{{ACCOUNT},limit="take_profit"}}', "take-profit {{account}}"),
                q(f'-tradewatch_trading_limit{{{ACCOUNT},limit="stop_loss"}}', "stop-loss {{account}}"),
                q(f'-tradewatch_trading_limit{{{ACCOUNT},limit="daily_loss"}}', "daily loss limit {{account}}"),
            ],
            unit="currencyUSD",
        )
    )
    board = board.with_panel(
        ts(
            "Margin usage",
            "Margin in use / equity per account (portfolio snapshots).",
            [q(f"tradewatch_trading_margin_usage_ratio{{{ACCOUNT}}}", "{{account}}")],
            unit="percentunit",
        )
    )
    board = board.with_panel(
        ts(
            "Risk scores",
            "Latest risk score by type, as the trading system scores it.",
            [q("tradewatch_trading_risk_score", "{{type}}")],
            unit="short",
            thresholds=rising(None, ctx.t("risk_score_high")),
            links=[ctx.runbook("RiskScoreHigh")],
        )
    )
    board = board.with_panel(
        bars(
            "Volatility against its limit",
            "Volatility / limit of each symbol's latest volatility breach.",
            [
                q(
                    f"tradewatch_trading_volatility{{{SYMBOL}}} / tradewatch_trading_volatility_limit{{{SYMBOL}}}",
                    "{{symbol}}",
                    instant=True,
                )
            ],
            unit="none",
            thresholds=rising(None, 1.0),
            links=[ctx.runbook("VolatilityBreach")],
        )
    )
    return board


def execution(ctx: Context) -> db.Dashboard:
    return system(trading.execution(ctx), ctx)


def risk(ctx: Context) -> db.Dashboard:
    return limits(trading.risk(ctx), ctx)
