"""Shared building blocks for the TradeWatch dashboards (grafana-foundation-sdk builders).

Every dashboard is built from these helpers so that datasource references (by UID only), units,
threshold colours, runbook links and the navigation bar stay identical everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    heatmap,
    logs,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import loki as lokiq
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from tradewatch.dashboards import DEFAULT_RUNBOOK_BASE

# Fixed datasource UIDs; grafana/provisioning/datasources/datasources.yml declares the same ones.
PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"
ALERTMANAGER_UID = "alertmanager"
ALERTMANAGER_NAME = "Alertmanager"
PROM = dm.DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)
LOKI = dm.DataSourceRef(type_val="loki", uid=LOKI_UID)

# Dashboard UIDs are referenced by alert annotations (dashboard_url) and by links: never rename.
UIDS = {
    "overview": "tradewatch-overview",
    "trading": "tradewatch-trading",
    "execution": "tradewatch-execution",
    "risk": "tradewatch-risk",
    "model": "tradewatch-model",
    "ai-cost": "tradewatch-ai-cost",
    "data-quality": "tradewatch-data-quality",
    "system": "tradewatch-system",
    "logs": "tradewatch-logs",
    "alerts": "tradewatch-alerts",
}
TAG = "tradewatch"


def docs_base(runbook_base: str) -> str:
    """The docs/ URL the runbook base lives under (log alert runbooks are in docs/dashboards.md)."""
    return runbook_base.removesuffix("runbooks/")


GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


@dataclass
class Context:
    """Inputs shared by every dashboard builder: thresholds and the runbook base URL."""

    thresholds: dict[str, float]
    runbook_base: str = DEFAULT_RUNBOOK_BASE
    alerts: set[str] = field(default_factory=set)

    def t(self, key: str) -> float:
        return self.thresholds[key]

    def runbook(self, alert: str) -> db.DashboardLink:
        return (
            db.DashboardLink(f"Runbook: {alert}")
            .type(dm.DashboardLinkType.LINK)
            .url(f"{self.runbook_base}{alert}.md")
            .target_blank(True)
        )


def dashboard_link(key: str, title: str) -> db.DashboardLink:
    """Link to another TradeWatch dashboard that carries the time range and variables along."""
    return (
        db.DashboardLink(title)
        .type(dm.DashboardLinkType.LINK)
        .url(f"/d/{UIDS[key]}")
        .keep_time(True)
        .include_vars(True)
    )


def steps(*pairs: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute threshold steps; the first pair's value is None (the base colour)."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in pairs])
    )


def rising(warn: float | None, crit: float | None) -> db.ThresholdsConfig:
    """Green below warn, orange from warn, red from crit (higher is worse)."""
    pairs: list[tuple[float | None, str]] = [(None, GREEN)]
    if warn is not None:
        pairs.append((warn, ORANGE))
    if crit is not None:
        pairs.append((crit, RED))
    return steps(*pairs)


def falling(warn: float | None, crit: float | None) -> db.ThresholdsConfig:
    """Red below crit, orange below warn, green above (lower is worse)."""
    if warn is None:
        return steps((None, RED), (crit, GREEN))
    if crit is None:
        return steps((None, ORANGE), (warn, GREEN))
    return steps((None, RED), (crit, ORANGE), (warn, GREEN))


def q(expr: str, legend: str = "", instant: bool = False, fmt: str | None = None) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(PROM)
    if legend:
        query = query.legend_format(legend)
    query = query.instant() if instant else query.range()
    if fmt:
        query = query.format(fmt)  # type: ignore[arg-type]
    return query


def quantiles(
    bucket: str, by: str, pcts: Sequence[float] = (0.5, 0.99), window: str = "$__rate_interval"
) -> list[prometheus.Dataquery]:
    """One histogram_quantile() target per quantile of a Prometheus histogram, split by one label."""
    return [
        q(
            f"histogram_quantile({p}, sum by (le, {by}) (rate({bucket}[{window}])))",
            f"p{round(p * 100)} {{{{{by}}}}}",
        )
        for p in pcts
    ]


def lq(expr: str, legend: str = "", max_lines: int | None = None) -> lokiq.Dataquery:
    query = lokiq.Dataquery().expr(expr).datasource(LOKI).query_type("range")
    if legend:
        query = query.legend_format(legend)
    if max_lines:
        query = query.max_lines(max_lines)
    return query


def _with_targets(panel: Any, targets: Sequence[cogbuilder.Builder[Any]]) -> Any:
    for i, target in enumerate(targets):
        target.ref_id(chr(ord("A") + i))
        panel = panel.with_target(target)
    return panel


def _common(
    panel: Any,
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder[Any]],
    unit: str | None,
    w: int,
    h: int,
    links: Iterable[db.DashboardLink],
    thresholds: db.ThresholdsConfig | None,
    datasource: dm.DataSourceRef = PROM,
    min_val: float | None = None,
    max_val: float | None = None,
    decimals: int | None = None,
) -> Any:
    panel = panel.title(title).description(description).datasource(datasource).span(w).height(h)
    panel = _with_targets(panel, targets)
    if unit:
        panel = panel.unit(unit)
    links = list(links)
    if links:
        panel = panel.links(links)
    if thresholds is not None:
        panel = panel.thresholds(thresholds)
    if min_val is not None:
        panel = panel.min(min_val)
    if max_val is not None:
        panel = panel.max(max_val)
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def ts(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder[Any]],
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    links: Iterable[db.DashboardLink] = (),
    thresholds: db.ThresholdsConfig | None = None,
    stack: bool = False,
    bars: bool = False,
    min_val: float | None = None,
    max_val: float | None = None,
    datasource: dm.DataSourceRef = PROM,
) -> timeseries.Panel:
    """Time series; thresholds, when given, are drawn as dashed lines (the alert levels)."""
    panel = _common(
        timeseries.Panel(),
        title,
        description,
        targets,
        unit,
        w,
        h,
        links,
        thresholds,
        datasource,
        min_val,
        max_val,
    )
    panel = panel.legend(
        cb.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
    )
    panel = panel.fill_opacity(10).line_width(1)
    if thresholds is not None:
        panel = panel.thresholds_style(cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    if stack:
        panel = panel.stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    return panel


def single(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder[Any]],
    unit: str = "short",
    w: int = 4,
    h: int = 4,
    links: Iterable[db.DashboardLink] = (),
    thresholds: db.ThresholdsConfig | None = None,
    mappings: list[Any] | None = None,
    decimals: int | None = None,
    graph: bool = True,
    calc: str = "lastNotNull",
) -> stat.Panel:
    """Stat panel with a sparkline, coloured by thresholds."""
    panel = _common(stat.Panel(), title, description, targets, unit, w, h, links, thresholds, decimals=decimals)
    panel = panel.color_mode(common.BigValueColorMode.BACKGROUND if thresholds else common.BigValueColorMode.VALUE)
    panel = panel.graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
    panel = panel.reduce_options(cb.ReduceDataOptions().calcs([calc]).values(False))
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def bars(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder[Any]],
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    links: Iterable[db.DashboardLink] = (),
    thresholds: db.ThresholdsConfig | None = None,
    min_val: float | None = None,
    max_val: float | None = None,
) -> bargauge.Panel:
    panel = _common(
        bargauge.Panel(),
        title,
        description,
        targets,
        unit,
        w,
        h,
        links,
        thresholds,
        min_val=min_val,
        max_val=max_val,
    )
    panel = panel.display_mode(common.BarGaugeDisplayMode.GRADIENT).orientation(common.VizOrientation.HORIZONTAL)
    return panel.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))


def tbl(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder[Any]],
    unit: str | None = None,
    w: int = 12,
    h: int = 8,
    links: Iterable[db.DashboardLink] = (),
    thresholds: db.ThresholdsConfig | None = None,
    hide: Sequence[str] = ("Time",),
    datasource: dm.DataSourceRef = PROM,
) -> table.Panel:
    """Table of instant vectors; columns listed in ``hide`` are dropped by an organize transform."""
    panel = _common(table.Panel(), title, description, targets, unit, w, h, links, thresholds, datasource)
    if hide:
        panel = panel.with_transformation(
            dm.DataTransformerConfig(id_val="organize", options={"excludeByName": dict.fromkeys(hide, True)})
        )
    return panel


def states(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder[Any]],
    mappings: list[Any],
    w: int = 12,
    h: int = 6,
    links: Iterable[db.DashboardLink] = (),
    thresholds: db.ThresholdsConfig | None = None,
) -> statetimeline.Panel:
    panel = _common(statetimeline.Panel(), title, description, targets, None, w, h, links, thresholds)
    return panel.mappings(mappings).show_value(common.VisibilityMode.NEVER)


def heat(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder[Any]],
    unit: str,
    w: int = 12,
    h: int = 8,
    links: Iterable[db.DashboardLink] = (),
) -> heatmap.Panel:
    """Heatmap of a Prometheus histogram (targets must use format=heatmap)."""
    panel = _common(heatmap.Panel(), title, description, targets, None, w, h, links, None)
    return panel.calculate(False).y_axis(heatmap.YAxisConfig().unit(unit))


def log_panel(
    title: str, description: str, targets: Sequence[cogbuilder.Builder[Any]], w: int = 24, h: int = 12
) -> logs.Panel:
    panel = _common(logs.Panel(), title, description, targets, None, w, h, (), None, LOKI)
    return (
        panel.show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(common.LogsSortOrder.DESCENDING)
        .prettify_log_message(False)
    )


def onoff(off_text: str, on_text: str, on_color: str = RED, off_color: str = GREEN) -> list[Any]:
    """Value mapping for 0/1 gauges."""
    return [
        dm.ValueMap(
            options={
                "0": dm.ValueMappingResult(text=off_text, color=off_color, index=0),
                "1": dm.ValueMappingResult(text=on_text, color=on_color, index=1),
            }
        )
    ]


def query_var(
    name: str,
    label: str,
    query: str,
    description: str,
    multi: bool = True,
    datasource: dm.DataSourceRef = PROM,
) -> db.QueryVariable:
    """A label_values() variable with an All option that matches everything (regex .*)."""
    var = (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(datasource)
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(multi)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )
    return var


def row(title: str, collapsed: bool = False) -> db.Row:
    return db.Row(title).collapsed(collapsed)


def new_dashboard(
    key: str,
    title: str,
    description: str,
    tags: Sequence[str],
    ctx: Context,
    refresh: str = "30s",
    time_from: str = "now-6h",
) -> db.Dashboard:
    """Dashboard with the shared settings: UID, tags, time, refresh, navigation links."""
    board = (
        db.Dashboard(title)
        .uid(UIDS[key])
        .description(description)
        .tags([TAG, *tags])
        .time(time_from, "now")
        .refresh(refresh)
        .timezone("browser")
        .editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .timepicker(db.TimePicker().refresh_intervals(["10s", "30s", "1m", "5m", "15m"]))
    )
    # One dropdown listing every TradeWatch dashboard (by tag) plus a direct link home.
    board = board.link(
        db.DashboardLink("TradeWatch")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .keep_time(True)
        .include_vars(False)
    )
    if key != "overview":
        board = board.link(dashboard_link("overview", "Overview"))
    return board
