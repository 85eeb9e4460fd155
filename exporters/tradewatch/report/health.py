"""The desk's remaining questions in the report: how close the accounts came to their limits, whether
the broker API was slow or failing, whether the trading system logged errors, and what became of
its decisions (issue 12).

Four sections (``limits``, ``api_health``, ``errors``, ``decisions``) on the same
:class:`~tradewatch.report.sections.Builder` as the others: every number is a PromQL expression
over the period ``[R]`` at its end, kept in the document next to the value.

Counts use :func:`counted` instead of a bare ``increase()``: the exporter creates a labelled counter
at its first event, so a lone critical error of a new component/kind is born at 1 and
``increase()`` (which needs two samples) would report 0 for exactly the error the desk asks about.
"""

from __future__ import annotations

import math
from typing import Any

from tradewatch.report.sections import Section, Table, fnum, fpct, jnum

LIMITS = ("daily_loss", "drawdown", "take_profit", "stop_loss")
API_ERROR_CLASSES = "5xx|timeout|error"
STAGES = ("made", "approved", "rejected", "executed", "failed", "expired")
LOGS_DASHBOARD = "TradeWatch / Logs (uid tradewatch-logs)"


def counted(metric: str, by: str, R: str, match: str = "") -> str:
    """Events counted by a counter over the period, per ``by``: the larger of ``increase()`` and
    the change of the last value since the previous period (0 for a series born in the period)."""
    m = f"{metric}{{{match}}}" if match else metric
    inc = f"increase({m}[{R}])"
    last = f"last_over_time({m}[{R}])"
    change = f"{last} - (last_over_time({m}[{R}] offset {R}) or 0 * {last})"
    return f"sum by ({by}) ({inc} > ({change}) or ({change}))"


def _split(key: str, n: int) -> list[str]:
    parts = key.split(",", n - 1)
    return parts + [""] * (n - len(parts))


def _finite(d: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in d.items() if math.isfinite(v)}


# --------------------------------------------------------------------------- limits


def s_limits(b: Any, sec: Section) -> None:
    R, by = b.R, "account, limit"
    limit = b.by("limit", f"max by ({by}) (last_over_time(tradewatch_trading_limit[{R}]))", "account", "limit")
    end = b.by("limit_usage_end", f"max by ({by}) (tradewatch_trading_limit_usage_ratio)", "account", "limit")
    peak = b.by(
        "limit_usage_peak",
        f"max by ({by}) (max_over_time(tradewatch_trading_limit_usage_ratio[{R}]))",
        "account",
        "limit",
    )
    margin_end = b.by("margin_usage_end", "max by (account) (tradewatch_trading_margin_usage_ratio)", "account")
    margin_peak = b.by(
        "margin_usage_peak", f"max by (account) (max_over_time(tradewatch_trading_margin_usage_ratio[{R}]))", "account"
    )
    order = {name: i for i, name in enumerate(LIMITS)}
    keys = sorted(set(limit) | set(peak), key=lambda k: (_split(k, 2)[0], order.get(_split(k, 2)[1], 99), k))
    accounts: dict[str, dict[str, Any]] = {}
    rows, reached = [], []
    for key in keys:
        account, name = _split(key, 2)
        top = peak.get(key, math.nan)
        hit = math.isfinite(top) and top >= 1
        accounts.setdefault(account, {})[name] = {
            "limit": jnum(limit.get(key, math.nan)),
            "usage_end_ratio": jnum(end.get(key, math.nan)),
            "usage_peak_ratio": jnum(top),
            "reached": hit,
        }
        if hit:
            reached.append(f"{account} {name.replace('_', '-')}")
        rows.append(
            [
                account,
                name.replace("_", " "),
                fnum(limit.get(key, math.nan)),
                fpct(end.get(key, math.nan)),
                fpct(top),
                "yes" if hit else "no",
            ]
        )
    for account in sorted(set(margin_end) | set(margin_peak)):
        accounts.setdefault(account, {})["margin"] = {
            "usage_end_ratio": jnum(margin_end.get(account, math.nan)),
            "usage_peak_ratio": jnum(margin_peak.get(account, math.nan)),
        }
    sec.data.update(accounts=accounts, reached=reached)
    if not keys:
        sec.notes.append(
            "No risk limits reported in this period (tradewatch_trading_limit): none is set in risk.* "
            "or no portfolio snapshot arrived."
        )
        sec.figures.append(("Closest to a limit", "n/a"))
    else:
        closest = max(((k, v) for k, v in _finite(peak).items()), key=lambda kv: kv[1], default=None)
        if closest:
            account, name = _split(closest[0], 2)
            sec.figures.append(("Closest to a limit", f"{account} {name.replace('_', ' ')} {fpct(closest[1])}"))
        sec.figures.append(("Limits reached", str(len(reached))))
        sec.tables.append(
            Table(
                "Limits in use and their usage",
                ["account", "limit", "limit (quote)", "usage at end", "peak usage", "reached"],
                rows,
            )
        )
        if reached:
            sec.notes.append(f"Reached during the period (peak usage 100 % or more): {', '.join(reached)}.")
        sec.notes.append(
            "Usage is the share of the limit used (100 % = at the limit): daily loss and drawdown from equity, "
            "take-profit and stop-loss from P&L since the initial balance; peak = highest value scraped."
        )
    if margin_end or margin_peak:
        sec.tables.append(
            Table(
                "Margin usage (margin used / equity)",
                ["account", "at end", "peak"],
                [
                    [a, fpct(margin_end.get(a, math.nan)), fpct(margin_peak.get(a, math.nan))]
                    for a in sorted(set(margin_end) | set(margin_peak))
                ],
            )
        )


# --------------------------------------------------------------------------- API health


def api_exprs(R: str) -> dict[str, str]:
    """Per provider and endpoint group over the period (the keys are those of the JSON)."""
    by = "provider, endpoint"
    calls = counted("tradewatch_trading_api_calls_total", by, R)
    errors = counted("tradewatch_trading_api_calls_total", by, R, f'status_class=~"{API_ERROR_CLASSES}"')
    hits = counted("tradewatch_trading_api_cache_lookups_total", by, R, 'result="hit"')
    lookups = counted("tradewatch_trading_api_cache_lookups_total", by, R)
    bucket = f"sum by ({by}, le) (increase(tradewatch_trading_api_call_latency_seconds_bucket[{R}]))"
    return {
        "calls": calls,
        "error_ratio": f"({errors}) / (({calls}) > 0)",
        "latency_p95_seconds": f"histogram_quantile(0.95, {bucket})",
        "latency_p99_seconds": f"histogram_quantile(0.99, {bucket})",
        "cache_hit_ratio": f"({hits}) / (({lookups}) > 0)",
    }


def s_api_health(b: Any, sec: Section) -> None:
    got = {k: b.by(f"api_{k}", expr, "provider", "endpoint") for k, expr in api_exprs(b.R).items()}
    calls = _finite(got["calls"])
    total = b.value("api_calls_total", counted("tradewatch_trading_api_calls_total", "", b.R))
    errors = b.value(
        "api_errors_total",
        counted("tradewatch_trading_api_calls_total", "", b.R, f'status_class=~"{API_ERROR_CLASSES}"'),
    )
    pairs = sorted(set(calls) | set(got["latency_p95_seconds"]))
    sec.data["endpoints"] = {k: {name: jnum(got[name].get(k, math.nan)) for name in got} for k in pairs}
    sec.data["calls_total"] = jnum(total)
    # Every status class exists from 0 with its pair: no error series at all means no errors.
    ratio = (errors if math.isfinite(errors) else 0.0) / total if math.isfinite(total) and total > 0 else math.nan
    sec.data["error_ratio"] = jnum(ratio)
    if not pairs:
        sec.notes.append("No API calls reported in this period (tradewatch_trading_api_calls_total).")
        return
    sec.figures.append(("API calls", fnum(total, 0)))
    sec.figures.append(("API error ratio", fpct(ratio, 2)))
    p99 = _finite(got["latency_p99_seconds"])
    if p99:
        slow = max(p99.items(), key=lambda kv: kv[1])
        sec.figures.append(("Slowest p99", f"{slow[0].replace(',', ' ')} {_ms(slow[1])}"))
    sec.tables.append(
        Table(
            "External API calls by provider and endpoint group",
            ["provider", "endpoint", "calls", "error ratio", "p95", "p99", "cache hit ratio"],
            [
                [
                    *_split(k, 2),
                    fnum(got["calls"].get(k, math.nan), 0),
                    fpct(got["error_ratio"].get(k, math.nan), 2),
                    _ms(got["latency_p95_seconds"].get(k, math.nan)),
                    _ms(got["latency_p99_seconds"].get(k, math.nan)),
                    fpct(got["cache_hit_ratio"].get(k, math.nan)) if k in got["cache_hit_ratio"] else "no cache",
                ]
                for k in pairs
            ],
        )
    )
    sec.notes.append(
        f"Errors are the status classes {API_ERROR_CLASSES.replace('|', ', ')} over all calls; latency as the "
        "trading system measured it (quantiles from the histogram's buckets over the period); cache hit ratio "
        "over the calls that reported a cache lookup."
    )


def _ms(seconds: float) -> str:
    return "n/a" if not math.isfinite(seconds) else f"{seconds * 1000:,.0f} ms"


# --------------------------------------------------------------------------- errors


def s_errors(b: Any, sec: Section) -> None:
    labels = ("component", "severity", "kind")
    got = b.by("trading_errors", counted("tradewatch_trading_errors_total", ", ".join(labels), b.R), *labels)
    counts = {k: v for k, v in _finite(got).items() if round(v) > 0}
    by_severity: dict[str, float] = {}
    for k, v in counts.items():
        by_severity[_split(k, 3)[1]] = by_severity.get(_split(k, 3)[1], 0.0) + v
    critical = sorted(k for k in counts if _split(k, 3)[1] == "critical")
    sec.data.update(
        counts={k: jnum(v) for k, v in sorted(counts.items())},
        by_severity={k: jnum(v) for k, v in sorted(by_severity.items())},
        critical=[dict(zip(labels, _split(k, 3), strict=True), count=jnum(counts[k])) for k in critical],
    )
    sec.figures.append(("Errors reported", str(round(sum(counts.values())))))
    sec.figures.append(("Critical", str(round(by_severity.get("critical", 0.0)))))
    if not counts:
        sec.notes.append("No errors reported by the trading system in this period (tradewatch_trading_errors_total).")
        return
    if critical:
        sec.notes.append(
            "Critical: " + "; ".join(f"{_split(k, 3)[0]} {_split(k, 3)[2]} x{round(counts[k])}" for k in critical) + "."
        )
    rank = {"critical": 0, "error": 1, "warning": 2}
    sec.tables.append(
        Table(
            "Errors by component, severity and kind",
            ["component", "severity", "kind", "count"],
            [
                [*_split(k, 3), str(round(v))]
                for k, v in sorted(counts.items(), key=lambda kv: (rank.get(_split(kv[0], 3)[1], 9), kv[0]))
            ],
        )
    )
    sec.notes.append(
        "Error messages are not metrics: they are in the trading exporter's log only, on the "
        f"{LOGS_DASHBOARD} dashboard."
    )


# --------------------------------------------------------------------------- decisions


def s_decisions(b: Any, sec: Section) -> None:
    stages = b.by(
        "decisions_by_stage", counted("tradewatch_trading_decisions_total", "provider, stage", b.R), "provider", "stage"
    )
    open_now = b.by("open_decisions", "sum by (provider) (tradewatch_trading_open_decisions)", "provider")
    providers = sorted({_split(k, 2)[0] for k in stages} | set(open_now))
    sec.data["providers"] = {
        p: {
            **{s: jnum(stages.get(f"{p},{s}", math.nan)) for s in STAGES},
            "open_at_end": jnum(open_now.get(p, math.nan)),
        }
        for p in providers
    }
    if not providers:
        sec.notes.append("No decisions reported in this period (tradewatch_trading_decisions_total).")
        return
    for s in ("made", "approved", "executed"):
        sec.figures.append(
            (f"Decisions {s}", fnum(math.fsum(v for k, v in _finite(stages).items() if k.endswith(f",{s}")), 0))
        )
    sec.figures.append(("Open at end", fnum(math.fsum(_finite(open_now).values()), 0)))
    sec.tables.append(
        Table(
            "Decisions by provider and stage",
            ["provider", *STAGES, "open at end"],
            [
                [p, *(fnum(stages.get(f"{p},{s}", math.nan), 0) for s in STAGES), fnum(open_now.get(p, math.nan), 0)]
                for p in providers
            ],
        )
    )
    sec.notes.append(
        "Stages counted in the period; open = made with a decision_id and not yet rejected, executed, failed "
        "or expired, at the end of the period."
    )
