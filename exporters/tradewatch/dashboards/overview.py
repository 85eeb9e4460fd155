"""Overview folder: the desk at a glance, and the alerts board."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from tradewatch.dashboards.common import (
    ALERTMANAGER_NAME,
    GREEN,
    RED,
    Context,
    dashboard_link,
    falling,
    new_dashboard,
    onoff,
    q,
    query_var,
    rising,
    row,
    single,
    steps,
    tbl,
    ts,
)

FIRING = 'ALERTS{alertstate="firing"}'
# Daily loss as a share of the configured limit: 0 while the day is positive.
DAILY_LOSS_USED = (
    'clamp_min(-tradewatch_trading_daily_pnl{account=~"$account"}, 0)'
    ' / tradewatch_trading_daily_loss_limit{account=~"$account"}'
)


def overview(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "overview",
        "TradeWatch / Overview",
        "The desk at a glance: money, risk, alerts and whether the data feeding them is fresh.",
        ["overview"],
        ctx,
    )
    board = board.with_variable(_account_var())
    for key, title in (
        ("trading", "Trading"),
        ("execution", "Execution"),
        ("risk", "Risk"),
        ("model", "Models"),
        ("ai-cost", "AI cost"),
        ("data-quality", "Data quality"),
        ("system", "System"),
        ("logs", "Logs"),
        ("alerts", "Alerts"),
    ):
        board = board.link(dashboard_link(key, title))

    board = board.with_row(row("Money and risk"))
    board = board.with_panel(
        single(
            "Equity",
            "Latest account equity (sum over the selected accounts, each counted once however many "
            "trading exporters report it), in the account currency.",
            [q('sum(account:tradewatch_trading_equity:latest{account=~"$account"})', "equity")],
            unit="short",
            decimals=2,
            links=[dashboard_link("trading", "Trading & portfolio")],
        )
    )
    board = board.with_panel(
        single(
            "Daily P&L",
            "Equity minus equity at the start of the trading session (each account counted once).",
            [q('sum(account:tradewatch_trading_daily_pnl:latest{account=~"$account"})', "daily P&L")],
            unit="short",
            decimals=2,
            thresholds=steps((None, RED), (0, GREEN)),
            links=[dashboard_link("trading", "Trading & portfolio")],
        )
    )
    board = board.with_panel(
        single(
            "Daily loss limit used",
            "Today's loss as a share of the configured daily loss limit. Orange at the DailyLossNearLimit "
            "level, red at DailyLossLimitBreached (prometheus/thresholds.yml).",
            [q(f"max({DAILY_LOSS_USED})", "used")],
            unit="percentunit",
            thresholds=rising(ctx.t("daily_loss_near_ratio"), ctx.t("daily_loss_breach_ratio")),
            links=[
                ctx.runbook("DailyLossNearLimit"),
                ctx.runbook("DailyLossLimitBreached"),
                dashboard_link("risk", "Risk"),
            ],
        )
    )
    board = board.with_panel(
        single(
            "Drawdown",
            "1 - equity / high-water mark. Red at the DrawdownExcessive level.",
            [q('max(tradewatch_trading_drawdown_ratio{account=~"$account"})', "drawdown")],
            unit="percentunit",
            thresholds=rising(None, ctx.t("drawdown_excessive_ratio")),
            links=[ctx.runbook("DrawdownExcessive"), dashboard_link("risk", "Risk")],
        )
    )
    board = board.with_panel(
        single(
            "Kill switch",
            "Whether the trading kill switch is engaged right now.",
            [q("max(tradewatch_trading_kill_switch_active)", "kill switch")],
            mappings=onoff("OFF", "ENGAGED"),
            thresholds=steps((None, GREEN), (1, RED)),
            graph=False,
            links=[ctx.runbook("KillSwitchActivated"), dashboard_link("risk", "Risk")],
        )
    )
    board = board.with_panel(
        single(
            "Firing alerts",
            "Prometheus alerts firing now (all severities). Details on the Alerts dashboard.",
            [q(f"count({FIRING}) or vector(0)", "firing")],
            thresholds=steps((None, GREEN), (1, RED)),
            links=[dashboard_link("alerts", "Alerts")],
        )
    )

    board = board.with_row(row("Is the data trustworthy?"))
    board = board.with_panel(
        single(
            "Scrape targets down",
            "Prometheus targets whose last scrape failed (exporters, Alertmanager...).",
            [q("count(up == 0) or vector(0)", "down")],
            thresholds=steps((None, GREEN), (1, RED)),
            links=[ctx.runbook("ExporterDown"), dashboard_link("system", "System health")],
        )
    )
    board = board.with_panel(
        single(
            "Oldest market data",
            "Age of the stalest symbol's latest tick. Red at the MarketDataStale level.",
            [q("max(tradewatch_market_data_age_seconds)", "age")],
            unit="s",
            thresholds=rising(None, ctx.t("market_data_stale_seconds")),
            links=[ctx.runbook("MarketDataStale"), dashboard_link("data-quality", "Data quality")],
        )
    )
    board = board.with_panel(
        single(
            "Oldest heartbeat",
            "Age of the most silent component's heartbeat. Red at the ComponentDown level.",
            [q("max(tradewatch_heartbeat_age_seconds)", "age")],
            unit="s",
            thresholds=rising(None, ctx.t("heartbeat_max_age_seconds")),
            links=[ctx.runbook("ComponentDown"), dashboard_link("data-quality", "Data quality")],
        )
    )
    board = board.with_panel(
        single(
            "Worst model vs reference",
            "Lowest rolling accuracy / reference accuracy over the models "
            "(concept drift). Red below the ModelAccuracyDecline level.",
            [q("min(tradewatch_model_accuracy_vs_reference_ratio)", "ratio")],
            unit="percentunit",
            thresholds=falling(None, ctx.t("accuracy_vs_reference_low_ratio")),
            links=[ctx.runbook("ModelAccuracyDecline"), dashboard_link("model", "Model performance")],
        )
    )
    board = board.with_panel(
        single(
            "AI spend vs budget",
            "Projected monthly AI spend / monthly budget. Red at the AICostOverBudget level.",
            [
                q(
                    "sum(tradewatch_ai_projected_monthly_cost_usd) / sum(tradewatch_ai_monthly_budget_usd)",
                    "projected",
                )
            ],
            unit="percentunit",
            thresholds=rising(None, ctx.t("ai_budget_ratio")),
            links=[ctx.runbook("AICostOverBudget"), dashboard_link("ai-cost", "AI cost")],
        )
    )
    board = board.with_panel(
        single(
            "Events rejected",
            "Rejected events per second (5 m rate) of the worst exporter and reason. Red at the EventsRejected level.",
            [
                q(
                    "max(sum by (job, reason) (rate(tradewatch_events_rejected_total[5m]))) or vector(0)",
                    "rejected/s",
                )
            ],
            unit="ops",
            thresholds=rising(None, ctx.t("events_rejected_per_second")),
            links=[ctx.runbook("EventsRejected"), dashboard_link("data-quality", "Data quality")],
        )
    )

    board = board.with_row(row("Trends"))
    board = board.with_panel(
        ts(
            "Equity and high-water mark",
            "Equity per account and its high-water mark.",
            [
                q('tradewatch_trading_equity{account=~"$account"}', "equity {{account}}"),
                q('tradewatch_trading_high_water_mark{account=~"$account"}', "high-water mark {{account}}"),
            ],
            unit="short",
            w=12,
            links=[dashboard_link("trading", "Trading & portfolio")],
        )
    )
    board = board.with_panel(
        ts(
            "Alerts firing by severity",
            "Number of Prometheus alerts firing, by severity.",
            [q(f"sum by (severity) ({FIRING})", "{{severity}}")],
            unit="short",
            w=12,
            bars=True,
            links=[dashboard_link("alerts", "Alerts")],
        )
    )
    return board


def _account_var() -> db.QueryVariable:
    return query_var(
        "account",
        "Account",
        "label_values(tradewatch_trading_equity, account)",
        "Trading account (from the equity gauge).",
    )


def alerts(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "alerts",
        "TradeWatch / Alerts",
        "What is firing right now, from Alertmanager (silences and inhibitions applied) and from "
        "Prometheus' ALERTS series (history).",
        ["alerts"],
        ctx,
        refresh="10s",
        time_from="now-24h",
    )
    board = board.with_panel(
        db.Panel()
        .type("alertGroups")
        .title("Alertmanager: active alert groups")
        .description(
            "Alert groups as Alertmanager holds them (after routing, silences and inhibition). "
            "The alertGroups panel selects its Alertmanager by datasource name; the provisioned "
            f"datasource '{ALERTMANAGER_NAME}' has UID 'alertmanager'."
        )
        .options({"alertmanager": ALERTMANAGER_NAME, "expandAll": True, "labels": ""})
        .span(24)
        .height(10)
    )
    board = board.with_panel(
        tbl(
            "Firing alerts (Prometheus)",
            "Every alert instance firing now with its labels. Each alert's runbook is docs/runbooks/<alertname>.md.",
            [q(FIRING, instant=True, fmt="table")],
            w=24,
            h=8,
            hide=("Time", "__name__", "Value", "alertstate"),
        )
    )
    board = board.with_panel(
        ts(
            "Firing alerts over time",
            "Alert instances firing, by alert name.",
            [q(f"sum by (alertname) ({FIRING})", "{{alertname}}")],
            w=16,
            bars=True,
        )
    )
    board = board.with_panel(
        db.Panel()
        .type("alertlist")
        .title("Grafana-managed log alerts")
        .description("State of the Grafana-managed alert rules (the Loki log alerts in the TradeWatch folder).")
        .options(
            {
                "viewMode": "list",
                "groupMode": "default",
                "maxItems": 20,
                "sortOrder": 1,
                "dashboardAlerts": False,
                "alertName": "",
                "alertInstanceLabelFilter": "",
                "stateFilter": {
                    "firing": True,
                    "pending": True,
                    "noData": False,
                    "normal": True,
                    "error": True,
                },
            }
        )
        .span(8)
        .height(8)
    )
    board = board.link(
        db.DashboardLink("Alertmanager UI (Grafana)")
        .type(dm.DashboardLinkType.LINK)
        .url("/alerting/groups?alertmanager=" + ALERTMANAGER_NAME)
    )
    return board
