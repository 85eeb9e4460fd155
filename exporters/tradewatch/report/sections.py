"""What a report says: one builder per section, each turning PromQL results into numbers, tables,
sentences and chart specifications.

Every number is the result of a PromQL expression evaluated at the end of the period (``[R]`` is
the whole period), so a reader can check it in Prometheus; the expressions are kept in the JSON
document next to the values. Interval questions (when did an alert fire, when was there no data)
are answered from ``*_over_time(...[resolution])`` range queries stepped at the resolution.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tradewatch.core import logging as twlog
from tradewatch.report.period import Period
from tradewatch.report.query import (
    Interval,
    Prometheus,
    PrometheusError,
    Series,
    gaps,
    mask,
    windows_to_intervals,
)

log = twlog.get_logger("tradewatch.report")


# --------------------------------------------------------------------------- chart specifications


@dataclass
class Line:
    label: str
    series: Series
    role: str = ""  # colour role, see charts.COLORS
    dashed: bool = False


@dataclass
class Panel:
    ylabel: str
    lines: list[Line] = field(default_factory=list)
    hlines: list[tuple[float, str, str]] = field(default_factory=list)  # value, label, role
    fill: bool = False  # shade under the first line (drawdown)
    percent: bool = False
    invert: bool = False


@dataclass
class Chart:
    name: str  # file stem, e.g. equity_drawdown
    title: str
    kind: str  # lines | bars | timeline
    panels: list[Panel] = field(default_factory=list)
    bars: tuple[list[float], list[float]] | None = None  # bucket edges, values
    bar_label: str = ""
    rows: list[tuple[str, list[Interval]]] = field(default_factory=list)
    gaps: list[Interval] = field(default_factory=list)


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    id: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)  # headline label, formatted value
    data: dict[str, Any] = field(default_factory=dict)  # JSON numbers
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    error: str | None = None


SECTION_TITLES = {
    "coverage": "Data coverage",
    "equity": "Equity curve and drawdown",
    "pnl": "P&L",
    "attribution": "Where the P&L came from, and what execution cost",
    "comparison": "Against the previous period",
    "performance": "Win rate, profit factor, Sharpe and Sortino",
    "execution": "Execution quality",
    "risk": "Risk events",
    "limits": "Risk limits: usage in percent",
    "api_health": "API health of the trading system",
    "errors": "Errors the trading system reported",
    "decisions": "Decisions: made, approved, executed, open",
    "alerts": "Alerts",
    "model": "Model accuracy, calibration and drift",
    "model_versions": "Model versions: changes and what changed with them",
    "ai_spend": "AI spend against budget",
    "freshness": "Data freshness incidents",
    "system": "System health",
}


# --------------------------------------------------------------------------- formatting


def fnum(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def fmoney(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+,.2f}"


def fpct(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x * 100:.{digits}f}%"


def fdur(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def jnum(x: float | None) -> float | None:
    """JSON has no NaN: missing numbers are null."""
    return None if x is None or not math.isfinite(x) else round(float(x), 10)


def finite_last(s: Series) -> float:
    ok = np.isfinite(s.v)
    return float(s.v[ok][-1]) if ok.any() else math.nan


def finite_first(s: Series) -> float:
    ok = np.isfinite(s.v)
    return float(s.v[ok][0]) if ok.any() else math.nan


# --------------------------------------------------------------------------- builder


@dataclass
class Options:
    exporters: list[str]
    stale_market_data: float = 60.0
    stale_heartbeat: float = 120.0
    drift_psi_major: float = 0.25
    ignore_alerts: tuple[str, ...] = ("Watchdog", "InfoInhibitor")


class Builder:
    def __init__(self, prom: Prometheus, period: Period, options: Options):
        self.prom = prom
        self.p = period
        self.o = options
        self.R = period.range
        self.E = period.end
        self.coverage: dict[str, list[Interval]] = {}
        self.queries: dict[str, str] = {}

    # ---- query helpers that remember the expression behind each number
    def value(self, key: str, expr: str) -> float:
        self.queries[key] = expr
        return self.prom.value(expr, self.E)

    def by(self, key: str, expr: str, *labels: str) -> dict[str, float]:
        self.queries[key] = expr
        return self.prom.by(expr, self.E, *labels)

    def chart_series(self, expr: str, exporter: str) -> list[Series]:
        """Chart data, with the exporter's coverage gaps cut out (never drawn as zero)."""
        g = self.coverage.get(exporter, [])
        return [mask(s, g) for s in self.prom.range(expr, self.p.start, self.E, self.p.chart_step)]

    def chart_one(self, expr: str, exporter: str) -> Series:
        result = self.chart_series(expr, exporter)
        return (
            result[0]
            if result
            else mask(
                self.prom.range_one(expr, self.p.start, self.E, self.p.chart_step),
                self.coverage.get(exporter, []),
            )
        )

    def intervals(self, expr: str, keep: Callable[[np.ndarray], np.ndarray], *labels: str) -> dict[str, list[Interval]]:
        """Intervals where ``keep(value)`` holds, per label set, from a resolution-stepped range query."""
        res = self.p.resolution
        out: dict[str, list[Interval]] = {}
        for s in self.prom.range(expr, self.p.start + res, self.E, res):
            with np.errstate(invalid="ignore"):
                flag = keep(s.v) & np.isfinite(s.v)
            found = windows_to_intervals(s.t, flag, res, self.p.start, self.E)
            if found:
                out[s.label(*labels)] = found
        return out

    def gap_words(self, exporter: str) -> list[str]:
        words = []
        for g in self.coverage.get(exporter, []):
            if g.open_start and g.open_end:
                words.append(f"No data from the {exporter} exporter during the whole period.")
            else:
                words.append(
                    f"No data from the {exporter} exporter from {self.p.span(g.start, g.end)} ({fdur(g.seconds)})."
                )
        return words

    def build(self) -> list[Section]:
        from tradewatch.report import desk, health, model_versions  # they build on this module's Section

        sections = []
        for sid, func in [
            ("coverage", self.s_coverage),
            ("equity", self.s_equity),
            ("pnl", self.s_pnl),
            ("attribution", lambda sec: desk.s_attribution(self, sec)),
            ("comparison", lambda sec: desk.s_comparison(self, sec)),
            ("performance", self.s_performance),
            ("execution", self.s_execution),
            ("risk", self.s_risk),
            ("limits", lambda sec: health.s_limits(self, sec)),
            ("api_health", lambda sec: health.s_api_health(self, sec)),
            ("errors", lambda sec: health.s_errors(self, sec)),
            ("decisions", lambda sec: health.s_decisions(self, sec)),
            ("alerts", self.s_alerts),
            ("model", self.s_model),
            ("model_versions", lambda sec: model_versions.s_model_versions(self, sec)),
            ("ai_spend", self.s_ai_spend),
            ("freshness", self.s_freshness),
            ("system", self.s_system),
        ]:
            section = Section(sid, SECTION_TITLES[sid])
            try:
                func(section)
            except PrometheusError as exc:
                if sid == "coverage":
                    raise  # Prometheus unreachable: there is no report to send
                section.error = str(exc)
                log.error("report section failed", section=sid, error=str(exc))
            sections.append(section)
        return sections

    # ---- sections

    def s_coverage(self, sec: Section) -> None:
        res = self.p.resolution
        expr = f"max by (exporter) (count_over_time(tradewatch_build_info[{int(res)}s]))"
        self.queries["coverage"] = expr
        found = self.prom.range(expr, self.p.start + res, self.E, res)
        rows = []
        for name in self.o.exporters:
            matching = [s for s in found if name in s.labels.get("exporter", "")]
            if matching:
                counts = np.fmax.reduce(np.vstack([s.v for s in matching]), axis=0)
                t = matching[0].t
            else:
                t = found[0].t if found else np.array([self.E])
                counts = np.zeros(t.shape)
            g = gaps(t, counts, res, self.p.start, self.E)
            self.coverage[name] = g
            missing = sum(x.seconds for x in g)
            rows.append([name, fpct(1 - missing / self.p.seconds), len(g), fdur(missing)])
            sec.data[name] = {
                "covered_ratio": jnum(1 - missing / self.p.seconds),
                "gaps": [_interval_json(x) for x in g],
            }
            sec.notes.extend(self.gap_words(name))
        sec.tables.append(Table("Exporters", ["exporter", "data coverage", "gaps", "time without data"], rows))
        # A stack started during the period (the first report of a fresh install): say how much of
        # the period has data at all, before a reader takes the grey charts for an outage.
        first = [g[0].end if g and g[0].open_start else self.p.start for g in self.coverage.values()]
        since = min(first) if first else self.p.end
        sec.data["data_since"] = since if since > self.p.start else None
        if since > self.p.start:
            have = self.p.end - since
            text = (
                "No exporter reported in this period."
                if have <= 0
                else f"The stack has data only since {self.p.when(since)}: {fdur(have)} of this "
                f"{fdur(self.p.seconds)} period; the figures cover that time."
            )
            sec.notes.insert(0, text)
            sec.figures.append(("Period with data", fdur(max(have, 0.0))))
        if not any(self.coverage.values()):
            sec.notes.append("Every exporter reported data for the whole period.")

    def _accounts(self) -> dict[str, Series]:
        """Equity per account on the chart grid (exporter gaps cut out), computed once for the
        equity and P&L sections."""
        if not hasattr(self, "_equity_by_account"):
            found = self.chart_series("sum by (account) (tradewatch_trading_equity)", "trading")
            self._equity_by_account = {s.label("account"): s for s in found if np.isfinite(s.v).any()}
        return self._equity_by_account

    def _book(self) -> tuple[list[str], list[str], float, float, int, int]:
        """The accounts present at both ends of the data (first and last grid points that have any
        equity) and those that appeared or vanished in between, with the headline start and end
        equity over the first group only: a new account's deposit is not a return."""
        accounts = self._accounts()
        if not accounts:
            return [], [], math.nan, math.nan, -1, -1
        ok = np.vstack([np.isfinite(s.v) for s in accounts.values()])
        any_ok = ok.any(axis=0)
        i0, i1 = int(np.argmax(any_ok)), int(len(any_ok) - 1 - np.argmax(any_ok[::-1]))
        both = sorted(a for a, s in accounts.items() if np.isfinite(s.v[i0]) and np.isfinite(s.v[i1]))
        partial = sorted(set(accounts) - set(both))
        start = sum(float(accounts[a].v[i0]) for a in both) if both else math.nan
        end = sum(float(accounts[a].v[i1]) for a in both) if both else math.nan
        return both, partial, start, end, i0, i1

    def s_equity(self, sec: Section) -> None:
        accounts = self._accounts()
        both, partial, start, end, i0, i1 = self._book()
        self.queries["equity_by_account"] = "sum by (account) (tradewatch_trading_equity)"
        dd = self.chart_one("max(tradewatch_trading_drawdown_ratio)", "trading")
        max_dd = self.value("max_drawdown_ratio", f"max(max_over_time(tradewatch_trading_drawdown_ratio[{self.R}]))")
        limit = self.value("drawdown_limit_ratio", "max(tradewatch_trading_drawdown_limit_ratio)")
        in_period_dd, high, low = math.nan, math.nan, math.nan
        if both:
            book = np.sum(np.vstack([accounts[a].v for a in both]), axis=0)  # NaN where any is missing
            v = book[np.isfinite(book)]
            if v.size:
                high, low = float(v.max()), float(v.min())
        # Drawdown within the period per account (an account that appears is no drawdown of another).
        for s in accounts.values():
            v = s.v[np.isfinite(s.v)]
            if v.size:
                worst = float(np.max(1 - v / np.maximum.accumulate(v)))
                in_period_dd = worst if not math.isfinite(in_period_dd) else max(in_period_dd, worst)
        change = end - start
        ret = change / start if start else math.nan
        per_account = {}
        rows = []
        for a, s in sorted(accounts.items()):
            ok = np.flatnonzero(np.isfinite(s.v))
            first, last = float(s.v[ok[0]]), float(s.v[ok[-1]])
            per_account[a] = {
                "first_seen": float(s.t[ok[0]]),
                "last_seen": float(s.t[ok[-1]]),
                "equity_first": first,
                "equity_last": last,
                "change": last - first,
                "in_headline": a in both,
            }
            rows.append(
                [
                    a or "(none)",
                    "start of data" if ok[0] == i0 else f"appeared {self.p.when(float(s.t[ok[0]]))}",
                    "end of data" if ok[-1] == i1 else f"last seen {self.p.when(float(s.t[ok[-1]]))}",
                    fnum(first),
                    fnum(last),
                    fmoney(last - first),
                    fpct((last - first) / first if first else math.nan, 2),
                    "yes" if a in both else "no",
                ]
            )
        sec.data.update(
            equity_start=jnum(start),
            equity_end=jnum(end),
            equity_change=jnum(change),
            return_ratio=jnum(ret),
            headline_accounts=both,
            other_accounts=partial,
            accounts=per_account,
            equity_high=jnum(high),
            equity_low=jnum(low),
            max_drawdown_ratio=jnum(max_dd),
            max_drawdown_within_period_ratio=jnum(in_period_dd),
            drawdown_limit_ratio=jnum(limit),
        )
        sec.figures += [
            ("Equity at end", fnum(end)),
            ("Change", fmoney(change)),
            ("Return", fpct(ret, 2)),
            ("Max drawdown (from all-time high)", fpct(max_dd, 2)),
            ("Max drawdown within the period", fpct(in_period_dd, 2)),
        ]
        if not accounts:
            sec.notes.append("No equity data in this period.")
        else:
            sec.notes.append(
                f"Equity, change and return are over the accounts present at both ends of the data: "
                f"{', '.join(both) or 'none'}."
            )
            if partial:
                sec.notes.append(
                    "Not in those figures (appeared or vanished during the period, see the table): "
                    f"{', '.join(partial)}."
                )
            sec.tables.append(
                Table(
                    "Accounts",
                    ["account", "from", "to", "equity first", "equity last", "change", "return", "in headline"],
                    rows,
                )
            )
        if accounts and math.isfinite(limit) and math.isfinite(max_dd) and max_dd >= limit:
            sec.notes.append(f"Drawdown reached {fpct(max_dd, 2)}, at or above the {fpct(limit, 2)} limit.")
        sec.notes.extend(self.gap_words("trading"))
        dd_panel = Panel("drawdown", [Line("drawdown", dd, "drawdown")], fill=True, percent=True, invert=True)
        if math.isfinite(limit):
            dd_panel.hlines.append((limit, f"limit {fpct(limit)}", "limit"))
        if 1 < len(accounts) <= 6:
            eq_lines = [Line(a, s, f"series{i}") for i, (a, s) in enumerate(sorted(accounts.items()))]
        else:
            total = self.chart_one("sum(tradewatch_trading_equity)", "trading")
            eq_lines = [Line("equity", total, "equity")]
        sec.charts.append(
            Chart(
                "equity_drawdown",
                "Equity and drawdown",
                "lines",
                [Panel("equity", eq_lines), dd_panel],
                gaps=self.coverage.get("trading", []),
            )
        )

    def s_pnl(self, sec: Section) -> None:
        edges = self.p.buckets()
        expr = "sum by (account) (tradewatch_trading_equity)"
        self.queries["pnl_bucket_edges"] = expr + " at each bucket edge"
        at_edges = [self.prom.by(expr, t, "account") for t in edges]
        accounts = self._accounts()
        first = {}
        last = {}
        for a, s in accounts.items():
            ok = np.flatnonzero(np.isfinite(s.v))
            first[a], last[a] = (float(s.t[ok[0]]), float(s.v[ok[0]])), (float(s.t[ok[-1]]), float(s.v[ok[-1]]))
        pnl = []
        for (ta, va), (tb, vb) in itertools.pairwise(zip(edges, at_edges, strict=True)):
            # Per account: equity at the bucket's end minus at its start; an account born (or gone)
            # inside the bucket counts from its first (to its last) value, so a deposit is no P&L.
            parts = []
            for a in set(va) | set(vb):
                x0 = va.get(a, math.nan)
                x1 = vb.get(a, math.nan)
                if not math.isfinite(x0) and a in first and ta < first[a][0] <= tb:
                    x0 = first[a][1]
                if not math.isfinite(x1) and a in last and ta <= last[a][0] < tb:
                    x1 = last[a][1]
                if math.isfinite(x0) and math.isfinite(x1):
                    parts.append(x1 - x0)
            pnl.append(sum(parts) if parts else math.nan)
        unit = "hour" if self.p.kind == "daily" else "day"
        finite = [x for x in pnl if math.isfinite(x)]
        # Every account's change over the time it existed in the period: what the buckets add up to
        # when nothing is missing.
        total = sum(last[a][1] - first[a][1] for a in accounts) if accounts else math.nan
        realized = self.by(
            "realized_pnl_change",
            # A strategy born during the period has no value at its start: it started from 0.
            f"sum by (strategy) (tradewatch_trading_realized_pnl) - (sum by (strategy) "
            f"(tradewatch_trading_realized_pnl offset {self.R}) or 0 * sum by (strategy) "
            f"(tradewatch_trading_realized_pnl))",
            "strategy",
        )
        worst = self.by(
            "worst_daily_pnl",
            f"min by (account) (min_over_time(tradewatch_trading_daily_pnl[{self.R}]))",
            "account",
        )
        limits = self.by("daily_loss_limit", "max by (account) (tradewatch_trading_daily_loss_limit)", "account")
        sec.data.update(
            total=jnum(total),
            bucket=unit,
            buckets=[
                {"start": a, "end": b, "pnl": jnum(x)} for a, b, x in zip(edges[:-1], edges[1:], pnl, strict=True)
            ],
            realized_by_strategy={k: jnum(v) for k, v in realized.items()},
            worst_daily_pnl={k: jnum(v) for k, v in worst.items()},
            daily_loss_limit={k: jnum(v) for k, v in limits.items()},
        )
        sec.figures += [
            ("P&L over the period (all accounts)", fmoney(total)),
            (f"Best {unit}", fmoney(max(finite)) if finite else "n/a"),
            (f"Worst {unit}", fmoney(min(finite)) if finite else "n/a"),
            (f"Positive {unit}s", f"{sum(1 for x in finite if x > 0)} of {len(finite)}"),
        ]
        missing = [i for i, x in enumerate(pnl) if not math.isfinite(x)]
        if missing:
            sec.notes.append(
                f"No P&L for {len(missing)} {unit}(s) without equity data at their edges (shown hatched, not as zero)."
            )
        if accounts:
            sec.notes.append(
                "P&L is each account's equity change while it reported in the period; an account that "
                "appeared counts from its first value (its opening balance is not P&L)."
            )
        for account, w in worst.items():
            lim = limits.get(account, math.nan)
            if math.isfinite(lim) and math.isfinite(w) and w <= -lim:
                sec.notes.append(
                    f"Account {account or '(all)'}: daily loss {fmoney(w)} breached the limit of {fnum(lim)}."
                )
        sec.tables.append(
            Table(
                "Realized P&L by strategy",
                ["strategy", "realized P&L"],
                [[k or "(none)", fmoney(v)] for k, v in sorted(realized.items())],
            )
        )
        sec.charts.append(
            Chart(
                "pnl",
                f"P&L per {unit}",
                "bars",
                bars=(edges, pnl),
                bar_label="P&L",
                gaps=self.coverage.get("trading", []),
            )
        )

    def s_performance(self, sec: Section) -> None:
        R = self.R
        trades = self.by(
            "trades_closed",
            f"sum by (strategy) (increase(tradewatch_trading_trades_closed_total[{R}]))",
            "strategy",
        )
        win = self.by("win_rate_ratio", "max by (strategy) (tradewatch_trading_win_rate_ratio)", "strategy")
        pf = self.by("profit_factor", "max by (strategy) (tradewatch_trading_profit_factor)", "strategy")
        exp = self.by("expectancy", "max by (strategy) (tradewatch_trading_expectancy)", "strategy")
        sharpe = self.by("sharpe_ratio", "max by (account) (tradewatch_trading_sharpe_ratio)", "account")
        sortino = self.by("sortino_ratio", "max by (account) (tradewatch_trading_sortino_ratio)", "account")
        strategies = sorted(set(trades) | set(win) | set(pf))
        sec.data["strategies"] = {
            s: {
                "trades_closed": jnum(trades.get(s, math.nan)),
                "win_rate_ratio": jnum(win.get(s, math.nan)),
                "profit_factor": jnum(pf.get(s, math.nan)),
                "expectancy": jnum(exp.get(s, math.nan)),
            }
            for s in strategies
        }
        sec.data["accounts"] = {
            a: {
                "sharpe_ratio": jnum(sharpe.get(a, math.nan)),
                "sortino_ratio": jnum(sortino.get(a, math.nan)),
            }
            for a in sorted(set(sharpe) | set(sortino))
        }
        total = sum(v for v in trades.values() if math.isfinite(v))
        sec.data["trades_closed_total"] = jnum(total)
        sec.figures.append(("Trades closed", fnum(total, 0)))
        for a in sorted(set(sharpe) | set(sortino)):
            suffix = f" ({a})" if len(sharpe) > 1 else ""
            sec.figures += [
                (f"Sharpe{suffix}", fnum(sharpe.get(a, math.nan))),
                (f"Sortino{suffix}", fnum(sortino.get(a, math.nan))),
            ]
        sec.tables.append(
            Table(
                "By strategy",
                ["strategy", "trades closed", "win rate", "profit factor", "expectancy"],
                [
                    [
                        s,
                        fnum(trades.get(s, math.nan), 0),
                        fpct(win.get(s, math.nan)),
                        fnum(pf.get(s, math.nan)),
                        fmoney(exp.get(s, math.nan)),
                    ]
                    for s in strategies
                ],
            )
        )
        sec.notes.append(
            "Win rate, profit factor and expectancy are the trading exporter's lifetime values (every trade "
            "since its journal began) at the end of the period, Sharpe and Sortino its rolling ones; trades "
            "closed are counted over the period. The period's own win rate is in the comparison section."
        )
        if not strategies:
            sec.notes.append("No closed trades reported in this period.")

    def _quantiles(self, key: str, metric: str, by: str = "") -> dict[str, float]:
        out = {}
        grp = f"sum by (le{', ' + by if by else ''})"
        for q in (0.5, 0.95, 0.99):
            out[f"p{int(q * 100)}"] = self.value(
                f"{key}_p{int(q * 100)}",
                f"histogram_quantile({q}, {grp} (increase({metric}_bucket[{self.R}])))",
            )
        # A histogram whose observations can be negative (slippage: price improvement) has a _sum
        # that goes down, which increase() would take for counter resets: use the plain difference,
        # counting series born during the period from zero (right unless the exporter restarted
        # without its journal). Exporters may omit _sum/_count for such histograms (OpenMetrics):
        # the count comes from the +Inf bucket, and the mean is then n/a.
        R = self.R
        out["mean"] = self.value(
            f"{key}_mean",
            f"(sum({metric}_sum) - (sum({metric}_sum offset {R}) or vector(0))) / "
            f"(sum({metric}_count) - (sum({metric}_count offset {R}) or vector(0)))",
        )
        out["count"] = self.value(f"{key}_count", f'sum(increase({metric}_bucket{{le="+Inf"}}[{R}]))')
        return out

    def s_execution(self, sec: Section) -> None:
        R = self.R
        orders = self.by("orders", f"sum by (status) (increase(tradewatch_trading_orders_total[{R}]))", "status")
        fill = self.by("fill_ratio", "min by (strategy) (tradewatch_trading_fill_ratio)", "strategy")
        fill_avg = self.by(
            "fill_ratio_avg",
            f"min by (strategy) (avg_over_time(tradewatch_trading_fill_ratio[{R}]))",
            "strategy",
        )
        rejects = self.by(
            "rejections",
            f"sum by (reason) (increase(tradewatch_trading_order_rejections_total[{R}]))",
            "reason",
        )
        ack = self._quantiles("ack_latency_seconds", "tradewatch_trading_order_ack_latency_seconds")
        fl = self._quantiles("fill_latency_seconds", "tradewatch_trading_order_fill_latency_seconds")
        slip = self._quantiles("slippage_bps", "tradewatch_trading_slippage_bps")
        from tradewatch.report import desk  # see build()

        slip["mean"] = desk.mean_slippage_bps(self)  # notional-weighted, from the slippage cost counters
        sec.data.update(
            orders={k: jnum(v) for k, v in orders.items()},
            fill_ratio={k: jnum(v) for k, v in fill.items()},
            fill_ratio_avg={k: jnum(v) for k, v in fill_avg.items()},
            rejections={k: jnum(v) for k, v in rejections_sorted(rejects)},
            ack_latency_seconds={k: jnum(v) for k, v in ack.items()},
            fill_latency_seconds={k: jnum(v) for k, v in fl.items()},
            slippage_bps={k: jnum(v) for k, v in slip.items()},
        )
        submitted = orders.get("submitted", math.nan)
        sec.figures += [
            ("Orders submitted", fnum(submitted, 0)),
            ("Filled", fnum(orders.get("filled", math.nan), 0)),
            ("Rejected", fnum(orders.get("rejected", math.nan), 0)),
            ("Fill latency p50 / p95 / p99", " / ".join(_ms(fl[k]) for k in ("p50", "p95", "p99"))),
            ("Slippage p50 / p95", f"{fnum(slip['p50'], 1)} / {fnum(slip['p95'], 1)} bps"),
        ]
        sec.tables.append(
            Table(
                "Fill ratio by strategy",
                ["strategy", "at end", "average over period"],
                [[s, fpct(fill[s]), fpct(fill_avg.get(s, math.nan))] for s in sorted(fill)],
            )
        )
        sec.tables.append(
            Table(
                "Latency and slippage",
                ["measure", "p50", "p95", "p99", "mean", "count"],
                [
                    [
                        "ack latency",
                        *(_ms(ack[k]) for k in ("p50", "p95", "p99", "mean")),
                        fnum(ack["count"], 0),
                    ],
                    [
                        "fill latency",
                        *(_ms(fl[k]) for k in ("p50", "p95", "p99", "mean")),
                        fnum(fl["count"], 0),
                    ],
                    [
                        "slippage (bps)",
                        *(fnum(slip[k], 1) for k in ("p50", "p95", "p99", "mean")),
                        fnum(slip["count"], 0),
                    ],
                ],
            )
        )
        if rejects:
            sec.tables.append(
                Table(
                    "Rejections by reason",
                    ["reason", "orders"],
                    [[k, fnum(v, 0)] for k, v in rejections_sorted(rejects)],
                )
            )
        # Quantiles over three chart steps: each point summarises enough orders to be stable.
        window = 3 * int(self.p.chart_step)
        label = fdur(window)

        def quantiles(metric: str) -> list[Line]:
            return [
                Line(
                    f"p{q} ({label} window)",
                    self.chart_one(
                        f"histogram_quantile(0.{q}, sum by (le) (rate({metric}_bucket[{window}s])))", "trading"
                    ),
                    f"p{q}",
                )
                for q in (50, 95)
            ]

        lat = quantiles("tradewatch_trading_order_fill_latency_seconds")
        sl = quantiles("tradewatch_trading_slippage_bps")
        sec.charts.append(
            Chart(
                "execution",
                "Fill latency and slippage",
                "lines",
                [Panel("fill latency (s)", lat), Panel("slippage (bps)", sl)],
                gaps=self.coverage.get("trading", []),
            )
        )
        if not math.isfinite(submitted):
            sec.notes.append("No orders reported in this period.")

    def s_risk(self, sec: Section) -> None:
        R = self.R
        res = int(self.p.resolution)
        kill = self.by(
            "kill_switch_activations",
            f"sum by (reason) (increase(tradewatch_trading_kill_switch_activations_total[{R}]))",
            "reason",
        )
        kill = {k: v for k, v in kill.items() if v >= 0.5}
        kill_iv = self.intervals(f"max(max_over_time(tradewatch_trading_kill_switch_active[{res}s]))", lambda v: v >= 1)
        breaker_iv = self.intervals(
            f'max by (service) (max_over_time(tradewatch_trading_circuit_breaker_state{{state="open"}}[{res}s]))',
            lambda v: v >= 1,
            "service",
        )
        opened = self.by(
            "circuit_breaker_opened",
            f'sum by (service) (increase(tradewatch_trading_circuit_breaker_transitions_total{{state="open"}}[{R}]))',
            "service",
        )
        vol = self.by(
            "volatility_breaches",
            f"sum by (symbol) (increase(tradewatch_trading_volatility_breaches_total[{R}]))",
            "symbol",
        )
        vol = {k: v for k, v in vol.items() if v >= 0.5}
        usage = self.by(
            "position_limit_usage_max",
            f"max by (symbol) (max_over_time(tradewatch_trading_position_limit_usage_ratio[{R}]))",
            "symbol",
        )
        over = {k: v for k, v in usage.items() if v >= 1}
        kill_spans = kill_iv.get("", [])
        # A counter born at 1 (an exporter older than counters-from-0, or a restart) loses its first
        # increment to increase(): the engagements that begin inside the period are counted too, and
        # the larger of the two is the count (two engagements within one resolution step merge).
        began = sum(1 for x in kill_spans if not x.open_start)
        missing = began - round(sum(kill.values()))
        if missing > 0:
            kill["unknown"] = kill.get("unknown", 0.0) + missing
        sec.data.update(
            kill_switch_activations={k: jnum(v) for k, v in kill.items()},
            kill_switch_active=[_interval_json(x) for x in kill_spans],
            circuit_breaker_open={k: [_interval_json(x) for x in v] for k, v in breaker_iv.items()},
            circuit_breaker_opened={k: jnum(v) for k, v in opened.items()},
            volatility_breaches={k: jnum(v) for k, v in vol.items()},
            position_limit_usage_max={k: jnum(v) for k, v in usage.items()},
            position_limit_breaches=sorted(over),
        )
        n_kill = sum(kill.values())
        sec.figures += [
            ("Kill switch activations", fnum(n_kill, 0)),
            ("Kill switch engaged for", fdur(sum(x.seconds for x in kill_spans))),
            ("Circuit breaker openings", fnum(sum(v for v in opened.values() if v >= 0.5), 0)),
            ("Volatility breaches", fnum(sum(vol.values()), 0)),
            ("Symbols over their position limit", str(len(over))),
        ]
        rows = [
            [
                "kill switch",
                ", ".join(sorted(kill)) or "-",
                self.p.when(x.start),
                self._until(x),
                self._dur(x),
            ]
            for x in kill_spans
        ]
        rows += [
            [f"circuit breaker open: {svc}", "", self.p.when(x.start), self._until(x), self._dur(x)]
            for svc, spans in sorted(breaker_iv.items())
            for x in spans
        ]
        if rows:
            sec.tables.append(
                Table("Kill switch and circuit breakers", ["event", "reason", "from", "to", "duration"], rows)
            )
        if vol or over:
            sec.tables.append(
                Table(
                    "Limit breaches",
                    ["symbol", "volatility breaches", "max position limit usage"],
                    [[s, fnum(vol.get(s, 0), 0), fpct(usage.get(s, math.nan))] for s in sorted(set(vol) | set(over))],
                )
            )
        if not rows and not vol and not over:
            sec.notes.append("No kill switch, circuit breaker or limit events in this period.")
        timeline = [("kill switch", kill_spans)] if kill_spans else []
        timeline += [(f"breaker {svc}", spans) for svc, spans in sorted(breaker_iv.items())]
        if timeline:
            sec.charts.append(
                Chart(
                    "risk_events",
                    "Kill switch and circuit breakers",
                    "timeline",
                    rows=timeline,
                    gaps=self.coverage.get("trading", []),
                )
            )

    def _dur(self, x: Interval) -> str:
        # Seen in a single window: it lasted somewhere between an instant and one resolution.
        return f"under {fdur(self.p.resolution)}" if x.seconds < self.p.resolution else fdur(x.seconds)

    def _until(self, x: Interval) -> str:
        return "still active at the end" if x.open_end else self.p.when(x.end)

    def s_alerts(self, sec: Section) -> None:
        res = int(self.p.resolution)
        expr = f'count_over_time(ALERTS{{alertstate="firing"}}[{res}s])'
        self.queries["alerts"] = expr
        found = self.prom.range(expr, self.p.start + res, self.E, res)
        alerts = []
        for s in found:
            labels = {k: v for k, v in s.labels.items() if k not in ("alertstate", "__name__")}
            if labels.get("alertname") in self.o.ignore_alerts:
                continue
            for iv in windows_to_intervals(s.t, np.nan_to_num(s.v) > 0, res, self.p.start, self.E):
                alerts.append((labels, iv))
        alerts.sort(key=lambda a: a[1].start)
        sec.data["fired"] = [
            {"alertname": lab.get("alertname", ""), "labels": lab, **_interval_json(iv)} for lab, iv in alerts
        ]
        per_name: dict[str, list[Interval]] = {}
        for lab, iv in alerts:
            per_name.setdefault(lab.get("alertname", "?"), []).append(iv)
        sec.data["by_alertname"] = {
            k: {"times_fired": len(v), "firing_seconds": jnum(sum(x.seconds for x in v))} for k, v in per_name.items()
        }
        sec.figures += [
            ("Alerts fired", str(len(alerts))),
            ("Distinct alerts", str(len(per_name))),
            ("Still firing at the end", str(sum(1 for _, iv in alerts if iv.open_end))),
        ]
        if alerts:
            sec.tables.append(
                Table(
                    "Alerts that fired",
                    ["alert", "severity", "labels", "from", "to", "duration"],
                    [
                        [
                            lab.get("alertname", ""),
                            lab.get("severity", ""),
                            _labels_text(lab),
                            self.p.when(iv.start) + (" (before the period)" if iv.open_start else ""),
                            "still firing" if iv.open_end else self.p.when(iv.end),
                            self._dur(iv),
                        ]
                        for lab, iv in alerts
                    ],
                )
            )
            rows: dict[str, list[Interval]] = {}
            for lab, iv in alerts:
                key = lab.get("alertname", "?") + (f" ({lab['severity']})" if lab.get("severity") else "")
                rows.setdefault(key, []).append(iv)
            sec.charts.append(Chart("alerts", "Alerts firing", "timeline", rows=sorted(rows.items())[:25]))
        else:
            sec.notes.append("No alert fired in this period.")

    def s_model(self, sec: Section) -> None:
        R = self.R
        acc = self.by("model_accuracy_ratio", "max by (model) (tradewatch_model_accuracy_ratio)", "model")
        acc_avg = self.by(
            "model_accuracy_avg",
            f"max by (model) (avg_over_time(tradewatch_model_accuracy_ratio[{R}]))",
            "model",
        )
        cal = self.by("model_calibration_error", "max by (model) (tradewatch_model_calibration_error)", "model")
        brier = self.by("model_brier_score", "max by (model) (tradewatch_model_brier_score)", "model")
        vs_ref = self.by(
            "model_accuracy_vs_reference",
            "max by (model) (tradewatch_model_accuracy_vs_reference_ratio)",
            "model",
        )
        preds = self.by(
            "model_predictions",
            f"sum by (model) (increase(tradewatch_model_predictions_total[{R}]))",
            "model",
        )
        drifted = self.by(
            "drifted_features",
            f"max by (model, feature) (max_over_time(tradewatch_model_feature_drifted[{R}])) == 1",
            "model",
            "feature",
        )
        psi_max = self.by(
            "feature_psi_max",
            f"max by (model, feature) (max_over_time(tradewatch_model_feature_psi[{R}]))",
            "model",
            "feature",
        )
        psi_end = self.by("feature_psi", "max by (model, feature) (tradewatch_model_feature_psi)", "model", "feature")
        ds = self.by("dataset_drift", f"max by (model) (max_over_time(tradewatch_model_dataset_drift[{R}]))", "model")
        models = sorted(set(acc) | set(preds) | set(cal))
        sec.data["models"] = {
            m: {
                "accuracy_ratio": jnum(acc.get(m, math.nan)),
                "accuracy_avg_ratio": jnum(acc_avg.get(m, math.nan)),
                "calibration_error": jnum(cal.get(m, math.nan)),
                "brier_score": jnum(brier.get(m, math.nan)),
                "accuracy_vs_reference_ratio": jnum(vs_ref.get(m, math.nan)),
                "predictions": jnum(preds.get(m, math.nan)),
                "dataset_drift": bool(ds.get(m, 0) >= 1),
            }
            for m in models
        }
        sec.data["drifted_features"] = [
            {
                "model": k.split(",")[0],
                "feature": k.split(",")[1],
                "psi_max": jnum(psi_max.get(k, math.nan)),
                "psi_end": jnum(psi_end.get(k, math.nan)),
            }
            for k in sorted(drifted)
        ]
        sec.figures += [
            ("Models", str(len(models))),
            ("Predictions", fnum(sum(v for v in preds.values() if math.isfinite(v)), 0)),
            ("Drifted features", str(len(drifted))),
            ("Models with dataset drift", str(sum(1 for m in models if ds.get(m, 0) >= 1))),
        ]
        sec.tables.append(
            Table(
                "Models",
                [
                    "model",
                    "predictions",
                    "accuracy (end)",
                    "accuracy (avg)",
                    "vs reference",
                    "calibration error",
                    "Brier",
                ],
                [
                    [
                        m,
                        fnum(preds.get(m, math.nan), 0),
                        fpct(acc.get(m, math.nan)),
                        fpct(acc_avg.get(m, math.nan)),
                        fpct(vs_ref.get(m, math.nan)),
                        fnum(cal.get(m, math.nan), 3),
                        fnum(brier.get(m, math.nan), 3),
                    ]
                    for m in models
                ],
            )
        )
        if drifted:
            sec.tables.append(
                Table(
                    "Drifted features",
                    ["model", "feature", "PSI max", "PSI at end", "band"],
                    [
                        [
                            *k.split(","),
                            fnum(psi_max.get(k, math.nan), 3),
                            fnum(psi_end.get(k, math.nan), 3),
                            "major" if psi_max.get(k, 0) >= self.o.drift_psi_major else "below major",
                        ]
                        for k in sorted(drifted)
                    ],
                )
            )
        else:
            sec.notes.append("No feature drifted in this period.")
        if not models:
            sec.notes.append("No model data in this period.")
        sec.notes.extend(self.gap_words("model"))
        accl = [
            Line(s.labels.get("model", ""), s, f"series{i}")
            for i, s in enumerate(self.chart_series("max by (model) (tradewatch_model_accuracy_ratio)", "model"))
        ]
        call = [
            Line(s.labels.get("model", ""), s, f"series{i}")
            for i, s in enumerate(self.chart_series("max by (model) (tradewatch_model_calibration_error)", "model"))
        ]
        if accl or call:
            sec.charts.append(
                Chart(
                    "model",
                    "Model accuracy and calibration",
                    "lines",
                    [Panel("accuracy", accl, percent=True), Panel("calibration error", call)],
                    gaps=self.coverage.get("model", []),
                )
            )

    def s_ai_spend(self, sec: Section) -> None:
        R = self.R
        spend = self.by(
            "ai_cost_usd",
            f"sum by (provider, model) (increase(tradewatch_ai_cost_usd_total[{R}]))",
            "provider",
            "model",
        )
        total = self.value("ai_cost_usd_total", f"sum(increase(tradewatch_ai_cost_usd_total[{R}]))")
        budget = self.value("ai_monthly_budget_usd", "max(tradewatch_ai_monthly_budget_usd)")
        projected = self.value("ai_projected_monthly_cost_usd", "max(tradewatch_ai_projected_monthly_cost_usd)")
        calls = self.by("ai_calls", f"sum by (status) (increase(tradewatch_ai_calls_total[{R}]))", "status")
        tokens = self.by("ai_tokens", f"sum by (kind) (increase(tradewatch_ai_tokens_total[{R}]))", "kind")
        share = self.p.seconds / (30 * 86400)
        prorated = budget * share if math.isfinite(budget) else math.nan
        sec.data.update(
            spend_usd=jnum(total),
            by_provider_model={k: jnum(v) for k, v in spend.items()},
            monthly_budget_usd=jnum(budget),
            budget_for_period_usd=jnum(prorated),
            budget_used_ratio=jnum(total / prorated if prorated else math.nan),
            projected_monthly_usd=jnum(projected),
            calls={k: jnum(v) for k, v in calls.items()},
            tokens={k: jnum(v) for k, v in tokens.items()},
        )
        has_budget = math.isfinite(budget)
        sec.figures += [
            ("Spend", f"${fnum(total)}" if math.isfinite(total) else "no AI spend recorded"),
            ("Budget for the period (30-day month)", f"${fnum(prorated)}" if has_budget else "no budget set"),
            ("Budget used", fpct(total / prorated if prorated else math.nan) if has_budget else "no budget set"),
            (
                "Projected month",
                (f"${fnum(projected)}" if math.isfinite(projected) else "n/a")
                + (f" of ${fnum(budget)}" if has_budget else " (no budget set)"),
            ),
        ]
        if math.isfinite(projected) and math.isfinite(budget) and projected > budget:
            sec.notes.append(f"Projected monthly spend ${fnum(projected)} is over the ${fnum(budget)} budget.")
        sec.tables.append(
            Table(
                "Spend by provider and model",
                ["provider", "model", "spend (USD)"],
                [[*k.split(","), fnum(v, 4)] for k, v in sorted(spend.items(), key=lambda kv: -kv[1])],
            )
        )
        sec.tables.append(
            Table("Calls by status", ["status", "calls"], [[k, fnum(v, 0)] for k, v in sorted(calls.items())])
        )
        step = int(self.p.chart_step)
        inc = self.chart_one(f"sum(increase(tradewatch_ai_cost_usd_total[{step}s]))", "model")
        cum = Series(inc.labels, inc.t, _cumsum_keep_gaps(inc.v))
        lines = [Line("spend (cumulative)", cum, "spend")]
        if math.isfinite(budget):
            ramp = Series({}, inc.t, (inc.t - self.p.start) / (30 * 86400) * budget)
            lines.append(Line("budget (pro rata)", ramp, "budget", dashed=True))
        else:
            sec.notes.append("No AI budget is configured (tradewatch_ai_monthly_budget_usd is absent).")
        sec.charts.append(
            Chart(
                "ai_spend",
                "AI spend against budget",
                "lines",
                [Panel("USD", lines)],
                gaps=self.coverage.get("model", []),
            )
        )

    def s_freshness(self, sec: Section) -> None:
        res = int(self.p.resolution)
        md = self.intervals(
            f"max by (symbol) (max_over_time(tradewatch_market_data_age_seconds[{res}s]))",
            lambda v: v > self.o.stale_market_data,
            "symbol",
        )
        hb = self.intervals(
            f"max by (component) (max_over_time(tradewatch_heartbeat_age_seconds[{res}s]))",
            lambda v: v > self.o.stale_heartbeat,
            "component",
        )
        down = self.intervals(
            f'max by (component) (max_over_time(tradewatch_heartbeat_status{{status="down"}}[{res}s]))',
            lambda v: v >= 1,
            "component",
        )
        md_gaps = self.by(
            "market_data_gaps",
            f"sum by (symbol) (increase(tradewatch_market_data_gaps_total[{self.R}]))",
            "symbol",
        )
        md_gaps = {k: v for k, v in md_gaps.items() if v >= 0.5}
        incidents = []
        for kind, found in (
            ("stale market data", md),
            ("stale heartbeat", hb),
            ("component reported down", down),
        ):
            for subject, spans in found.items():
                incidents += [(kind, subject, x) for x in spans]
        for name, spans in self.coverage.items():
            incidents += [("no data from exporter", name, x) for x in spans]
        incidents.sort(key=lambda i: i[2].start)
        sec.data["incidents"] = [{"kind": k, "subject": s, **_interval_json(x)} for k, s, x in incidents]
        sec.data["market_data_gaps"] = {k: jnum(v) for k, v in md_gaps.items()}
        sec.data["thresholds_seconds"] = {
            "market_data": self.o.stale_market_data,
            "heartbeat": self.o.stale_heartbeat,
        }
        sec.figures += [
            ("Incidents", str(len(incidents))),
            ("Time with stale market data", fdur(sum(x.seconds for v in md.values() for x in v))),
            ("Market data gaps", fnum(sum(md_gaps.values()), 0)),
        ]
        if incidents:
            sec.tables.append(
                Table(
                    "Incidents",
                    ["kind", "subject", "from", "to", "duration"],
                    [[k, s, self.p.when(x.start), self._until(x), self._dur(x)] for k, s, x in incidents],
                )
            )
            sec.notes += [
                f"{k.capitalize()} ({s}) from {self.p.span(x.start, x.end)} ({self._dur(x)})."
                for k, s, x in incidents[:10]
            ]
        else:
            sec.notes.append("No data freshness incident in this period.")
        if md_gaps:
            sec.tables.append(
                Table(
                    "Market data gaps",
                    ["symbol", "gaps"],
                    [[k, fnum(v, 0)] for k, v in sorted(md_gaps.items())],
                )
            )

    def s_system(self, sec: Section) -> None:
        R, res = self.R, int(self.p.resolution)
        comp = self.intervals(
            f"min by (component) (min_over_time(tradewatch_component_up[{res}s]))",
            lambda v: v < 1,
            "component",
        )
        probes = self.intervals(
            f"min by (probe) (min_over_time(tradewatch_probe_success[{res}s]))", lambda v: v < 1, "probe"
        )
        errors = self.by("exporter_errors", f"sum by (kind) (increase(tradewatch_errors_total[{R}]))", "kind")
        errors = {k: v for k, v in errors.items() if v >= 0.5}
        step = int(self.p.chart_step)
        cpu = self.chart_one(
            f'1 - sum(rate(tradewatch_host_cpu_seconds_total{{mode="idle"}}[{step}s])) / max(tradewatch_host_cpus)',
            "system",
        )
        mem = self.chart_one(
            "1 - max(tradewatch_host_memory_available_bytes) / max(tradewatch_host_memory_total_bytes)",
            "system",
        )
        disk = self.by(
            "filesystem_min_avail_ratio",
            f"min by (mountpoint) (min_over_time((tradewatch_host_filesystem_avail_bytes / "
            f"tradewatch_host_filesystem_size_bytes)[{R}:{res}s]))",
            "mountpoint",
        )
        cpu_max = float(np.nanmax(cpu.v)) if np.isfinite(cpu.v).any() else math.nan
        mem_max = float(np.nanmax(mem.v)) if np.isfinite(mem.v).any() else math.nan
        sec.data.update(
            component_down={k: [_interval_json(x) for x in v] for k, v in comp.items()},
            probe_failed={k: [_interval_json(x) for x in v] for k, v in probes.items()},
            exporter_errors={k: jnum(v) for k, v in errors.items()},
            cpu_utilisation_max_ratio=jnum(cpu_max),
            memory_used_max_ratio=jnum(mem_max),
            filesystem_min_avail_ratio={k: jnum(v) for k, v in disk.items()},
            exporter_coverage={k: [_interval_json(x) for x in v] for k, v in self.coverage.items()},
        )
        sec.figures += [
            ("Peak CPU", fpct(cpu_max)),
            ("Peak memory", fpct(mem_max)),
            ("Component outages", str(sum(len(v) for v in comp.values()))),
            ("Probe failures", str(sum(len(v) for v in probes.values()))),
            ("Exporter errors", fnum(sum(errors.values()), 0)),
        ]
        rows = [
            [f"component {k} down", self.p.when(x.start), self._until(x), self._dur(x)]
            for k, v in sorted(comp.items())
            for x in v
        ]
        rows += [
            [f"probe {k} failing", self.p.when(x.start), self._until(x), self._dur(x)]
            for k, v in sorted(probes.items())
            for x in v
        ]
        if rows:
            sec.tables.append(Table("Outages", ["what", "from", "to", "duration"], rows))
        if disk:
            sec.tables.append(
                Table(
                    "Filesystems",
                    ["mountpoint", "lowest free share"],
                    [[k, fpct(v)] for k, v in sorted(disk.items())],
                )
            )
        if errors:
            sec.tables.append(
                Table(
                    "Exporter errors",
                    ["kind", "errors"],
                    [[k, fnum(v, 0)] for k, v in sorted(errors.items())],
                )
            )
        sec.notes.extend(self.gap_words("system"))
        sec.charts.append(
            Chart(
                "system",
                "Host CPU and memory",
                "lines",
                [
                    Panel("CPU", [Line("CPU busy", cpu, "cpu")], percent=True),
                    Panel("memory", [Line("memory used", mem, "memory")], percent=True),
                ],
                gaps=self.coverage.get("system", []),
            )
        )


def rejections_sorted(d: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(((k, v) for k, v in d.items() if v >= 0.5), key=lambda kv: -kv[1])


def _ms(x: float) -> str:
    return "n/a" if not math.isfinite(x) else (f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s")


def _labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))


def _interval_json(x: Interval) -> dict[str, Any]:
    return {
        "start": x.start,
        "end": x.end,
        "seconds": x.seconds,
        "began_before_period": x.open_start,
        "ongoing_at_end": x.open_end,
    }


def _cumsum_keep_gaps(v: np.ndarray) -> np.ndarray:
    out = np.nancumsum(v)
    out[~np.isfinite(v)] = np.nan
    return out
