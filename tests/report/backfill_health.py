"""The backfilled day's limits, API calls, errors and decisions (issue 12), with their known facts.

Hooked into ``backfill.generate`` like ``backfill_desk``: :meth:`Health.step` once per scrape (with
the main account's equity, so the limit usage follows the equity curve the other sections see),
:meth:`Health.emit` when the trading exporter is up. Its own random stream, so the rest of the day
stays as it was. Known facts: the broker's order API degrades 18:00-18:45 (slow, 5xx), a lone
critical "database connection lost" of a component/kind never seen before at 09:30 (its counter is
born at 1), the openai endpoint (with a cache) appears at 08:00 with its first call already counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

H, M = 3600, 60
API_DEGRADED = (18 * H, 18 * H + 45 * M)
CRITICAL_AT = 9 * H + 30 * M
OPENAI_FROM = 8 * H
API_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf)
CLASSES = ("2xx", "3xx", "4xx", "5xx", "timeout", "error")
STAGES = ("made", "approved", "rejected", "executed", "failed", "expired")
INITIAL = 100_000.0
# main: daily loss 2000 (as tradewatch_trading_daily_loss_limit), drawdown 5 % of the HWM,
# take-profit +8000 and stop-loss -3000 of P&L since the initial balance; desk2: daily loss only.
TAKE_PROFIT, STOP_LOSS, DAILY_LOSS, DRAWDOWN = 8000.0, 3000.0, 2000.0, 0.05


class Health:
    def __init__(self) -> None:
        self.rng = np.random.default_rng(31)
        self.calls: dict[tuple[str, str, str], float] = defaultdict(float)
        self.buckets: dict[tuple[str, str], np.ndarray] = {}
        self.lat_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.cache = {"hit": 0.0, "miss": 0.0}
        self.errors: dict[tuple[str, str, str], float] = {}
        self.decisions = dict.fromkeys(STAGES, 0.0)
        self.open = 0.0
        self.usage: dict[str, float] = {}
        self.margin = 0.0
        self.peak: dict[str, float] = {}  # highest usage scraped in the period
        self.margin_peak = -math.inf

    def _pairs(self, off: float) -> list[tuple[str, str]]:
        pairs = [("binance", "orders"), ("binance", "market_data")]
        return [*pairs, ("openai", "chat")] if off >= OPENAI_FROM else pairs

    def step(self, off: float, equity: float, hwm: float, session_start: float | None) -> None:
        for pair in self._pairs(off):
            self.buckets.setdefault(pair, np.zeros(len(API_BUCKETS)))
            for c in CLASSES:  # every class from 0 once the pair is known
                self.calls.setdefault((*pair, c), 0.0)
            bad = pair == ("binance", "orders") and API_DEGRADED[0] <= off < API_DEGRADED[1]
            n = int(self.rng.poisson(2.0)) + (1 if pair == ("openai", "chat") and off == OPENAI_FROM else 0)
            for _ in range(n):
                latency = float(self.rng.lognormal(-3.0, 0.5)) * (8.0 if bad else 1.0)
                r = self.rng.random()
                status = "5xx" if r < (0.3 if bad else 0.01) else ("4xx" if r < (0.32 if bad else 0.02) else "2xx")
                self.calls[(*pair, status)] += 1
                self.buckets[pair] += np.array([latency <= b for b in API_BUCKETS], dtype=float)
                self.lat_sum[pair] += latency
                if pair[0] == "openai":
                    self.cache["hit" if self.rng.random() < 0.7 else "miss"] += 1
        if off in (-30 * M, 3 * H, 7 * H, 15 * H, 21 * H):
            self._error("execution-gateway", "warning", "timeout")
        if off in (6 * H, 6 * H + 5 * M):
            self._error("execution-gateway", "error", "rejected_by_venue")
        if off == CRITICAL_AT:
            self._error("strategy-engine", "critical", "database")
        if off > -H:
            made = float(self.rng.poisson(0.5))
            approved = float(self.rng.binomial(int(made), 0.8))
            executed = float(self.rng.binomial(int(approved), 0.9))
            for s, v in (("made", made), ("approved", approved), ("rejected", made - approved)):
                self.decisions[s] += v
            self.decisions["executed"] += executed
            self.decisions["expired"] += approved - executed
            self.open = 3.0 + (off % 7 == 0)
        pnl = equity - INITIAL
        start = session_start if session_start is not None else equity
        self.usage = {
            "daily_loss": max(0.0, start - equity) / DAILY_LOSS,
            "drawdown": (hwm - equity) / (DRAWDOWN * hwm),
            "take_profit": max(0.0, pnl) / TAKE_PROFIT,
            "stop_loss": max(0.0, -pnl) / STOP_LOSS,
        }
        self.hwm = hwm
        self.margin = 0.3 + 0.1 * math.sin(off / 11000)

    def _error(self, component: str, severity: str, kind: str) -> None:
        for sev in ("warning", "error", "critical"):  # every severity from 0 once the pair is known
            self.errors.setdefault((component, sev, kind), 0.0)
        self.errors[(component, severity, kind)] += 1

    def facts(self) -> dict[str, Any]:
        """The cumulative values now (the tests difference them over the day)."""
        return {
            "calls": dict(self.calls),
            "buckets": {k: v.copy() for k, v in self.buckets.items()},
            "cache": dict(self.cache),
            "errors": dict(self.errors),
            "decisions": dict(self.decisions),
            "open": self.open,
            "usage": dict(self.usage),
            "margin": self.margin,
        }

    def emit(self, f: Any, ts: float, off: float, desk2: bool) -> None:
        g, c = "gauge", "counter"
        if 0 <= off <= 86400:
            for k, v in self.usage.items():
                self.peak[k] = max(self.peak.get(k, -math.inf), v)
            self.margin_peak = max(self.margin_peak, self.margin)
        for (p, ep, cls), v in self.calls.items():
            name = "tradewatch_trading_api_calls"
            f.add(name, c, name + "_total", {"provider": p, "endpoint": ep, "status_class": cls}, ts, v)
        fam = "tradewatch_trading_api_call_latency_seconds"
        for (p, ep), counts in self.buckets.items():
            lab = {"provider": p, "endpoint": ep}
            for b, n in zip(API_BUCKETS, counts, strict=True):
                f.add(fam, "histogram", fam + "_bucket", {**lab, "le": "+Inf" if b == math.inf else repr(b)}, ts, n)
            f.add(fam, "histogram", fam + "_sum", lab, ts, self.lat_sum[(p, ep)])
            f.add(fam, "histogram", fam + "_count", lab, ts, counts[-1])
        if ("openai", "chat", "2xx") in self.calls:
            for result, v in self.cache.items():
                name = "tradewatch_trading_api_cache_lookups"
                f.add(name, c, name + "_total", {"provider": "openai", "endpoint": "chat", "result": result}, ts, v)
        for (comp, sev, kind), v in self.errors.items():
            name = "tradewatch_trading_errors"
            f.add(name, c, name + "_total", {"component": comp, "severity": sev, "kind": kind}, ts, v)
        for stage, v in self.decisions.items():
            name = "tradewatch_trading_decisions"
            f.add(name, c, name + "_total", {"provider": "openai", "stage": stage}, ts, v)
        f.add(
            "tradewatch_trading_open_decisions",
            g,
            "tradewatch_trading_open_decisions",
            {"provider": "openai"},
            ts,
            self.open,
        )
        main = {"account": "main"}
        levels = {
            "daily_loss": DAILY_LOSS,
            "drawdown": DRAWDOWN * self.hwm,
            "take_profit": TAKE_PROFIT,
            "stop_loss": STOP_LOSS,
        }
        for limit, level in levels.items():
            f.add("tradewatch_trading_limit", g, "tradewatch_trading_limit", {**main, "limit": limit}, ts, level)
            name = "tradewatch_trading_limit_usage_ratio"
            f.add(name, g, name, {**main, "limit": limit}, ts, self.usage[limit])
        if desk2:
            lab = {"account": "desk2", "limit": "daily_loss"}
            f.add("tradewatch_trading_limit", g, "tradewatch_trading_limit", lab, ts, 1000.0)
            name = "tradewatch_trading_limit_usage_ratio"
            f.add(name, g, name, lab, ts, 0.0)
        name = "tradewatch_trading_margin_usage_ratio"
        f.add(name, g, name, main, ts, self.margin)
