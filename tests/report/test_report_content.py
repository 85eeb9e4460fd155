"""A daily report over a backfilled trading day served by a real Prometheus: numbers against direct
PromQL and against the known facts of the generated day, every section, valid inline PNGs, gaps."""

from __future__ import annotations

import base64
import math
import re
import struct

import backfill
import backfill_health
import numpy as np
import pytest
import requests

from tradewatch.report import render
from tradewatch.report.desk import comparison_exprs
from tradewatch.report.period import resolve
from tradewatch.report.query import Prometheus
from tradewatch.report.sections import SECTION_TITLES, Options

pytestmark = pytest.mark.e2e

B = backfill.START  # period start, UTC midnight


def promql(url: str, expr: str, at: float) -> float:
    body = requests.get(url + "/api/v1/query", params={"query": expr, "time": at}, timeout=10).json()
    result = body["data"]["result"]
    assert body["status"] == "success", body
    return float(result[0]["value"][1]) if result else math.nan


@pytest.fixture(scope="module")
def daily(backfilled):
    period = resolve("daily", "2026-11-16", "UTC", chart_step=300, resolution=60)
    prom = Prometheus(backfilled.url)
    report = render.build(prom, period, Options(["trading", "model", "system"]), name="desk-daily")
    return report, report.document()["sections"], backfilled


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_period_is_the_given_day(daily):
    report, _, _ = daily
    assert (report.period.start, report.period.end) == (B, B + 86400)
    assert report.period.label() == "Mon 16 Nov 2026 00:00 to Tue 17 Nov 2026 00:00 UTC"


def test_numbers_match_direct_promql(daily):
    _report, s, bf = daily
    url, end = bf.url, B + 86400
    eq, ex = s["equity"]["data"], s["execution"]["data"]
    assert eq["equity_start"] == pytest.approx(promql(url, 'tradewatch_trading_equity{account="main"}', B))
    assert eq["equity_start"] == pytest.approx(bf.expected["equity_start"])
    assert eq["equity_end"] == pytest.approx(bf.expected["equity_end"])
    assert eq["equity_end"] == pytest.approx(promql(url, 'tradewatch_trading_equity{account="main"}', end))
    assert eq["max_drawdown_ratio"] == pytest.approx(
        promql(url, 'max_over_time(tradewatch_trading_drawdown_ratio{account="main"}[1d])', end)
    )
    assert eq["max_drawdown_ratio"] == pytest.approx(bf.expected["max_drawdown_in_day_ratio"])
    assert eq["max_drawdown_ratio"] > 0.05  # the generated day breaches the 5 % limit
    desk2 = bf.expected["desk2_equity_last"] - bf.expected["desk2_equity_first"]
    assert s["pnl"]["data"]["total"] == pytest.approx(eq["equity_end"] - eq["equity_start"] + desk2)
    buckets = s["pnl"]["data"]["buckets"]
    assert len(buckets) == 24
    assert sum(b["pnl"] for b in buckets) == pytest.approx(s["pnl"]["data"]["total"])
    assert buckets[13]["pnl"] == pytest.approx(  # 13:00-14:00, the bad hour
        promql(url, "sum(tradewatch_trading_equity)", B + 14 * 3600)
        - promql(url, "sum(tradewatch_trading_equity)", B + 13 * 3600)
    )
    assert buckets[13]["pnl"] < -3000
    assert ex["orders"]["submitted"] == pytest.approx(
        promql(url, 'sum(increase(tradewatch_trading_orders_total{status="submitted"}[1d]))', end)
    )
    assert ex["orders"]["submitted"] == pytest.approx(bf.expected["orders_submitted"])
    assert ex["fill_latency_seconds"]["p95"] == pytest.approx(
        promql(
            url,
            "histogram_quantile(0.95, sum by (le) "
            "(increase(tradewatch_trading_order_fill_latency_seconds_bucket[1d])))",
            end,
        )
    )
    # The _sum of slippage goes down with price improvement: the mean must not treat that as a reset.
    # notional-weighted, from the slippage cost counters (backfill_desk): never "n/a" again
    d0, d1 = bf.expected["desk_0"], bf.expected["desk_86400"]
    weighted = (d1["cost"] - d0["cost"]) / (d1["notional"] - d0["notional"]) * 1e4
    assert ex["slippage_bps"]["mean"] == pytest.approx(weighted, rel=1e-6)
    assert ex["slippage_bps"]["mean"] != pytest.approx(bf.expected["slippage_mean_bps"], rel=1e-3)
    assert 0.5 < ex["slippage_bps"]["mean"] < 2.5
    assert ex["slippage_bps"]["count"] == pytest.approx(bf.expected["slippage_count"])
    perf = s["performance"]["data"]
    assert perf["strategies"]["momentum"]["win_rate_ratio"] == pytest.approx(0.55)
    assert perf["strategies"]["meanrev"]["profit_factor"] == pytest.approx(0.9)
    assert perf["accounts"]["main"]["sharpe_ratio"] == pytest.approx(
        promql(url, "tradewatch_trading_sharpe_ratio", end)
    )
    ai = s["ai_spend"]["data"]
    assert ai["spend_usd"] == pytest.approx(promql(url, "sum(increase(tradewatch_ai_cost_usd_total[1d]))", end))
    assert ai["spend_usd"] == pytest.approx(0.7 * 24, rel=0.01)  # 0.5 + 0.2 USD per hour
    assert ai["budget_for_period_usd"] == pytest.approx(10.0)  # 300 USD / 30 days
    assert ai["budget_used_ratio"] == pytest.approx(ai["spend_usd"] / 10.0)


def test_risk_events_and_their_durations(daily):
    _, s, _ = daily
    risk = s["risk"]["data"]
    kills = risk["kill_switch_active"]
    assert [(k["start"] - B, k["end"] - B) for k in kills] == [backfill.KILL, backfill.KILL2]
    assert round(risk["kill_switch_activations"]["daily_loss"]) == 1
    # The second engagement's counter is born at 1: increase() misses it, the state change does not.
    assert round(sum(risk["kill_switch_activations"].values())) == len(kills) == 2
    figures = dict(s["risk"]["figures"])
    assert figures["Kill switch activations"] == "2"
    [opened] = risk["circuit_breaker_open"]["binance"]
    assert (opened["start"] - B, opened["end"] - B) == backfill.BREAKER
    assert round(risk["volatility_breaches"]["ETH-USD"]) == 3
    assert risk["position_limit_breaches"] == ["ETH-USD"]
    assert any("breached the limit" in n for n in s["pnl"]["notes"])


def test_alerts_with_firing_intervals(daily):
    _, s, _ = daily
    fired = s["alerts"]["data"]["fired"]
    got = sorted((a["alertname"], a["start"] - B, a["end"] - B) for a in fired)
    want = sorted((labels["alertname"], a, b) for labels, a, b in backfill.ALERT_SPANS)
    assert got == want  # pending ModelDrift is not an alert that fired; Watchdog is ignored
    by_name = s["alerts"]["data"]["by_alertname"]
    assert by_name["HighFillLatency"] == {"times_fired": 2, "firing_seconds": 55 * 60.0}
    assert fired[0]["labels"]["severity"] == "critical"


def test_model_freshness_and_system(daily):
    _, s, _ = daily
    model = s["model"]["data"]
    assert [(d["model"], d["feature"]) for d in model["drifted_features"]] == [("direction-clf", "volume_z")]
    assert model["drifted_features"][0]["psi_max"] == pytest.approx(0.31)
    assert model["models"]["direction-clf"]["accuracy_ratio"] == pytest.approx(0.54, abs=1e-3)
    incidents = {(i["kind"], i["subject"]): (i["start"] - B, i["end"] - B) for i in s["freshness"]["data"]["incidents"]}
    assert incidents[("stale market data", "ETH-USD")] == backfill.STALE_ETH
    assert incidents[("no data from exporter", "trading")] == backfill.TRADING_GAP
    assert round(s["freshness"]["data"]["market_data_gaps"]["ETH-USD"]) == 2
    [down] = s["system"]["data"]["component_down"]["strategy-engine"]
    assert (down["start"] - B, down["end"] - B) == backfill.COMPONENT_DOWN
    assert s["system"]["data"]["cpu_utilisation_max_ratio"] == pytest.approx(0.3, abs=0.01)
    assert round(s["system"]["data"]["exporter_errors"]["ingest"]) == 2


def test_gap_is_a_gap_in_words_and_in_the_chart(daily):
    report, s, _ = daily
    [gap] = s["coverage"]["data"]["trading"]["gaps"]
    assert (gap["start"] - B, gap["end"] - B) == backfill.TRADING_GAP
    assert s["coverage"]["data"]["model"]["gaps"] == [] and s["coverage"]["data"]["system"]["gaps"] == []
    words = "No data from the trading exporter from 02:10 to 02:40 UTC (30 min)."
    assert words in s["coverage"]["notes"] and words in s["equity"]["notes"]
    assert words in report.html()
    equity = next(sec for sec in report.sections if sec.id == "equity")
    line = next(x.series for x in equity.charts[0].panels[0].lines if x.label == "main")
    inside = (line.t > B + backfill.TRADING_GAP[0]) & (line.t < B + backfill.TRADING_GAP[1])
    assert inside.sum() >= 5 and np.isnan(line.v[inside]).all()
    assert np.isfinite(line.v[~inside]).all()  # only the gap is missing ...
    assert (line.v[np.isfinite(line.v)] > 90_000).all()  # ... and nothing was drawn as zero
    assert equity.charts[0].gaps[0].start == B + backfill.TRADING_GAP[0]


def test_html_has_every_section_and_valid_inline_pngs(daily):
    report, s, _ = daily
    page = report.html()
    for sid, title in SECTION_TITLES.items():
        assert f'<section id="{sid}"><h2>' in page, sid
        assert s[sid]["error"] is None, (sid, s[sid]["error"])
        assert title.replace("&", "&amp;") in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"', page)
    names = [c for sec in s.values() for c in sec["charts"]]
    assert len(images) == len(names) == len(report.images) >= 8
    for b64, alt in images:
        width, height = png_size(base64.b64decode(b64, validate=True))
        assert 700 <= width <= 1200 and 200 <= height <= 1200, (alt, width, height)
        assert "Mon 16 Nov 2026 00:00 to Tue 17 Nov 2026 00:00 UTC" in alt
    assert "cid:" not in page


def test_written_files(daily, tmp_path):
    report, s, _ = daily
    paths = report.write(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.html", "report.json", "equity_drawdown.png", "pnl.png", "alerts.png"} <= names
    import json

    doc = json.loads(paths["json"].read_text())
    assert doc["period"]["timezone"] == "UTC" and doc["kind"] == "daily"
    assert doc["sections"]["pnl"]["data"]["total"] == pytest.approx(s["pnl"]["data"]["total"])
    assert "increase(tradewatch_trading_orders_total" in doc["queries"]["orders"]
    for name in doc["sections"]["equity"]["charts"]:
        png_size((tmp_path / name).read_bytes())


def test_weekly_report_names_the_days_without_data(backfilled):
    period = resolve("weekly", "2026-11-16", "Europe/London", chart_step=1800, resolution=60)
    report = render.build(Prometheus(backfilled.url), period, Options(["trading", "model", "system"]), name="weekly")
    s = report.document()["sections"]
    # Data exists only for Monday 16 Nov (plus its lead hour): the six days before are one gap.
    first = s["coverage"]["data"]["model"]["gaps"][0]
    assert first["began_before_period"] and first["end"] == pytest.approx(B - backfill.LEAD, abs=60)
    assert "No data from the model exporter from Tue 10 Nov 00:00 to Sun 15 Nov 23:00 GMT" in " ".join(
        s["coverage"]["notes"]
    )
    assert len(s["pnl"]["data"]["buckets"]) == 7
    # A stack younger than the period: the report says how much of it has data, first.
    assert s["coverage"]["notes"][0].startswith(
        "The stack has data only since Sun 15 Nov 23:00 GMT: 25 h 00 min of this 7 d"
    )
    assert s["coverage"]["data"]["data_since"] == pytest.approx(B - backfill.LEAD, abs=60)
    # No data is not zero: five days have none; Sunday has its last (lead) hour, counted from the
    # first value the account reported, as for an account that opens during a bucket.
    assert sum(1 for b in s["pnl"]["data"]["buckets"] if b["pnl"] is None) == 5
    assert s["alerts"]["data"]["by_alertname"]["HighFillLatency"]["times_fired"] == 2


def test_an_exporter_never_seen_is_named(backfilled):
    period = resolve("daily", "2026-11-16", "UTC", chart_step=900, resolution=60)
    report = render.build(Prometheus(backfilled.url), period, Options(["system", "execution-gateway"]), name="x")
    coverage = report.document()["sections"]["coverage"]
    [gap] = coverage["data"]["execution-gateway"]["gaps"]
    assert gap["began_before_period"] and gap["ongoing_at_end"] and gap["seconds"] == 86400
    assert coverage["data"]["execution-gateway"]["covered_ratio"] == 0
    assert "No data from the execution-gateway exporter during the whole period." in coverage["notes"]


def test_headline_with_an_account_opened_mid_period(daily):
    """desk2 opens at 10:00 with a balance as large as main's: the headline change and return are
    main's alone (present at both ends), desk2 is listed with its own change, P&L adds both."""
    _, s, bf = daily
    e = bf.expected
    eq = s["equity"]["data"]
    main_change = e["equity_end"] - e["equity_start"]
    assert eq["headline_accounts"] == ["main"]
    assert eq["other_accounts"] == ["desk2"]
    assert eq["equity_change"] == pytest.approx(main_change)
    assert eq["return_ratio"] == pytest.approx(main_change / e["equity_start"])
    assert abs(eq["return_ratio"]) < 0.2  # not the doubled book (~+100 %)
    desk2 = eq["accounts"]["desk2"]
    assert desk2["first_seen"] - B == backfill.DESK2_OPEN
    assert desk2["in_headline"] is False
    assert desk2["change"] == pytest.approx(e["desk2_equity_last"] - e["desk2_equity_first"])
    figures = dict(s["equity"]["figures"])
    assert figures["Equity at end"] == f"{e['equity_end']:,.2f}"
    assert figures["Change"] == f"{main_change:+,.2f}"
    assert figures["Return"] == f"{main_change / e['equity_start'] * 100:.2f}%"
    assert any("main" in n and "both ends" in n for n in s["equity"]["notes"])
    [accounts] = [t for t in s["equity"]["tables"] if t["title"] == "Accounts"]
    assert [r[0] for r in accounts["rows"]] == ["desk2", "main"]
    pnl = s["pnl"]["data"]
    assert pnl["total"] == pytest.approx(main_change + desk2["change"])
    # No bucket takes desk2's opening balance for P&L.
    assert max(abs(b["pnl"]) for b in pnl["buckets"]) < 10_000
    # Realized P&L by strategy: arb was born during the period and still has its row.
    realized = pnl["realized_by_strategy"]
    assert realized["arb"] == pytest.approx(e["arb_realized"])
    assert realized["momentum"] == pytest.approx(e["momentum_realized_change"])
    ai = dict(s["ai_spend"]["figures"])
    assert "n/a" not in " ".join(ai.values())


# ---- issue 12: attribution, costs and period over period (facts summed in backfill_desk)


def _day(bf) -> tuple[dict, dict]:
    return bf.expected["desk_0"], bf.expected["desk_86400"]


def test_pnl_by_symbol_fees_and_slippage_match_the_generated_day(daily):
    _report, s, bf = daily
    a = s["attribution"]["data"]
    d0, d1 = _day(bf)
    for symbol in backfill_symbols(d1):
        assert a["realized_by_symbol"][symbol] == pytest.approx(d1["realized"][symbol] - d0["realized"].get(symbol, 0))
        assert a["realized_by_strategy_symbol"][f"momentum,{symbol}"] == pytest.approx(a["realized_by_symbol"][symbol])
    assert a["realized_by_symbol"]["ETH-USD"] < 0  # the losing instrument
    assert a["bottom_symbols"][0] == "ETH-USD" and a["top_symbols"][-1] == "ETH-USD"
    assert a["fees_total"] == pytest.approx(d1["fees"] - d0["fees"], rel=1e-6)
    mean = (d1["cost"] - d0["cost"]) / (d1["notional"] - d0["notional"]) * 1e4
    assert a["mean_slippage_bps_by_strategy_venue"]["momentum,binance"] == pytest.approx(mean, rel=1e-6)
    figures = dict(s["attribution"]["figures"])
    assert figures["Worst symbol"].startswith("ETH-USD -")


def backfill_symbols(facts: dict) -> list[str]:
    return sorted(facts["realized"])


def test_period_over_period_against_the_facts_and_direct_promql(daily):
    report, s, bf = daily
    c = s["comparison"]["data"]
    d0, d1 = _day(bf)
    trades, losing = d1["trades"] - d0["trades"], d1["losing_trades"] - d0["losing_trades"]
    assert c["win_rate_ratio"]["current"] == pytest.approx(1 - losing / trades, rel=1e-6)
    assert c["fill_ratio"]["current"] == pytest.approx(
        (d1["filled"] - d0["filled"]) / (d1["terminal"] - d0["terminal"]), rel=1e-6
    )
    assert c["mean_slippage_bps"]["current"] == pytest.approx(s["execution"]["data"]["slippage_bps"]["mean"])
    exprs = comparison_exprs(report.period.range)
    for key, expr in exprs.items():
        # the previous day is the same expression one day earlier (here: the hour of data before the day)
        before = promql(bf.url, expr, B)
        assert (c[key]["previous"] is None and math.isnan(before)) or c[key]["previous"] == pytest.approx(before)
        assert c[key]["current"] == pytest.approx(promql(bf.url, expr, B + 86400))
    assert c["fees"]["previous"] < c["fees"]["current"]  # an hour against a day
    stats = c["trade_statistics"]["momentum"]
    assert (stats["win_rate_ratio"], stats["rolling_win_rate_ratio"], stats["session_win_rate_ratio"]) == (
        0.55,
        0.41,
        0.38,
    )
    assert stats["rolling_profit_factor"] == 0.8 and stats["session_expectancy"] == -3.5


# ---- issue 12: limits in percent, API health, the bot's errors, decisions (facts in backfill_health)


def _health(bf) -> tuple[dict, dict]:
    return bf.expected["health_0"], bf.expected["health_86400"]


def _quantile(q: float, bounds: tuple, counts: np.ndarray) -> float:
    """histogram_quantile's linear interpolation, recomputed from the generated bucket counts."""
    rank = q * counts[-1]
    i = int(np.searchsorted(counts, rank))
    lower, below = (0.0, 0.0) if i == 0 else (bounds[i - 1], counts[i - 1])
    return lower + (bounds[i] - lower) * (rank - below) / (counts[i] - below)


def test_limit_usage_in_percent_against_the_generated_day(daily):
    _, s, bf = daily
    h1, peak = bf.expected["health_86400"], bf.expected["health_peak"]
    main = s["limits"]["data"]["accounts"]["main"]
    for limit in ("daily_loss", "drawdown", "take_profit", "stop_loss"):
        assert main[limit]["usage_end_ratio"] == pytest.approx(h1["usage"][limit], abs=1e-9), limit
        assert main[limit]["usage_peak_ratio"] == pytest.approx(peak[limit], abs=1e-9), limit
        assert main[limit]["reached"] is (peak[limit] >= 1), limit
    assert main["stop_loss"]["reached"] and not main["take_profit"]["reached"]
    assert (
        main["daily_loss"]["limit"] == 2000 and s["limits"]["data"]["accounts"]["desk2"]["daily_loss"]["limit"] == 1000
    )
    assert main["margin"]["usage_peak_ratio"] == pytest.approx(peak["margin"])
    [table] = [t for t in s["limits"]["tables"] if t["title"] == "Limits in use and their usage"]
    row = next(r for r in table["rows"] if r[:2] == ["main", "stop loss"])
    assert row[4] == f"{peak['stop_loss'] * 100:.1f}%" and row[5] == "yes"
    assert "main stop-loss" in " ".join(s["limits"]["notes"])


def test_api_health_against_the_generated_calls(daily):
    _, s, bf = daily
    h0, h1 = _health(bf)
    api = s["api_health"]["data"]
    errors_all = calls_all = 0.0
    for (p, ep), counts in h1["buckets"].items():
        calls = {c: h1["calls"][(p, ep, c)] - h0["calls"].get((p, ep, c), 0.0) for c in backfill_health.CLASSES}
        got = api["endpoints"][f"{p},{ep}"]
        assert got["calls"] == pytest.approx(sum(calls.values()), rel=1e-3), (p, ep)
        errors = calls["5xx"] + calls["timeout"] + calls["error"]
        assert got["error_ratio"] == pytest.approx(errors / sum(calls.values()), rel=1e-3)
        errors_all, calls_all = errors_all + errors, calls_all + sum(calls.values())
        day = counts - h0["buckets"].get((p, ep), np.zeros_like(counts))
        for q, key in ((0.95, "latency_p95_seconds"), (0.99, "latency_p99_seconds")):
            if p != "openai":  # born at 08:00: increase() of its buckets starts from the first scrape
                assert got[key] == pytest.approx(_quantile(q, backfill_health.API_BUCKETS, day), rel=1e-3), (p, ep, q)
    cache = {k: h1["cache"][k] - h0["cache"][k] for k in ("hit", "miss")}
    assert api["endpoints"]["openai,chat"]["cache_hit_ratio"] == pytest.approx(
        cache["hit"] / sum(cache.values()), rel=1e-2
    )
    assert api["endpoints"]["binance,orders"]["cache_hit_ratio"] is None
    assert api["calls_total"] == pytest.approx(calls_all, rel=1e-3)
    assert api["error_ratio"] == pytest.approx(errors_all / calls_all, rel=1e-3)
    # the degraded order API is the slow one
    assert (
        api["endpoints"]["binance,orders"]["latency_p99_seconds"]
        > api["endpoints"]["binance,market_data"]["latency_p99_seconds"]
    )
    assert dict(s["api_health"]["figures"])["Slowest p99"].startswith("binance orders ")


def test_errors_count_the_lone_critical_born_at_one(daily):
    _, s, bf = daily
    h0, h1 = _health(bf)
    want = {
        ",".join(k): v - h0["errors"].get(k, 0.0) for k, v in h1["errors"].items() if v - h0["errors"].get(k, 0.0) > 0
    }
    got = s["errors"]["data"]["counts"]
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-3), k  # increase() alone: 0 critical, 1 error
    assert s["errors"]["data"]["critical"] == [
        {"component": "strategy-engine", "severity": "critical", "kind": "database", "count": pytest.approx(1.0)}
    ]
    assert dict(s["errors"]["figures"])["Critical"] == "1"
    notes = " ".join(s["errors"]["notes"])
    assert "strategy-engine database x1" in notes and "Logs" in notes


def test_decisions_made_approved_executed_and_open(daily):
    _, s, bf = daily
    h0, h1 = _health(bf)
    got = s["decisions"]["data"]["providers"]["openai"]
    for stage in backfill_health.STAGES:
        assert got[stage] == pytest.approx(h1["decisions"][stage] - h0["decisions"][stage], rel=1e-3, abs=1e-9), stage
    assert got["open_at_end"] == h1["open"]
    assert dict(s["decisions"]["figures"])["Decisions executed"] == f"{got['executed']:,.0f}"


def test_health_sections_say_so_plainly_without_data(backfilled):
    """A day with none of these series: plain words, no 'nan', no crash."""
    period = resolve("daily", "2026-11-10", "UTC", chart_step=3600, resolution=600)
    report = render.build(Prometheus(backfilled.url), period, Options(["trading"]), name="empty")
    s = report.document()["sections"]
    assert "No API calls reported in this period" in s["api_health"]["notes"][0]
    assert "No errors reported" in s["errors"]["notes"][0]
    assert "No decisions reported" in s["decisions"]["notes"][0]
    assert "No risk limits reported" in s["limits"]["notes"][0]
    for sid in ("limits", "api_health", "errors", "decisions"):
        assert s[sid]["error"] is None
    assert "nan" not in report.json_bytes().decode().lower().replace("nanos", "")
