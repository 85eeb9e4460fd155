"""PNG charts with matplotlib (Agg backend, no display needed).

One look, one colour per meaning across every chart (equity is always blue, limits always grey
dashed...), the period and time zone in every x-axis label, and periods without data shaded and
labelled "no data" while the line itself breaks (NaN), so a gap can never be read as a zero.
"""

from __future__ import annotations

import io
import math
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import itertools

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import PercentFormatter

from tradewatch.report.period import Period
from tradewatch.report.sections import Chart, Interval

COLORS = {
    "equity": "#1f5fa8",
    "drawdown": "#c0392b",
    "limit": "#7f7f7f",
    "budget": "#7f7f7f",
    "gain": "#2e8b57",
    "loss": "#c0392b",
    "p50": "#1f5fa8",
    "p95": "#e67e22",
    "p99": "#c0392b",
    "spend": "#8e44ad",
    "cpu": "#1f5fa8",
    "memory": "#2e8b57",
    "interval": "#c0392b",
    "gap": "#d9d9d9",
}
SERIES = ["#1f5fa8", "#e67e22", "#2e8b57", "#8e44ad", "#c0392b", "#17becf", "#7f7f7f", "#bcbd22"]
WIDTH, DPI = 9.0, 100


def color(role: str) -> str:
    if role.startswith("series"):
        return SERIES[int(role[6:] or 0) % len(SERIES)]
    return COLORS.get(role, SERIES[0])


def _dates(period: Period, t: np.ndarray) -> list[datetime]:
    return [datetime.fromtimestamp(float(x), period.tz) for x in t]


def _xaxis(ax, period: Period, *, label: bool) -> None:
    ax.set_xlim(_dates(period, np.array([period.start, period.end])))
    fmt = "%H:%M" if period.kind == "daily" else "%a %d"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt, tz=period.tz))
    if period.kind == "daily":
        ax.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, 3), tz=period.tz))
    else:
        ax.xaxis.set_major_locator(mdates.DayLocator(tz=period.tz))
    ax.grid(True, axis="both", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if label:
        ax.set_xlabel(f"{period.label()}  (time zone {period.zone})", fontsize=9)


def _shade(ax, period: Period, gaps: list[Interval], *, text: bool) -> None:
    for i, g in enumerate(gaps):
        a, b = _dates(period, np.array([g.start, g.end]))
        ax.axvspan(a, b, color=COLORS["gap"], alpha=0.6, hatch="//", linewidth=0, label="no data" if i == 0 else None)
        if text:
            ax.text(
                a + (b - a) / 2,
                0.02,
                "no data",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#555555",
                rotation=90,
            )


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def render(chart: Chart, period: Period) -> bytes:
    if chart.kind == "lines":
        return _lines(chart, period)
    if chart.kind == "bars":
        return _bars(chart, period)
    if chart.kind == "timeline":
        return _timeline(chart, period)
    raise ValueError(f"unknown chart kind {chart.kind!r}")


def _lines(chart: Chart, period: Period) -> bytes:
    n = len(chart.panels)
    fig, axes = plt.subplots(
        n,
        1,
        figsize=(WIDTH, 2.6 * n + 0.6),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [2] + [1] * (n - 1)} if n > 1 else None,
    )
    fig.suptitle(chart.title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    for i, (ax, panel) in enumerate(zip(axes[:, 0], chart.panels, strict=True)):
        for line in panel.lines:
            s = line.series
            ax.plot(
                _dates(period, s.t),
                s.v,
                color=color(line.role),
                linewidth=1.6,
                linestyle="--" if line.dashed else "-",
                label=line.label,
            )
        if panel.fill and panel.lines:
            s = panel.lines[0].series
            ax.fill_between(
                _dates(period, s.t),
                np.nan_to_num(s.v, nan=0.0),
                0,
                where=np.isfinite(s.v),
                color=color(panel.lines[0].role),
                alpha=0.2,
                linewidth=0,
            )
        for value, text, role in panel.hlines:
            ax.axhline(value, color=color(role), linestyle="--", linewidth=1.0, label=text)
        if panel.percent:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        if panel.invert:
            ax.invert_yaxis()
        ax.set_ylabel(panel.ylabel)
        _shade(ax, period, chart.gaps, text=i == 0)
        _xaxis(ax, period, label=i == n - 1)
        if not any(np.isfinite(line.series.v).any() for line in panel.lines):
            ax.text(
                0.5,
                0.5,
                "no data in this period",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="#555555",
            )
        elif len(panel.lines) > 1 or panel.hlines or chart.gaps:
            # Inside the axes: above them it ran into the figure title on one-panel charts.
            ax.legend(loc="best", fontsize=8, framealpha=0.85, ncol=min(5, len(panel.lines) + len(panel.hlines) + 1))
    return _png(fig)


def _bars(chart: Chart, period: Period) -> bytes:
    edges, values = chart.bars or ([], [])
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    fig.suptitle(chart.title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    starts = _dates(period, np.array(edges[:-1]))
    widths = [(b - a) / 86400 * 0.85 for a, b in itertools.pairwise(edges)]
    ok = [math.isfinite(v) for v in values]
    ax.bar(
        [s for s, k in zip(starts, ok, strict=True) if k],
        [v for v, k in zip(values, ok, strict=True) if k],
        width=[w for w, k in zip(widths, ok, strict=True) if k],
        align="edge",
        color=[COLORS["gain"] if v >= 0 else COLORS["loss"] for v, k in zip(values, ok, strict=True) if k],
    )
    missing = [(a, b) for a, b, k in zip(edges[:-1], edges[1:], ok, strict=True) if not k]
    _shade(ax, period, [Interval(a, b) for a, b in missing] or chart.gaps, text=True)
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_ylabel(chart.bar_label)
    _xaxis(ax, period, label=True)
    return _png(fig)


def _timeline(chart: Chart, period: Period) -> bytes:
    rows = chart.rows or [("(none)", [])]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.9 + 0.38 * len(rows) + 0.8))
    fig.suptitle(chart.title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    for y, (_, spans) in enumerate(rows):
        bars = [
            (
                mdates.date2num(datetime.fromtimestamp(x.start, period.tz)),
                max((x.end - x.start) / 86400, 60 / 86400),
            )
            for x in spans
        ]
        ax.broken_barh(bars, (y - 0.35, 0.7), color=COLORS["interval"])
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    _shade(ax, period, chart.gaps, text=False)
    _xaxis(ax, period, label=True)
    return _png(fig)
