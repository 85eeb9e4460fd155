"""Platform folder: system health (host, components, probes, exporters) and logs (Loki)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from tradewatch.dashboards.common import (
    GREEN,
    LOKI,
    RED,
    Context,
    dashboard_link,
    falling,
    log_panel,
    lq,
    new_dashboard,
    onoff,
    q,
    query_var,
    rising,
    row,
    states,
    steps,
    tbl,
    ts,
)

COMPONENT = 'component=~"$component"'
PROBE = 'probe=~"$probe"'
# Log levels as written by tradewatch.core.logging (lower-case).
LEVELS = ("debug", "info", "warning", "error", "critical")


def system(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "system",
        "TradeWatch / System health",
        "Is the platform healthy? Scrape targets, host resources, the watched components and probes, "
        "and the exporters' own collectors and errors.",
        ["platform"],
        ctx,
    ).variables(
        [
            query_var(
                "component",
                "Component",
                "label_values(tradewatch_component_up, component)",
                "Watched process group (system exporter's component rules).",
            ),
            query_var("probe", "Probe", "label_values(tradewatch_probe_success, probe)", "TCP/HTTP probe."),
        ]
    )
    board = board.link(dashboard_link("logs", "Logs")).link(dashboard_link("data-quality", "Data quality"))

    board = board.with_row(row("Targets and exporters"))
    board = board.with_panel(
        tbl(
            "Scrape targets",
            "Every Prometheus target with its last scrape result (1 up, 0 down).",
            [q("up", instant=True, fmt="table")],
            thresholds=steps((None, RED), (1, GREEN)),
            hide=("Time", "__name__"),
            links=[ctx.runbook("ExporterDown"), ctx.runbook("TargetDown")],
        )
    )
    board = board.with_panel(
        ts(
            "Exporter errors",
            "Internal errors per second per exporter (5 m rate; 0 when none). Dashed: the "
            "ErrorRateHigh level (per exporter and kind).",
            [
                q(
                    "sum by (job) (rate(tradewatch_errors_total[5m])) or sum by (job) (tradewatch_build_info) * 0",
                    "{{job}}",
                )
            ],
            unit="ops",
            thresholds=rising(None, ctx.t("error_rate_high_per_second")),
            links=[ctx.runbook("ErrorRateHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "Collector duration",
            "Time each collector took during the latest scrape.",
            [q("tradewatch_scrape_collector_duration_seconds", "{{job}} {{collector}}")],
            unit="s",
        )
    )
    board = board.with_panel(
        tbl(
            "Collectors and versions",
            "Collector success during the latest scrape (1 ok) and exporter builds.",
            [
                q("min by (job, collector) (tradewatch_scrape_collector_success)", instant=True, fmt="table"),
                q("tradewatch_build_info", instant=True, fmt="table"),
            ],
            thresholds=steps((None, RED), (1, GREEN)),
            hide=("Time", "__name__", "Value #B"),
        )
    )

    board = board.with_row(row("Host"))
    cpu = "tradewatch_host_cpu_seconds_total"
    board = board.with_panel(
        ts(
            "CPU utilisation",
            "1 - idle share of CPU time (all CPUs, 5 m). Dashed: the HostHighCpu level.",
            [
                q(
                    f'1 - sum by (instance) (rate({cpu}{{mode="idle"}}[5m])) / sum by (instance) (rate({cpu}[5m]))',
                    "{{instance}}",
                )
            ],
            unit="percentunit",
            min_val=0,
            max_val=1,
            thresholds=rising(None, ctx.t("host_cpu_high_ratio")),
            links=[ctx.runbook("HostHighCpu")],
            w=8,
        )
    )
    board = board.with_panel(
        ts(
            "Memory in use",
            "1 - available / total memory. Orange: the HostHighMemory warning level (muted in quiet "
            "hours); red: the HostHighMemoryCritical level (pages at any hour).",
            [
                q(
                    "1 - tradewatch_host_memory_available_bytes / tradewatch_host_memory_total_bytes",
                    "{{instance}}",
                )
            ],
            unit="percentunit",
            min_val=0,
            max_val=1,
            thresholds=rising(ctx.t("host_memory_high_ratio"), ctx.t("host_memory_critical_ratio")),
            links=[ctx.runbook("HostHighMemory"), ctx.runbook("HostHighMemoryCritical")],
            w=8,
        )
    )
    board = board.with_panel(
        ts(
            "Load per CPU",
            "1, 5 and 15 minute load averages divided by the number of CPUs.",
            [q(f"tradewatch_host_load{m} / tradewatch_host_cpus", f"load{m}") for m in (1, 5, 15)],
            unit="short",
            w=8,
        )
    )
    fs = "tradewatch_host_filesystem"
    board = board.with_panel(
        ts(
            "Filesystem space available",
            "Share of each filesystem available to non-root users. Dashed: the DiskSpaceLow level.",
            [q(f"{fs}_avail_bytes / {fs}_size_bytes", "{{mountpoint}}")],
            unit="percentunit",
            min_val=0,
            max_val=1,
            thresholds=falling(None, ctx.t("disk_free_low_ratio")),
            links=[ctx.runbook("DiskSpaceLow")],
            w=8,
        )
    )
    hours = ctx.t("disk_predict_hours")
    board = board.with_panel(
        ts(
            f"Free space predicted in {hours:g} h",
            "Linear prediction of the available bytes from the last 6 h; below zero means DiskPredictedFull.",
            [q(f"predict_linear({fs}_avail_bytes[6h], {int(hours * 3600)})", "{{mountpoint}}")],
            unit="bytes",
            thresholds=steps((None, RED), (0, GREEN)),
            links=[ctx.runbook("DiskPredictedFull")],
            w=8,
        )
    )
    board = board.with_panel(
        ts(
            "Disk I/O",
            "Bytes read and written per second, by device.",
            [
                q("rate(tradewatch_host_disk_read_bytes_total[$__rate_interval])", "read {{device}}"),
                q("rate(tradewatch_host_disk_written_bytes_total[$__rate_interval])", "written {{device}}"),
            ],
            unit="Bps",
            w=8,
        )
    )
    net = "tradewatch_host_network"
    board = board.with_panel(
        ts(
            "Network traffic",
            "Bytes received and sent per second, by interface.",
            [
                q(f"rate({net}_receive_bytes_total[$__rate_interval])", "rx {{interface}}"),
                q(f"rate({net}_transmit_bytes_total[$__rate_interval])", "tx {{interface}}"),
            ],
            unit="Bps",
        )
    )
    board = board.with_panel(
        ts(
            "Network errors and drops",
            "Errors and drops per second over all interfaces.",
            [
                q(
                    f"sum(rate({net}_receive_errors_total[$__rate_interval]))"
                    f" + sum(rate({net}_transmit_errors_total[$__rate_interval]))",
                    "errors",
                ),
                q(
                    f"sum(rate({net}_receive_drop_total[$__rate_interval]))"
                    f" + sum(rate({net}_transmit_drop_total[$__rate_interval]))",
                    "drops",
                ),
            ],
            unit="pps",
        )
    )

    board = board.with_row(row("Components and probes"))
    board = board.with_panel(
        states(
            "Components up",
            "Whether at least one process matches each component's rule.",
            [q(f"tradewatch_component_up{{{COMPONENT}}}", "{{component}}")],
            mappings=onoff("DOWN", "up", GREEN, RED),
            thresholds=steps((None, RED), (1, GREEN)),
            links=[dashboard_link("data-quality", "Heartbeats")],
        )
    )
    board = board.with_panel(
        ts(
            "Component CPU",
            "CPU seconds per second of each component's processes (user + system).",
            [
                q(
                    f"sum by (component)"
                    f" (rate(tradewatch_component_cpu_seconds_total{{{COMPONENT}}}[$__rate_interval]))",
                    "{{component}}",
                )
            ],
            unit="percentunit",
        )
    )
    board = board.with_panel(
        ts(
            "Component memory",
            "Resident memory of each component's processes.",
            [q(f"tradewatch_component_resident_memory_bytes{{{COMPONENT}}}", "{{component}}")],
            unit="bytes",
        )
    )
    board = board.with_panel(
        ts(
            "Component threads and descriptors",
            "Threads and open file descriptors per component.",
            [
                q(f"tradewatch_component_threads{{{COMPONENT}}}", "threads {{component}}"),
                q(f"tradewatch_component_open_fds{{{COMPONENT}}}", "fds {{component}}"),
            ],
            unit="short",
        )
    )
    board = board.with_panel(
        states(
            "Probes",
            "Result of the last run of each TCP/HTTP probe.",
            [q(f"tradewatch_probe_success{{{PROBE}}}", "{{probe}} ({{kind}})")],
            mappings=onoff("FAIL", "ok", GREEN, RED),
            thresholds=steps((None, RED), (1, GREEN)),
            links=[ctx.runbook("ProbeFailing")],
        )
    )
    board = board.with_panel(
        ts(
            "Probe duration",
            "Duration of the last run of each probe.",
            [q(f"tradewatch_probe_duration_seconds{{{PROBE}}}", "{{probe}}")],
            unit="s",
        )
    )
    return board


def logs(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "logs",
        "TradeWatch / Logs",
        "What did the services say? Log volume by service and level, errors, and every line of one "
        "request or event by its correlation ID (Loki).",
        ["platform", "logs"],
        ctx,
        time_from="now-1h",
    )
    board = board.variables(
        [
            query_var(
                "service",
                "Service",
                "label_values(service)",
                "Service label set by the Alloy pipeline.",
                datasource=LOKI,
            ),
            db.CustomVariable("level")
            .label("Level")
            .description("Log level label.")
            .values(",".join(LEVELS))
            .include_all(True)
            .all_value(".+")
            .multi(True)
            .current(dm.VariableOption(selected=True, text="All", value="$__all")),
            db.TextBoxVariable("correlation_id")
            .label("Correlation ID")
            .description(
                "Correlation ID (structured metadata) to follow one request or event across services; "
                "the 'Correlation ID trail' panel stays empty until one is entered."
            ),
            db.TextBoxVariable("search").label("Line contains").description("Plain-text filter on the log line."),
        ]
    )
    board = board.link(dashboard_link("system", "System health"))
    sel = '{service=~"$service", level=~"$level"}'

    board = board.with_row(row("Volume"))
    board = board.with_panel(
        ts(
            "Log lines by level",
            "Lines per interval by level, selected services.",
            [lq(f"sum by (level) (count_over_time({sel} [$__auto]))", "{{level}}")],
            unit="short",
            stack=True,
            bars=True,
            datasource=LOKI,
        )
    )
    board = board.with_panel(
        ts(
            "Errors by service",
            "Error and critical lines per interval by service.",
            [
                lq(
                    'sum by (service) (count_over_time({service=~"$service", level=~"error|critical"} [$__auto]))',
                    "{{service}}",
                )
            ],
            unit="short",
            stack=True,
            bars=True,
            datasource=LOKI,
        )
    )
    board = board.with_panel(
        tbl(
            "Noisiest loggers",
            "Lines per logger (structured metadata) over the dashboard range.",
            [lq(f"topk(10, sum by (service, logger) (count_over_time({sel} [$__range])))")],
            w=24,
            h=6,
            datasource=LOKI,
            hide=("Time",),
        )
    )

    board = board.with_row(row("Lines"))
    board = board.with_panel(
        log_panel(
            "Logs",
            "Log lines of the selected services and levels, newest first, filtered by 'Line contains'.",
            [lq(f'{sel} |= "$search"', max_lines=1000)],
        )
    )
    board = board.with_panel(
        log_panel(
            "Correlation ID trail",
            "Every line, from any service, carrying the correlation ID entered above "
            "(structured metadata correlation_id). Empty until an ID is entered: a line without an ID "
            "is never shown here.",
            # `!= ""` first: with an empty text box `= "$correlation_id"` alone would select every
            # line that has no ID at all.
            [lq('{service=~".+"} | correlation_id != "" | correlation_id = "$correlation_id"', max_lines=1000)],
        )
    )
    return board
