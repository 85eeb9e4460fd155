"""Named scenarios: what goes wrong, when, and for how long.

A scenario is quiet during the warm-up (so dashboards and the model exporter's reference window
get baseline data), then its incident runs for ``incident`` seconds of *pacing* time (wall-clock
seconds in a live run, see docs/simulator.md), then the market returns to normal. Each scenario
maps the time since the incident started to an :class:`Effects` record the engine applies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Effects:
    """What the incident changes during one simulation step (defaults = a normal market)."""

    crash_level: float | None = None  # cumulative log move imposed on every symbol (the engine diffs it)
    force_volatile: bool = False
    venue_down: bool = False  # the exchange refuses orders (venue_unavailable)
    feed_down: bool = False  # no market data for any symbol
    stale_symbols: frozenset[str] = frozenset()  # no market data for these symbols
    slow_execution: bool = False
    broker_api_degraded: bool = False  # broker API calls ~12x slower, a quarter fail (simulate/health.py)
    thin_book: frozenset[str] = frozenset()  # these symbols fill ~35 bp worse than the reference
    model_drift: float = 0.0  # 0 = reference behaviour, 1 = fully drifted
    ai_spike: bool = False
    size_multiplier: float = 1.0
    take_profit: bool = True
    heartbeat: dict[str, str] = field(default_factory=dict)  # component -> status override


NORMAL = Effects()

MELT_UP = math.log(1.04)  # flash-crash: +4% before the crash,
GAP = math.log(0.88)  # a 12% gap down in one step,
SLIDE = math.log(0.94)  # and a further 6% slide


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    default_incident: float  # pacing seconds
    effects: Callable[[float, float, tuple[str, ...], tuple[str, ...]], Effects]


def _normal(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    return NORMAL


def _flash_crash(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    # A melt-up the strategy leans into (three times its usual size, winners left to run), then a
    # gap down and a slide: a leveraged long book loses well over 10% before the kill switch.
    melt_up = max(min(30.0, length * 0.2), 1e-9)
    if q < melt_up:
        return Effects(crash_level=MELT_UP * q / melt_up, size_multiplier=3.0, take_profit=False)
    slide = min(1.0, (q - melt_up) / melt_up)
    return Effects(
        crash_level=MELT_UP + GAP + SLIDE * slide, force_volatile=True, size_multiplier=3.0, take_profit=False
    )


def _exchange_outage(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    return Effects(venue_down=True, feed_down=True, heartbeat={"market-data-feed": "down", "order-router": "degraded"})


def _stale_feed(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    # The feed handler keeps reporting healthy: freshness alerts must catch what heartbeats miss.
    chosen = frozenset(symbols if stale == ("all",) else (stale or symbols[:1]))
    return Effects(stale_symbols=chosen)


def _slow_execution(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    return Effects(slow_execution=True, heartbeat={"order-router": "degraded"})


def _losing_symbol(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    # A thin book on one instrument: every round trip there pays ~70 bp, so it loses money while the
    # rest of the book does not (the "which instrument is losing" panels and report tables).
    return Effects(thin_book=frozenset(symbols[:1]))


def _broker_api_degraded(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    return Effects(broker_api_degraded=True)


def _model_drift(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    ramp = max(length * 0.25, 1e-9)  # drift sets in over the first quarter of the incident
    return Effects(model_drift=min(1.0, q / ramp))


def _ai_cost_spike(q: float, length: float, symbols: tuple[str, ...], stale: tuple[str, ...]) -> Effects:
    return Effects(ai_spike=True)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("normal", "a quiet market: regime switches, occasional rejections, no incident", 0.0, _normal),
        Scenario(
            "flash-crash",
            "melt-up, then a 12% gap and a slide: drawdown over 10%, volatility breaches, "
            "daily loss over the limit, kill switch, kill_switch rejections",
            600.0,
            _flash_crash,
        ),
        Scenario(
            "exchange-outage",
            "venue_unavailable rejections, exchange-api circuit breaker open, market data stops, market-data-feed down",
            300.0,
            _exchange_outage,
        ),
        Scenario("stale-feed", "one symbol (or all, --stale-symbols all) stops ticking", 300.0, _stale_feed),
        Scenario("slow-execution", "ack and fill latencies over a second, high slippage", 600.0, _slow_execution),
        Scenario(
            "losing-symbol",
            "the first symbol trades in a thin book (fills ~35 bp worse): it loses money, the others do not",
            600.0,
            _losing_symbol,
        ),
        Scenario(
            "broker-api-degraded",
            "broker API ~12x slower (answers ~1.7 s p95, 10% of calls time out at 10 s) and a quarter of uncached "
            "calls failing (5xx, timeouts), one critical error, more failed decisions",
            300.0,
            _broker_api_degraded,
        ),
        Scenario("model-drift", "feature distributions shift, confidence falls, accuracy decays", 900.0, _model_drift),
        Scenario("ai-cost-spike", "LLM call volume and tokens x10, some calls rate limited", 600.0, _ai_cost_spike),
    )
}
