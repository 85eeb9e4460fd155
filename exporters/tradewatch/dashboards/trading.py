"""Trading folder: trading & portfolio, execution quality, risk."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from tradewatch.dashboards import attribution, exemplars
from tradewatch.dashboards.common import (
    GREEN,
    ORANGE,
    RED,
    Context,
    bars,
    dashboard_link,
    falling,
    heat,
    new_dashboard,
    onoff,
    q,
    quantiles,
    query_var,
    rising,
    row,
    single,
    states,
    steps,
    ts,
)

ACCOUNT = 'account=~"$account"'
STRATEGY = 'strategy=~"$strategy"'
SYMBOL = 'symbol=~"$symbol"'
VENUE = 'venue=~"$venue"'


def _account() -> db.QueryVariable:
    return query_var(
        "account",
        "Account",
        "label_values(tradewatch_trading_equity, account)",
        "Trading account (from the equity gauge).",
    )


def _strategy() -> db.QueryVariable:
    return query_var(
        "strategy",
        "Strategy",
        "label_values(tradewatch_trading_orders_total, strategy)",
        "Strategy (from the order counters).",
    )


def _symbol() -> db.QueryVariable:
    return query_var(
        "symbol",
        "Symbol",
        "label_values(tradewatch_trading_orders_total, symbol)",
        "Instrument (from the order counters).",
    )


def _venue() -> db.QueryVariable:
    return query_var(
        "venue",
        "Venue",
        "label_values(tradewatch_trading_order_ack_latency_seconds_count, venue)",
        "Execution venue (from the acknowledgement latency histogram).",
    )


def trading(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "trading",
        "TradeWatch / Trading & portfolio",
        "Is the book making money, and how? Equity and P&L over time, positions and exposure, and the "
        "per-strategy statistics (win rate, profit factor, expectancy) with Sharpe and Sortino.",
        ["trading"],
        ctx,
    ).variables([_account(), _strategy(), _symbol()])
    board = board.link(dashboard_link("execution", "Execution quality")).link(dashboard_link("risk", "Risk"))

    board = board.with_row(row("Equity and P&L"))
    board = board.with_panel(
        ts(
            "Equity and high-water mark",
            "Latest equity per account and the highest equity seen.",
            [
                q(f"tradewatch_trading_equity{{{ACCOUNT}}}", "equity {{account}}"),
                q(f"tradewatch_trading_high_water_mark{{{ACCOUNT}}}", "high-water mark {{account}}"),
            ],
            unit="short",
        )
    )
    board = board.with_panel(
        ts(
            "Daily P&L",
            "Equity minus equity at the start of the trading session; the dashed line is minus "
            "the configured daily loss limit.",
            [
                q(f"tradewatch_trading_daily_pnl{{{ACCOUNT}}}", "daily P&L {{account}}"),
                q(f"-tradewatch_trading_daily_loss_limit{{{ACCOUNT}}}", "loss limit {{account}}"),
            ],
            unit="short",
            links=[dashboard_link("risk", "Risk")],
        )
    )
    board = board.with_panel(
        ts(
            "Realized P&L by strategy",
            "Cumulative realized P&L net of fees.",
            [q(f"tradewatch_trading_realized_pnl{{{STRATEGY}}}", "{{strategy}}")],
            unit="short",
            w=12,
        )
    )
    board = board.with_panel(
        ts(
            "Unrealized P&L",
            "Mark-to-market P&L of the open positions.",
            [q("sum(tradewatch_trading_unrealized_pnl)", "unrealized")],
            unit="short",
            w=12,
        )
    )

    board = board.with_row(row("Positions and exposure"))
    board = board.with_panel(
        bars(
            "Position value by symbol",
            "Signed market value of each open position.",
            [q(f"tradewatch_trading_position_value{{{SYMBOL}}}", "{{symbol}}", instant=True)],
            unit="short",
            w=8,
        )
    )
    board = board.with_panel(
        ts(
            "Exposure",
            "Gross, net, long and short exposure.",
            [q("tradewatch_trading_exposure", "{{kind}}")],
            unit="short",
            w=8,
        )
    )
    board = board.with_panel(
        single(
            "Open positions",
            "Symbols with a non-zero position.",
            [q("sum(tradewatch_trading_open_positions)", "open")],
            w=4,
            h=8,
        )
    )
    board = board.with_panel(
        single(
            "Leverage",
            "Gross exposure / equity.",
            [q("max(tradewatch_trading_leverage_ratio)", "leverage")],
            unit="x",
            decimals=2,
            w=4,
            h=8,
            links=[dashboard_link("risk", "Risk")],
        )
    )

    board = board.with_row(row("Strategy statistics"))
    board = board.with_panel(
        bars(
            "Win rate",
            "Winning closed trades / closed trades, per strategy.",
            [q(f"tradewatch_trading_win_rate_ratio{{{STRATEGY}}}", "{{strategy}}", instant=True)],
            unit="percentunit",
            min_val=0,
            max_val=1,
            w=6,
            thresholds=steps((None, RED), (0.5, GREEN)),
        )
    )
    board = board.with_panel(
        bars(
            "Profit factor",
            "Gross gains / |gross losses| per strategy; below 1 the strategy loses money.",
            [q(f"tradewatch_trading_profit_factor{{{STRATEGY}}}", "{{strategy}}", instant=True)],
            w=6,
            thresholds=steps((None, RED), (1, GREEN)),
        )
    )
    board = board.with_panel(
        bars(
            "Expectancy",
            "W x avg_win - (1 - W) x avg_loss per closed trade, per strategy.",
            [q(f"tradewatch_trading_expectancy{{{STRATEGY}}}", "{{strategy}}", instant=True)],
            unit="short",
            w=6,
            thresholds=steps((None, RED), (0, GREEN)),
        )
    )
    board = board.with_panel(
        bars(
            "Average holding time",
            "Mean holding time of closed trades, per strategy.",
            [
                q(
                    f"tradewatch_trading_average_holding_time_seconds{{{STRATEGY}}}",
                    "{{strategy}}",
                    instant=True,
                )
            ],
            unit="s",
            w=6,
        )
    )
    board = board.with_panel(
        ts(
            "Sharpe and Sortino",
            "Rolling annualised Sharpe and Sortino ratios of period returns (the "
            "annualisation factor is the trading exporter's analytics setting).",
            [
                q(f"tradewatch_trading_sharpe_ratio{{{ACCOUNT}}}", "Sharpe {{account}}"),
                q(f"tradewatch_trading_sortino_ratio{{{ACCOUNT}}}", "Sortino {{account}}"),
            ],
            unit="short",
        )
    )
    board = board.with_panel(
        ts(
            "Closed trades by exit reason",
            "Trades closed per interval, by exit reason.",
            [
                q(
                    f"sum by (exit_reason) (increase(tradewatch_trading_trades_closed_total{{{STRATEGY}}}"
                    "[$__rate_interval]))",
                    "{{exit_reason}}",
                )
            ],
            unit="short",
            bars=True,
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Signals by action",
            "Signals per second emitted by the strategies, by action.",
            [
                q(
                    f"sum by (action) (rate(tradewatch_trading_signals_total{{{STRATEGY}}}[$__rate_interval]))",
                    "{{action}}",
                )
            ],
            unit="ops",
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Signal confidence (median)",
            "Median signal confidence per strategy.",
            [
                q(
                    "histogram_quantile(0.5, sum by (le, strategy) "
                    f"(rate(tradewatch_trading_signal_confidence_bucket{{{STRATEGY}}}[$__rate_interval])))",
                    "{{strategy}}",
                )
            ],
            unit="percentunit",
            min_val=0,
            max_val=1,
        )
    )
    return attribution.pnl_sources(board, ctx)


def execution(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "execution",
        "TradeWatch / Execution quality",
        "Are orders getting done, fast and at a good price? Order rates, rejections by reason, fill "
        "ratio, acknowledgement and fill latency quantiles, slippage distribution.",
        ["trading", "execution"],
        ctx,
    ).variables([_strategy(), _symbol(), _venue()])
    board = board.link(dashboard_link("trading", "Trading & portfolio"))
    rejected = f'tradewatch_trading_orders_total{{status="rejected",{STRATEGY}}}'
    submitted = f'tradewatch_trading_orders_total{{status="submitted",{STRATEGY}}}'

    board = board.with_row(row("Orders"))
    board = board.with_panel(
        ts(
            "Order events by status",
            "Order lifecycle events per second, by status.",
            [
                q(
                    f"sum by (status) (rate(tradewatch_trading_orders_total{{{STRATEGY},{SYMBOL}}}[$__rate_interval]))",
                    "{{status}}",
                )
            ],
            unit="ops",
        )
    )
    board = board.with_panel(
        ts(
            "Rejection ratio by strategy",
            "Rejected / submitted orders over 5 m, per strategy (the OrderRejectionRateHigh expression). "
            "0 when nothing was rejected.",
            [
                q(
                    f"(sum by (strategy) (rate({rejected}[5m])) or sum by (strategy)"
                    f" (rate({submitted}[5m])) * 0)"
                    f" / sum by (strategy) (rate({submitted}[5m]))",
                    "{{strategy}}",
                )
            ],
            unit="percentunit",
            thresholds=rising(None, ctx.t("order_rejection_high_ratio")),
            links=[ctx.runbook("OrderRejectionRateHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "Rejections by reason and venue",
            "Rejected orders per interval, by venue and bounded reason code "
            "(insufficient_funds, risk_limit, rate_limited, venue_unavailable, kill_switch, ...).",
            [
                q(
                    f"sum by (venue, reason) (increase(tradewatch_trading_order_rejections_total{{{VENUE}}}"
                    "[$__rate_interval]))",
                    "{{venue}} {{reason}}",
                )
            ],
            unit="short",
            bars=True,
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Fill ratio",
            "Filled / submitted quantity over the exporter's fill window, per strategy. "
            "Red below the FillRatioLow level.",
            [q(f"tradewatch_trading_fill_ratio{{{STRATEGY}}}", "{{strategy}}")],
            unit="percentunit",
            min_val=0,
            max_val=1,
            thresholds=falling(None, ctx.t("fill_ratio_low_ratio")),
            links=[ctx.runbook("FillRatioLow")],
        )
    )

    board = board.with_row(row("Latency"))
    ack = f"tradewatch_trading_order_ack_latency_seconds_bucket{{{VENUE}}}"
    board = board.with_panel(
        ts(
            "Submit to acknowledge latency",
            "p50, p90 and p99 per venue. The dashed line is the ExecutionLatencyHigh p99 level.",
            exemplars.first(quantiles(ack, "venue", (0.5, 0.9, 0.99))),
            unit="s",
            thresholds=rising(None, ctx.t("execution_latency_p99_seconds")),
            links=[ctx.runbook("ExecutionLatencyHigh")],
        )
    )
    fill = f"tradewatch_trading_order_fill_latency_seconds_bucket{{{VENUE}}}"
    board = board.with_panel(
        ts(
            "Submit to fill latency",
            "p50 and p99 of the time from submission to the (last) fill, per venue.",
            exemplars.first(quantiles(fill, "venue", (0.5, 0.99))),
            unit="s",
        )
    )
    board = board.with_panel(
        ts(
            "Decision latency by provider",
            "p50 and p99 of the strategy's decision latency (model or AI provider).",
            exemplars.first(quantiles("tradewatch_trading_decision_latency_seconds_bucket", "provider", (0.5, 0.99))),
            unit="s",
            w=24,
        )
    )

    board = board.with_row(row("Slippage"))
    board = board.with_panel(
        ts(
            "Slippage by venue",
            "side x (fill - reference) / reference in basis points per venue, over 5 m; positive is "
            "worse than the decision price. The median is what SlippageHigh compares with its level "
            "(dashed); the quantiles come from the histogram buckets (-1000..1000 bps). The "
            "notional-weighted mean is in Costs.",
            exemplars.first(
                quantiles(f"tradewatch_trading_slippage_bps_bucket{{{VENUE}}}", "venue", (0.5, 0.95, 0.99), window="5m")
            ),
            unit="none",
            thresholds=rising(None, ctx.t("slippage_high_bps")),
            links=[ctx.runbook("SlippageHigh")],
        )
    )
    board = board.with_panel(
        heat(
            "Slippage distribution",
            "Fills per slippage bucket (bps) over time, all selected venues.",
            [
                q(
                    f"sum by (le) (increase(tradewatch_trading_slippage_bps_bucket{{{VENUE}}}[$__rate_interval]))",
                    "{{le}}",
                    fmt="heatmap",
                )
            ],
            unit="none",
        )
    )
    return attribution.costs(board, ctx)


def risk(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "risk",
        "TradeWatch / Risk",
        "How close are we to a limit? Drawdown and daily loss against their limits, concentration, "
        "leverage, per-symbol limit usage, circuit breakers and the kill switch history.",
        ["trading", "risk"],
        ctx,
    ).variables([_account(), _symbol()])
    board = board.link(dashboard_link("trading", "Trading & portfolio"))

    board = board.with_row(row("Limits"))
    board = board.with_panel(
        ts(
            "Drawdown against limits",
            "Current and maximum drawdown and the exporter's configured drawdown "
            "limit. Dashed: the DrawdownExcessive alert level.",
            [
                q(f"tradewatch_trading_drawdown_ratio{{{ACCOUNT}}}", "drawdown {{account}}"),
                q(f"tradewatch_trading_max_drawdown_ratio{{{ACCOUNT}}}", "max drawdown {{account}}"),
                q(f"tradewatch_trading_drawdown_limit_ratio{{{ACCOUNT}}}", "configured limit {{account}}"),
            ],
            unit="percentunit",
            thresholds=rising(None, ctx.t("drawdown_excessive_ratio")),
            links=[ctx.runbook("DrawdownExcessive")],
        )
    )
    board = board.with_panel(
        ts(
            "Daily loss limit used",
            "Today's loss / configured daily loss limit. Dashed: DailyLossNearLimit "
            "(warning) and DailyLossLimitBreached (critical).",
            [
                q(
                    f"clamp_min(-tradewatch_trading_daily_pnl{{{ACCOUNT}}}, 0)"
                    f" / tradewatch_trading_daily_loss_limit{{{ACCOUNT}}}",
                    "{{account}}",
                )
            ],
            unit="percentunit",
            thresholds=rising(ctx.t("daily_loss_near_ratio"), ctx.t("daily_loss_breach_ratio")),
            links=[ctx.runbook("DailyLossNearLimit"), ctx.runbook("DailyLossLimitBreached")],
        )
    )
    board = board.with_panel(
        bars(
            "Position limit usage",
            "Position / position limit per symbol. Red at the PositionLimitUsageHigh level.",
            [q(f"tradewatch_trading_position_limit_usage_ratio{{{SYMBOL}}}", "{{symbol}}", instant=True)],
            unit="percentunit",
            min_val=0,
            max_val=1,
            thresholds=rising(None, ctx.t("position_limit_usage_high_ratio")),
            links=[ctx.runbook("PositionLimitUsageHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "Concentration",
            "Largest and top-3 position share of gross exposure, and the Herfindahl index. "
            "Dashed: the ConcentrationHigh level (applies to 'largest').",
            [q("tradewatch_trading_concentration_ratio", "{{measure}}")],
            unit="percentunit",
            thresholds=rising(None, ctx.t("concentration_high_ratio")),
            links=[ctx.runbook("ConcentrationHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "Leverage",
            "Gross exposure / equity.",
            [q("tradewatch_trading_leverage_ratio", "leverage")],
            unit="x",
        )
    )
    board = board.with_panel(
        ts(
            "Risk scores",
            "Latest risk score reported by the strategy, by risk type.",
            [q("tradewatch_trading_risk_score", "{{type}}")],
            unit="short",
        )
    )

    board = board.with_row(row("Circuit breakers and kill switch"))
    breaker = "tradewatch_trading_circuit_breaker_state"
    board = board.with_panel(
        states(
            "Circuit breakers",
            "State of each circuit breaker over time: closed, half open, open.",
            [
                q(
                    f'(2 * max by (service) ({breaker}{{state="open"}} == 1))'
                    f' or (max by (service) ({breaker}{{state="half_open"}} == 1))'
                    f' or (0 * max by (service) ({breaker}{{state="closed"}} == 1))',
                    "{{service}}",
                )
            ],
            mappings=[
                dm.ValueMap(
                    options={
                        "0": dm.ValueMappingResult(text="closed", color=GREEN, index=0),
                        "1": dm.ValueMappingResult(text="half open", color=ORANGE, index=1),
                        "2": dm.ValueMappingResult(text="open", color=RED, index=2),
                    }
                )
            ],
            links=[ctx.runbook("CircuitBreakerOpen")],
        )
    )
    board = board.with_panel(
        states(
            "Kill switch",
            "Kill switch engaged (red) or off (green) over time.",
            [q("max(tradewatch_trading_kill_switch_active)", "kill switch")],
            mappings=onoff("off", "ENGAGED"),
            links=[ctx.runbook("KillSwitchActivated")],
        )
    )
    board = board.with_panel(
        ts(
            "Kill switch activations by reason",
            "Activations per interval, by reason (daily_loss, drawdown, manual, volatility, error_rate, other).",
            [
                q(
                    "sum by (reason) (increase(tradewatch_trading_kill_switch_activations_total[$__rate_interval]))",
                    "{{reason}}",
                )
            ],
            unit="short",
            bars=True,
            stack=True,
            links=[ctx.runbook("KillSwitchActivated")],
        )
    )
    board = board.with_panel(
        ts(
            "Circuit breaker transitions",
            "Transitions into each state per interval.",
            [
                q(
                    "sum by (service, state) (increase(tradewatch_trading_circuit_breaker_transitions_total"
                    "[$__rate_interval]))",
                    "{{service}} -> {{state}}",
                )
            ],
            unit="short",
            bars=True,
        )
    )
    board = board.with_panel(
        ts(
            "Volatility breaches",
            "Volatility limit breaches per interval, by symbol.",
            [
                q(
                    f"sum by (symbol) (increase(tradewatch_trading_volatility_breaches_total{{{SYMBOL}}}"
                    "[$__rate_interval]))",
                    "{{symbol}}",
                )
            ],
            unit="short",
            bars=True,
            w=24,
        )
    )
    return board
