"""Data folder: market data freshness and gaps, event ingestion, heartbeats."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from tradewatch.dashboards.common import (
    GREEN,
    ORANGE,
    RED,
    Context,
    bars,
    dashboard_link,
    new_dashboard,
    q,
    query_var,
    rising,
    row,
    states,
    ts,
)

SYMBOL = 'symbol=~"$symbol"'
COMPONENT = 'component=~"$component"'


def data_quality(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "data-quality",
        "TradeWatch / Data quality",
        "Is the input trustworthy? Market data freshness and gaps per symbol, events rejected by reason, "
        "and the heartbeats of the trading components.",
        ["data"],
        ctx,
    ).variables(
        [
            query_var(
                "symbol",
                "Symbol",
                "label_values(tradewatch_market_data_ticks_total, symbol)",
                "Instrument (from the tick counter).",
            ),
            query_var(
                "component",
                "Component",
                "label_values(tradewatch_heartbeat_age_seconds, component)",
                "Component sending heartbeats.",
            ),
        ]
    )
    board = board.link(dashboard_link("system", "System health"))

    board = board.with_row(row("Market data"))
    board = board.with_panel(
        ts(
            "Freshness per symbol",
            "Seconds since the latest tick was received, per symbol. Dashed: the MarketDataStale level.",
            [q(f"tradewatch_market_data_age_seconds{{{SYMBOL}}}", "{{symbol}}")],
            unit="s",
            thresholds=rising(None, ctx.t("market_data_stale_seconds")),
            links=[ctx.runbook("MarketDataStale")],
        )
    )
    board = board.with_panel(
        bars(
            "Current age per symbol",
            "Latest tick age per symbol, worst first.",
            [q(f"sort_desc(tradewatch_market_data_age_seconds{{{SYMBOL}}})", "{{symbol}}", instant=True)],
            unit="s",
            thresholds=rising(None, ctx.t("market_data_stale_seconds")),
            links=[ctx.runbook("MarketDataStale")],
        )
    )
    board = board.with_panel(
        ts(
            "Gaps per 10 minutes",
            "Gaps (consecutive ticks further apart than market_data.gap_seconds) per "
            "symbol in 10 m. Dashed: the MarketDataGaps level.",
            [
                q(
                    f"sum by (symbol) (increase(tradewatch_market_data_gaps_total{{{SYMBOL}}}[10m]))",
                    "{{symbol}}",
                )
            ],
            unit="short",
            thresholds=rising(None, ctx.t("market_data_gaps_per_10m")),
            links=[ctx.runbook("MarketDataGaps")],
        )
    )
    board = board.with_panel(
        ts(
            "Ticks per second",
            "Ticks or bars received per second, per symbol.",
            [
                q(
                    f"sum by (symbol) (rate(tradewatch_market_data_ticks_total{{{SYMBOL}}}[$__rate_interval]))",
                    "{{symbol}}",
                )
            ],
            unit="ops",
        )
    )
    board = board.with_panel(
        ts(
            "Exchange timestamp lag",
            "Now minus the exchange timestamp of the latest tick (clock skew plus feed delay).",
            [q(f"time() - tradewatch_market_data_last_tick_timestamp_seconds{{{SYMBOL}}}", "{{symbol}}")],
            unit="s",
            w=24,
        )
    )

    board = board.with_row(row("Event ingestion"))
    board = board.with_panel(
        ts(
            "Events rejected by reason",
            "Rejected events per second by exporter and bounded reason "
            "(invalid_json, missing_field, wrong_type, unauthorized, ...). Dashed: the EventsRejected level.",
            [q("sum by (job, reason) (rate(tradewatch_events_rejected_total[5m]))", "{{job}} {{reason}}")],
            unit="ops",
            thresholds=rising(None, ctx.t("events_rejected_per_second")),
            links=[ctx.runbook("EventsRejected")],
        )
    )
    board = board.with_panel(
        ts(
            "Events accepted by type",
            "Accepted events per second by exporter and event type.",
            [
                q(
                    "sum by (job, type) (rate(tradewatch_events_accepted_total[$__rate_interval]))",
                    "{{job}} {{type}}",
                )
            ],
            unit="ops",
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Duplicates and last event",
            "Duplicate events per second (acknowledged and ignored), and the "
            "seconds since each exporter last accepted an event.",
            [
                q(
                    "sum by (job) (rate(tradewatch_events_duplicate_total[$__rate_interval]))",
                    "duplicates/s {{job}}",
                ),
                q("time() - tradewatch_last_event_timestamp_seconds", "since last event (s) {{job}}"),
            ],
            unit="short",
        )
    )
    board = board.with_panel(
        ts(
            "Journal",
            "Size of each exporter's journal and the events since the last snapshot.",
            [
                q("tradewatch_journal_size_bytes", "bytes {{job}}"),
                q("tradewatch_journal_events", "events {{job}}"),
            ],
            unit="short",
        )
    )

    board = board.with_row(row("Heartbeats"))
    board = board.with_panel(
        ts(
            "Heartbeat age",
            "Seconds since each component's latest heartbeat. Dashed: the ComponentDown level.",
            [q(f"tradewatch_heartbeat_age_seconds{{{COMPONENT}}}", "{{component}}")],
            unit="s",
            thresholds=rising(None, ctx.t("heartbeat_max_age_seconds")),
            links=[ctx.runbook("ComponentDown")],
        )
    )
    status = "tradewatch_heartbeat_status"
    board = board.with_panel(
        states(
            "Reported status",
            "Each component's last reported status over time.",
            [
                q(
                    f'(2 * max by (component) ({status}{{status="down",{COMPONENT}}} == 1))'
                    f' or (max by (component) ({status}{{status="degraded",{COMPONENT}}} == 1))'
                    f' or (0 * max by (component) ({status}{{status="healthy",{COMPONENT}}} == 1))',
                    "{{component}}",
                )
            ],
            mappings=[
                dm.ValueMap(
                    options={
                        "0": dm.ValueMappingResult(text="healthy", color=GREEN, index=0),
                        "1": dm.ValueMappingResult(text="degraded", color=ORANGE, index=1),
                        "2": dm.ValueMappingResult(text="down", color=RED, index=2),
                    }
                )
            ],
            h=8,
            links=[ctx.runbook("ComponentDegraded")],
        )
    )
    return board
