"""A deterministic trading day as OpenMetrics with timestamps, for ``promtool tsdb
create-blocks-from openmetrics``: a realistic 24 h of exporter output (and ALERTS) in seconds.

Known facts the tests check are constants here: the trading exporter is down from 02:10 to 02:40,
the kill switch is engaged 14:00-14:25, the breaker for binance is open 06:00-06:12, and so on.
Times are offsets from the period start ``START`` (UTC).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import backfill_desk
import backfill_health
import numpy as np

START = datetime(2026, 11, 16, tzinfo=UTC).timestamp()
END = START + 86400
LEAD = 3600  # data before the period, so offsets and increases have a baseline
SCRAPE = 30
H, M = 3600, 60

TRADING_GAP = (2 * H + 10 * M, 2 * H + 40 * M)
KILL = (14 * H, 14 * H + 25 * M)
# A second engagement whose activations counter is born at 1 (no sample before it): increase()
# alone would miss it.
KILL2 = (20 * H, 20 * H + 10 * M)
# A second account (and a strategy of its own) opened mid-day with a balance like the first one's:
# a report that sums accounts would double the book's "return".
DESK2_OPEN = 10 * H
BREAKER = (6 * H, 6 * H + 12 * M)
STALE_ETH = (9 * H, 9 * H + 20 * M)
COMPONENT_DOWN = (11 * H, 11 * H + 5 * M)
ALERT_SPANS = [  # (labels, start, end)
    (
        {"alertname": "TradingExporterDown", "severity": "critical", "job": "trading"},
        2 * H + 12 * M,
        2 * H + 40 * M,
    ),
    ({"alertname": "KillSwitchEngaged", "severity": "critical"}, *KILL),
    ({"alertname": "KillSwitchEngaged", "severity": "critical"}, *KILL2),
    ({"alertname": "HighFillLatency", "severity": "warning", "venue": "binance"}, 18 * H, 18 * H + 45 * M),
    ({"alertname": "HighFillLatency", "severity": "warning", "venue": "binance"}, 21 * H, 21 * H + 10 * M),
]
PENDING = ({"alertname": "ModelDrift", "severity": "warning"}, 20 * H, 20 * H + 4 * M)
# The alerting pipeline's dead man's switch fires all day; the report leaves it out.
WATCHDOG = ({"alertname": "Watchdog", "severity": "info"}, -LEAD, 86400 + 1)
LAT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1.0, math.inf]
SLIP_BUCKETS = [-5.0, 0.0, 2.0, 5.0, 10.0, math.inf]


class Families:
    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.samples: dict[str, list[tuple[str, dict[str, str], float, float]]] = defaultdict(list)

    def add(self, family: str, kind: str, name: str, labels: dict[str, str], ts: float, value: float) -> None:
        self.types[family] = kind
        self.samples[family].append((name, labels, ts, value))

    def text(self) -> str:
        out = []
        for family, kind in self.types.items():
            out.append(f"# TYPE {family} {kind}")
            for name, labels, ts, value in self.samples[family]:
                lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
                val = "+Inf" if value == math.inf else repr(float(value))
                out.append(f"{name}{{{lab}}} {val} {ts:.0f}" if lab else f"{name} {val} {ts:.0f}")
        out.append("# EOF")
        return "\n".join(out) + "\n"


def _in(off: float, span: tuple[float, float]) -> bool:
    return span[0] <= off < span[1]


def generate(days: int = 1) -> tuple[str, dict[str, float]]:
    """OpenMetrics text and a few expected values computed while generating. The events above
    happen on the first day; further days (for benchmarks) are ordinary trading."""
    rng = np.random.default_rng(7)
    rng2 = np.random.default_rng(11)  # desk2's own stream: the first account's day stays the same
    desk2_equity, arb_realized = 100_000.0, 0.0
    f = Families()
    times = np.arange(START - LEAD, START + days * 86400 + 1, SCRAPE)
    equity, hwm, max_dd = 100_000.0, 100_000.0, 0.0
    session_start_equity = None
    realized = {"momentum": 0.0, "meanrev": 0.0}
    trades = defaultdict(float)
    orders = defaultdict(float)
    rejections = defaultdict(float)
    hist = {
        "fill": np.zeros(len(LAT_BUCKETS)),
        "ack": np.zeros(len(LAT_BUCKETS)),
        "slip": np.zeros(len(SLIP_BUCKETS)),
    }
    hist_sum = defaultdict(float)
    cost = {"openai": 0.0, "anthropic": 0.0}
    preds = 0.0
    cpu = {"idle": 0.0, "user": 0.0, "system": 0.0}
    kill_acts = vol_breaches = gaps_eth = breaker_opens = errors = 0.0
    expected = {}
    desk = backfill_desk.Desk()
    health = backfill_health.Health()
    for ts in times:
        off = ts - START
        trading_up = not _in(off, TRADING_GAP)
        # ---- evolve state every scrape, even when nobody scrapes it
        equity += rng.normal(1.2, 40.0)
        if _in(off, (13 * H, 14 * H)):
            equity -= 45  # a bad hour before the kill switch
        hwm = max(hwm, equity)
        desk2_open = off >= DESK2_OPEN
        if off > DESK2_OPEN:
            desk2_equity += rng2.normal(2.0, 30.0)
            if rng2.random() < 0.1:
                arb_realized += rng2.normal(3.0, 10.0)
        dd = 1 - equity / hwm
        max_dd = max(max_dd, dd)
        if off >= 0 and session_start_equity is None:
            session_start_equity = equity
        for s, drift in (("momentum", 0.6), ("meanrev", 0.2)):
            if rng.random() < 0.1:
                pnl = rng.normal(drift * 10, 25)
                realized[s] += pnl
                trades[(s, "take_profit" if pnl > 0 else "stop_loss")] += 1
        n = rng.poisson(0.8)
        for _ in range(n):
            orders["submitted"] += 1
            orders["acknowledged"] += 1
            r = rng.random()
            status = "filled" if r < 0.85 else ("cancelled" if r < 0.95 else "rejected")
            orders[status] += 1
            if status == "rejected":
                rejections["rate_limited" if rng.random() < 0.5 else "risk_limit"] += 1
                continue
            slow = 3.0 if _in(off, (18 * H, 18 * H + 45 * M)) else 1.0
            for key, x in (("ack", rng.lognormal(-3.5, 0.4)), ("fill", rng.lognormal(-2.5, 0.6) * slow)):
                hist[key] += np.array([x <= b for b in LAT_BUCKETS], dtype=float)
                hist_sum[key] += x
            sl = rng.normal(1.5, 3.0)
            hist["slip"] += np.array([sl <= b for b in SLIP_BUCKETS], dtype=float)
            hist_sum["slip"] += sl
            desk.fill(sl)
        desk.step(off)
        health.step(off, equity, hwm, session_start_equity)
        cost["openai"] += 0.5 / 120
        cost["anthropic"] += 0.2 / 120
        preds += rng.poisson(2)
        cpu["idle"] += SCRAPE * 2 * 0.7
        cpu["user"] += SCRAPE * 2 * 0.2
        cpu["system"] += SCRAPE * 2 * 0.1
        if off == KILL[0]:
            kill_acts += 1
        if off in (4 * H, 12 * H, 16 * H):
            vol_breaches += 1
        if off in (STALE_ETH[0], 22 * H):
            gaps_eth += 1
        if off == BREAKER[0]:
            breaker_opens += 1
        if off in (5 * H, 23 * H):
            errors += 1
        if off in (0, 86400):
            expected[f"desk_{off:.0f}"] = desk.facts()
            expected[f"health_{off:.0f}"] = health.facts()
        if off == 0:
            expected["equity_start"] = equity
            expected["momentum_realized_start"] = realized["momentum"]
            slip0 = (hist_sum["slip"], hist["slip"][-1])
            submitted0 = orders["submitted"]
        if off == DESK2_OPEN:
            expected["desk2_equity_first"] = desk2_equity
        if off == 86400:
            expected["equity_end"] = equity
            expected["desk2_equity_last"] = desk2_equity
            expected["arb_realized"] = arb_realized
            expected["momentum_realized_change"] = realized["momentum"] - expected["momentum_realized_start"]
            expected["orders_submitted"] = orders["submitted"] - submitted0
        if 0 <= off <= 86400 and trading_up:
            expected["max_drawdown_in_day_ratio"] = max(expected.get("max_drawdown_in_day_ratio", 0.0), dd)

        # ---- exposition at this timestamp
        g = "gauge"
        f.add(
            "tradewatch_build_info",
            g,
            "tradewatch_build_info",
            {"exporter": "model-exporter", "version": "0.1.0", "python_version": "3.11"},
            ts,
            1,
        )
        f.add(
            "tradewatch_build_info",
            g,
            "tradewatch_build_info",
            {"exporter": "system-exporter", "version": "0.1.0", "python_version": "3.11"},
            ts,
            1,
        )
        # ALERTS come from Prometheus itself, so they exist during the exporter gap too.
        for labels, a, b in [*ALERT_SPANS, PENDING, WATCHDOG]:
            if a <= off < b:
                state = "pending" if labels is PENDING[0] else "firing"
                f.add("ALERTS", g, "ALERTS", {**labels, "alertstate": state}, ts, 1)
        _model(f, ts, off, preds, cost)
        _system(f, ts, off, cpu, errors)
        if not trading_up:
            continue
        f.add(
            "tradewatch_build_info",
            g,
            "tradewatch_build_info",
            {"exporter": "trading-exporter", "version": "0.1.0", "python_version": "3.11"},
            ts,
            1,
        )
        desk.emit(f, ts)
        health.emit(f, ts, off, desk2_open)
        if desk2_open:
            f.add("tradewatch_trading_equity", g, "tradewatch_trading_equity", {"account": "desk2"}, ts, desk2_equity)
            f.add(
                "tradewatch_trading_realized_pnl",
                g,
                "tradewatch_trading_realized_pnl",
                {"strategy": "arb"},
                ts,
                arb_realized,
            )
        acct = {"account": "main"}
        f.add("tradewatch_trading_equity", g, "tradewatch_trading_equity", acct, ts, equity)
        f.add("tradewatch_trading_high_water_mark", g, "tradewatch_trading_high_water_mark", acct, ts, hwm)
        f.add("tradewatch_trading_drawdown_ratio", g, "tradewatch_trading_drawdown_ratio", acct, ts, dd)
        f.add(
            "tradewatch_trading_max_drawdown_ratio",
            g,
            "tradewatch_trading_max_drawdown_ratio",
            acct,
            ts,
            max_dd,
        )
        f.add(
            "tradewatch_trading_drawdown_limit_ratio",
            g,
            "tradewatch_trading_drawdown_limit_ratio",
            acct,
            ts,
            0.05,
        )
        f.add(
            "tradewatch_trading_daily_pnl",
            g,
            "tradewatch_trading_daily_pnl",
            acct,
            ts,
            equity - (session_start_equity or equity),
        )
        f.add("tradewatch_trading_daily_loss_limit", g, "tradewatch_trading_daily_loss_limit", acct, ts, 2000)
        f.add(
            "tradewatch_trading_sharpe_ratio",
            g,
            "tradewatch_trading_sharpe_ratio",
            acct,
            ts,
            1.4 + 0.3 * math.sin(off / 20000),
        )
        f.add(
            "tradewatch_trading_sortino_ratio",
            g,
            "tradewatch_trading_sortino_ratio",
            acct,
            ts,
            2.1 + 0.3 * math.sin(off / 20000),
        )
        for s in realized:
            lab = {"strategy": s}
            f.add("tradewatch_trading_realized_pnl", g, "tradewatch_trading_realized_pnl", lab, ts, realized[s])
            f.add(
                "tradewatch_trading_win_rate_ratio",
                g,
                "tradewatch_trading_win_rate_ratio",
                lab,
                ts,
                0.55 if s == "momentum" else 0.48,
            )
            f.add(
                "tradewatch_trading_profit_factor",
                g,
                "tradewatch_trading_profit_factor",
                lab,
                ts,
                1.6 if s == "momentum" else 0.9,
            )
            f.add(
                "tradewatch_trading_expectancy",
                g,
                "tradewatch_trading_expectancy",
                lab,
                ts,
                6.0 if s == "momentum" else -1.5,
            )
            f.add(
                "tradewatch_trading_fill_ratio",
                g,
                "tradewatch_trading_fill_ratio",
                lab,
                ts,
                0.93 if s == "momentum" else 0.88,
            )
        for (s, reason), v in trades.items():
            f.add(
                "tradewatch_trading_trades_closed_total",
                "counter",
                "tradewatch_trading_trades_closed_total",
                {"strategy": s, "exit_reason": reason},
                ts,
                v,
            )
        for status, v in orders.items():
            f.add(
                "tradewatch_trading_orders_total",
                "counter",
                "tradewatch_trading_orders_total",
                {
                    "strategy": "momentum",
                    "symbol": "BTC-USD",
                    "side": "buy",
                    "order_type": "limit",
                    "status": status,
                },
                ts,
                v,
            )
        for reason, v in rejections.items():
            f.add(
                "tradewatch_trading_order_rejections_total",
                "counter",
                "tradewatch_trading_order_rejections_total",
                {"venue": "binance", "reason": reason},
                ts,
                v,
            )
        for key, fam, buckets, lab in (
            ("fill", "tradewatch_trading_order_fill_latency_seconds", LAT_BUCKETS, {"venue": "binance"}),
            ("ack", "tradewatch_trading_order_ack_latency_seconds", LAT_BUCKETS, {"venue": "binance"}),
            ("slip", "tradewatch_trading_slippage_bps", SLIP_BUCKETS, {"venue": "binance", "side": "buy"}),
        ):
            for b, c in zip(buckets, hist[key], strict=True):
                le = "+Inf" if b == math.inf else repr(b)
                f.add(fam, "histogram", fam + "_bucket", {**lab, "le": le}, ts, c)
            f.add(fam, "histogram", fam + "_sum", lab, ts, hist_sum[key])
            f.add(fam, "histogram", fam + "_count", lab, ts, hist[key][-1])
        kill_on = 1.0 if _in(off, KILL) or _in(off, KILL2) else 0.0
        if off >= KILL2[0]:
            f.add(
                "tradewatch_trading_kill_switch_activations_total",
                "counter",
                "tradewatch_trading_kill_switch_activations_total",
                {"reason": "manual"},
                ts,
                1.0,
            )
        f.add(
            "tradewatch_trading_kill_switch_active",
            g,
            "tradewatch_trading_kill_switch_active",
            {},
            ts,
            kill_on,
        )
        f.add(
            "tradewatch_trading_kill_switch_activations_total",
            "counter",
            "tradewatch_trading_kill_switch_activations_total",
            {"reason": "daily_loss"},
            ts,
            kill_acts,
        )
        for state in ("closed", "open", "half_open"):
            on = _in(off, BREAKER) if state == "open" else (state == "closed" and not _in(off, BREAKER))
            f.add(
                "tradewatch_trading_circuit_breaker_state",
                g,
                "tradewatch_trading_circuit_breaker_state",
                {"service": "binance", "state": state},
                ts,
                1.0 if on else 0.0,
            )
        f.add(
            "tradewatch_trading_circuit_breaker_transitions_total",
            "counter",
            "tradewatch_trading_circuit_breaker_transitions_total",
            {"service": "binance", "state": "open"},
            ts,
            breaker_opens,
        )
        f.add(
            "tradewatch_trading_volatility_breaches_total",
            "counter",
            "tradewatch_trading_volatility_breaches_total",
            {"symbol": "ETH-USD"},
            ts,
            vol_breaches,
        )
        for sym, usage in (
            ("BTC-USD", 0.6 + 0.2 * math.sin(off / 9000)),
            ("ETH-USD", 1.05 if _in(off, (15 * H, 15 * H + 30 * M)) else 0.7),
        ):
            f.add(
                "tradewatch_trading_position_limit_usage_ratio",
                g,
                "tradewatch_trading_position_limit_usage_ratio",
                {"symbol": sym},
                ts,
                usage,
            )
            age = 300.0 if sym == "ETH-USD" and _in(off, STALE_ETH) else 1.0
            f.add(
                "tradewatch_market_data_age_seconds",
                g,
                "tradewatch_market_data_age_seconds",
                {"symbol": sym},
                ts,
                age,
            )
        f.add(
            "tradewatch_market_data_gaps_total",
            "counter",
            "tradewatch_market_data_gaps_total",
            {"symbol": "ETH-USD"},
            ts,
            gaps_eth,
        )
        f.add(
            "tradewatch_heartbeat_age_seconds",
            g,
            "tradewatch_heartbeat_age_seconds",
            {"component": "strategy-engine"},
            ts,
            5.0,
        )
    expected["max_drawdown_ratio"] = max_dd
    expected["health_peak"] = {**health.peak, "margin": health.margin_peak}
    if days == 1:
        expected["slippage_mean_bps"] = (hist_sum["slip"] - slip0[0]) / (hist["slip"][-1] - slip0[1])
        expected["slippage_count"] = hist["slip"][-1] - slip0[1]
    return f.text(), expected


def _model(f: Families, ts: float, off: float, preds: float, cost: dict[str, float]) -> None:
    g = "gauge"
    m = {"model": "direction-clf"}
    f.add(
        "tradewatch_model_accuracy_ratio",
        g,
        "tradewatch_model_accuracy_ratio",
        m,
        ts,
        0.62 - 0.08 * max(0, off) / 86400,
    )
    f.add(
        "tradewatch_model_calibration_error",
        g,
        "tradewatch_model_calibration_error",
        m,
        ts,
        0.04 + 0.03 * max(0, off) / 86400,
    )
    f.add("tradewatch_model_brier_score", g, "tradewatch_model_brier_score", m, ts, 0.21)
    f.add(
        "tradewatch_model_accuracy_vs_reference_ratio",
        g,
        "tradewatch_model_accuracy_vs_reference_ratio",
        m,
        ts,
        0.9,
    )
    f.add(
        "tradewatch_model_predictions_total",
        "counter",
        "tradewatch_model_predictions_total",
        {"model": "direction-clf", "version": "3", "predicted_class": "up"},
        ts,
        preds,
    )
    for feat in ("volume_z", "spread_bps", "rsi_14"):
        drifted = feat == "volume_z" and off >= 20 * H
        f.add(
            "tradewatch_model_feature_drifted",
            g,
            "tradewatch_model_feature_drifted",
            {**m, "feature": feat},
            ts,
            1.0 if drifted else 0.0,
        )
        f.add(
            "tradewatch_model_feature_psi",
            g,
            "tradewatch_model_feature_psi",
            {**m, "feature": feat},
            ts,
            0.31 if drifted else 0.03,
        )
    f.add("tradewatch_model_dataset_drift", g, "tradewatch_model_dataset_drift", m, ts, 0.0)
    for provider, model in (("openai", "gpt-4o-mini"), ("anthropic", "claude-haiku")):
        f.add(
            "tradewatch_ai_cost_usd_total",
            "counter",
            "tradewatch_ai_cost_usd_total",
            {"provider": provider, "model": model},
            ts,
            cost[provider],
        )
    f.add(
        "tradewatch_ai_calls_total",
        "counter",
        "tradewatch_ai_calls_total",
        {"provider": "openai", "model": "gpt-4o-mini", "status": "ok"},
        ts,
        (off + LEAD) / 30,
    )
    f.add("tradewatch_ai_monthly_budget_usd", g, "tradewatch_ai_monthly_budget_usd", {}, ts, 300.0)
    f.add(
        "tradewatch_ai_projected_monthly_cost_usd",
        g,
        "tradewatch_ai_projected_monthly_cost_usd",
        {},
        ts,
        0.7 * 24 * 30,
    )


def _system(f: Families, ts: float, off: float, cpu: dict[str, float], errors: float) -> None:
    g = "gauge"
    for mode, v in cpu.items():
        f.add(
            "tradewatch_host_cpu_seconds_total",
            "counter",
            "tradewatch_host_cpu_seconds_total",
            {"mode": mode},
            ts,
            v,
        )
    f.add("tradewatch_host_cpus", g, "tradewatch_host_cpus", {}, ts, 2)
    f.add("tradewatch_host_memory_total_bytes", g, "tradewatch_host_memory_total_bytes", {}, ts, 8e9)
    f.add(
        "tradewatch_host_memory_available_bytes",
        g,
        "tradewatch_host_memory_available_bytes",
        {},
        ts,
        4e9 - 1e9 * math.sin(off / 30000) ** 2,
    )
    f.add(
        "tradewatch_host_filesystem_size_bytes",
        g,
        "tradewatch_host_filesystem_size_bytes",
        {"mountpoint": "/", "device": "sda1", "fstype": "ext4"},
        ts,
        100e9,
    )
    f.add(
        "tradewatch_host_filesystem_avail_bytes",
        g,
        "tradewatch_host_filesystem_avail_bytes",
        {"mountpoint": "/", "device": "sda1", "fstype": "ext4"},
        ts,
        40e9 - 1e4 * max(0, off),
    )
    f.add(
        "tradewatch_component_up",
        g,
        "tradewatch_component_up",
        {"component": "strategy-engine"},
        ts,
        0.0 if _in(off, COMPONENT_DOWN) else 1.0,
    )
    f.add("tradewatch_errors_total", "counter", "tradewatch_errors_total", {"kind": "ingest"}, ts, errors)


def write(path: Path, days: int = 1) -> dict[str, float]:
    text, expected = generate(days)
    path.write_text(text, encoding="utf-8")
    return expected
