"""The simulator offline (Simulator.steps/events): determinism, contract validity, and each
scenario's signature in the event stream and the logs."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import Any

import orjson
import pytest
from tests.client.client_receiver import captured_logs

from tradewatch.client import MODEL_TYPES
from tradewatch.core.validate import Invalid
from tradewatch.model.events import validator as model_validator
from tradewatch.simulate import SCENARIOS, Simulator
from tradewatch.trading.events import TRADING_TYPES, validate_trading_event

START = 1_700_000_000.0
SPEED, RATE, WARMUP, INCIDENT = 60.0, 2.0, 30.0, 60.0  # pacing seconds; 240 steps = 120 s


def simulate(scenario: str, steps: int = 240, **kwargs: Any) -> list[dict[str, Any]]:
    seed = kwargs.pop("seed", 7)
    options = {
        "speed": SPEED,
        "rate": RATE,
        "warmup": WARMUP,
        "incident": INCIDENT,
        "start": START,
        "log_events": False,
        **kwargs,
    }
    return Simulator(seed, scenario, **options).steps(steps)


def epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def market_window(offset_from: float, offset_to: float) -> tuple[float, float]:
    """Market-clock bounds of a pacing-time window relative to the incident start."""
    return START + (WARMUP + offset_from) * SPEED, START + (WARMUP + offset_to) * SPEED


def of(events: list[dict[str, Any]], etype: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == etype]


def prices(events: list[dict[str, Any]]) -> list[float]:
    return [e["price"] for e in of(events, "market_data")]


def test_same_seed_and_start_give_the_same_stream() -> None:
    a = simulate("flash-crash", 200)
    b = simulate("flash-crash", 200)
    assert orjson.dumps(a) == orjson.dumps(b)
    assert len({e["event_id"] for e in a}) == len(a)  # and IDs are unique
    other_seed = simulate("flash-crash", 200, seed=8)
    assert prices(other_seed) != prices(a)
    # Another start time: same market, fresh IDs (two runs never collide in the exporter's dedupe).
    moved = Simulator(
        7, "flash-crash", speed=SPEED, rate=RATE, warmup=WARMUP, incident=INCIDENT, start=START + 3600, log_events=False
    ).steps(200)
    assert prices(moved) == prices(a)
    assert not {e["event_id"] for e in moved} & {e["event_id"] for e in a}


def test_events_generator_matches_steps() -> None:
    sim = Simulator(3, "normal", start=START, speed=SPEED, rate=RATE, log_events=False)
    head = list(sim.events(1000))
    assert len(head) == 1000
    assert head == simulate("normal", 60, seed=3)[:1000]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_event_is_valid_under_the_exporters_validators(scenario: str) -> None:
    model = model_validator()
    events = simulate(scenario, 240, seed=11)
    problems = Counter()
    for event in events:
        try:
            (model if event["type"] in MODEL_TYPES else validate_trading_event)(event)
        except Invalid as exc:
            problems[(event["type"], exc.reason, exc.message)] += 1
    assert not problems
    assert len(events) > 3000


def test_normal_run_covers_the_contract_without_incidents() -> None:
    events = simulate("normal", 1200, seed=5)
    types = Counter(e["type"] for e in events)
    expected = set(TRADING_TYPES) | MODEL_TYPES
    # Incident-only signals stay quiet in a normal market.
    assert set(types) >= expected - {"kill_switch", "circuit_breaker", "volatility_breach"}
    assert not types["kill_switch"] and not types["circuit_breaker"]
    submitted, rejected = types["order_submitted"], types["order_rejected"]
    assert submitted > 200 and 0 < rejected < 0.05 * submitted
    reasons = Counter(e["reason"] for e in of(events, "order_rejected"))
    assert "kill_switch" not in reasons and "venue_unavailable" not in reasons
    assert types["order_partially_filled"] > 0 and types["order_cancelled"] > 0
    exits = Counter(e["exit_reason"] for e in of(events, "trade_closed"))
    assert exits["signal"] > 0 and exits["take_profit"] + exits["stop_loss"] > 0
    # Slippage is small and side-adjusted (positive = worse) on average.
    submitted_by_id = {e["order_id"]: e for e in of(events, "order_submitted")}
    slips = []
    for fill in of(events, "order_filled"):
        order = submitted_by_id[fill["order_id"]]
        if order["order_type"] == "market":
            sign = 1 if order["side"] == "buy" else -1
            slips.append(sign * (fill["fill_price"] / order["reference_price"] - 1) * 1e4)
    assert 0 < statistics.mean(slips) < 5
    components = {e["component"] for e in of(events, "heartbeat")}
    assert components == {"strategy-engine", "order-router", "market-data-feed", "risk-manager"}
    assert {e["status"] for e in of(events, "heartbeat")} == {"healthy"}


def test_accounting_is_consistent() -> None:
    """Equity in snapshots equals cash plus positions marked at the snapshot's prices."""
    events = simulate("normal", 600, seed=2)
    portfolio = of(events, "portfolio_snapshot")
    positions = of(events, "position_snapshot")
    by_ts: dict[str, list[dict[str, Any]]] = {}
    for p in positions:
        by_ts.setdefault(p["ts"], []).append(p)
    checked = 0
    for snap in portfolio:
        group = by_ts[snap["ts"]]
        marked = sum(p["quantity"] * p["mark_price"] for p in group)
        assert snap["equity"] == pytest.approx(snap["cash"] + marked, abs=1.0)
        checked += 1
    assert checked > 50


def test_flash_crash_signature() -> None:
    events = simulate("flash-crash")
    kill = of(events, "kill_switch")
    assert kill[0]["active"] is True and kill[0]["reason"] in ("daily_loss", "drawdown")
    assert kill[-1]["active"] is False  # the desk resets it after the incident
    activated = epoch(kill[0]["ts"])
    lo, hi = market_window(0, INCIDENT)
    assert lo <= activated < hi
    peak, worst = 0.0, 0.0
    for snap in of(events, "portfolio_snapshot"):
        peak = max(peak, snap["equity"])
        worst = max(worst, 1 - snap["equity"] / peak)
    assert worst > 0.10
    assert of(events, "volatility_breach")
    after = [e for e in of(events, "order_rejected") if e["reason"] == "kill_switch"]
    assert after and all(epoch(e["ts"]) >= activated for e in after)
    assert any(e["exit_reason"] == "kill_switch" for e in of(events, "trade_closed"))
    limits = [e["usage_ratio"] for e in of(events, "position_limit")]
    assert max(limits) >= 0.5  # the melt-up leans into the position limit


def test_exchange_outage_signature() -> None:
    events = simulate("exchange-outage")
    lo, hi = market_window(0, INCIDENT)
    breaker = [(epoch(e["ts"]), e["state"]) for e in of(events, "circuit_breaker")]
    assert breaker[0][1] == "open" and lo <= breaker[0][0] < hi
    assert {"open", "half_open"} <= {state for _, state in breaker} and breaker[-1][1] == "closed"
    assert all(e["service"] == "exchange-api" for e in of(events, "circuit_breaker"))
    # Rejections last until the breaker's probe finds the venue back, a little after the outage.
    closed = breaker[-1][0]
    venue = [e for e in of(events, "order_rejected") if e["reason"] == "venue_unavailable"]
    assert len(venue) >= 10 and all(lo <= epoch(e["ts"]) <= closed for e in venue)
    assert hi <= closed < hi + 40 * SPEED
    # Market data (stamped on the pacing clock) stops for exactly the outage window.
    ticks = [epoch(e["ts"]) - START for e in of(events, "market_data")]
    assert not [t for t in ticks if WARMUP <= t < WARMUP + INCIDENT]
    assert [t for t in ticks if t < WARMUP] and [t for t in ticks if t >= WARMUP + INCIDENT]
    feed = {
        (epoch(e["ts"]) - START >= WARMUP and epoch(e["ts"]) - START < WARMUP + INCIDENT, e["status"])
        for e in of(events, "heartbeat")
        if e["component"] == "market-data-feed"
    }
    assert feed == {(False, "healthy"), (True, "down")}


@pytest.mark.parametrize("stale, silent", [((), {"BTC-USD"}), (("all",), None), (("SOL-USD", "SPY"), None)])
def test_stale_feed_signature(stale: tuple[str, ...], silent: set[str] | None) -> None:
    events = simulate("stale-feed", stale_symbols=stale)
    symbols = {e["symbol"] for e in of(events, "market_data")}
    silent = silent or (symbols if stale == ("all",) else set(stale))
    ticks = of(events, "market_data")
    during = {e["symbol"] for e in ticks if WARMUP <= epoch(e["ts"]) - START < WARMUP + INCIDENT}
    assert during == symbols - silent
    after = {e["symbol"] for e in of(events, "market_data") if epoch(e["ts"]) - START >= WARMUP + INCIDENT}
    assert after == symbols
    # exchange_ts is a real exchange stamp: a few milliseconds before receipt.
    lag = [epoch(e["ts"]) - epoch(e["exchange_ts"]) for e in of(events, "market_data")]
    assert min(lag) > 0 and max(lag) < 0.05


def test_slow_execution_signature() -> None:
    events = simulate("slow-execution")
    submitted = {e["order_id"]: e for e in of(events, "order_submitted")}
    lo, hi = market_window(2, INCIDENT - 5)

    def latencies(etype: str, inside: bool) -> list[float]:
        out = []
        for e in of(events, etype):
            sub = submitted[e["order_id"]]
            t = epoch(sub["ts"])
            if (lo <= t < hi) == inside and (inside or t < lo - 120):
                out.append(epoch(e["ts"]) - t)
        return out

    assert statistics.median(latencies("order_acknowledged", True)) > 1.0
    assert statistics.median(latencies("order_acknowledged", False)) < 0.1
    assert statistics.median(latencies("order_filled", True)) > 2.0
    slips = []
    for fill in of(events, "order_filled"):
        sub = submitted[fill["order_id"]]
        if lo <= epoch(sub["ts"]) < hi and sub["order_type"] == "market":
            sign = 1 if sub["side"] == "buy" else -1
            slips.append(sign * (fill["fill_price"] / sub["reference_price"] - 1) * 1e4)
    assert statistics.mean(slips) > 15
    router = {e["status"] for e in of(events, "heartbeat") if e["component"] == "order-router"}
    assert router == {"healthy", "degraded"}


def test_model_drift_signature() -> None:
    # Seed 1: seed 7's market turns volatile right at the end of this warm-up, and the volatile
    # regime's larger moves raise the confidence that the drift lowers (the drop is market-dependent).
    events = simulate("model-drift", seed=1)
    outcomes = {e["prediction_id"]: e["actual"] for e in of(events, "outcome")}

    def window(lo: float, hi: float) -> list[dict[str, Any]]:
        a, b = START + lo * SPEED, START + hi * SPEED
        return [e for e in of(events, "prediction") if a <= epoch(e["ts"]) < b]

    before, drifted = window(0, WARMUP), window(WARMUP + INCIDENT * 0.3, WARMUP + INCIDENT)
    assert len(before) > 100 and len(drifted) > 100

    def mean(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.mean(r["features"][key] if key in r["features"] else r[key] for r in rows)

    def accuracy(rows: list[dict[str, Any]]) -> float:
        joined = [r["predicted"] == outcomes[r["prediction_id"]] for r in rows if r["prediction_id"] in outcomes]
        assert len(joined) > 80
        return sum(joined) / len(joined)

    assert mean(drifted, "volume_z") - mean(before, "volume_z") > 1.5
    assert mean(drifted, "spread_bps") > 2 * mean(before, "spread_bps")
    assert mean(drifted, "confidence") < mean(before, "confidence") - 0.1
    assert accuracy(before) > 0.5 and accuracy(drifted) < 0.42
    regimes = Counter(r["features"]["regime"] for r in drifted)
    assert regimes["volatile"] > regimes["calm"]
    assert Counter(r["predicted"] for r in drifted)["up"] > 0.5 * len(drifted)  # prediction drift


def test_ai_cost_spike_signature() -> None:
    events = simulate("ai-cost-spike")
    calls = of(events, "ai_call")
    lo, hi = market_window(0, INCIDENT)
    before = [c for c in calls if epoch(c["ts"]) < START + WARMUP * SPEED]
    during = [c for c in calls if lo <= epoch(c["ts"]) < hi]
    rate_before, rate_during = len(before) / WARMUP, len(during) / INCIDENT
    assert rate_during > 5 * rate_before
    tokens = [c["prompt_tokens"] for c in during if c["status"] == "ok"]
    assert statistics.mean(tokens) > 5 * statistics.mean(c["prompt_tokens"] for c in before)
    statuses = Counter(c["status"] for c in during)
    assert statuses["rate_limited"] > 0.1 * len(during)
    assert sum(c["cost_usd"] for c in during) > 10 * sum(c["cost_usd"] for c in before)
    assert {c["provider"] for c in calls} == {"openai"}


def test_logs_name_the_notable_events() -> None:
    with captured_logs("simulator", "info") as stream:
        crash = Simulator(
            7, "flash-crash", speed=SPEED, rate=RATE, warmup=WARMUP, incident=INCIDENT, start=START
        ).steps(240)
        outage = Simulator(
            7, "exchange-outage", speed=SPEED, rate=RATE, warmup=WARMUP, incident=INCIDENT, start=START
        ).steps(240)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert all(line["service"] == "simulator" for line in lines)
    kill = [line for line in lines if "kill switch activated" in line["event"]]
    assert kill and kill[0]["level"] == "critical" and kill[0]["reason"] in ("daily_loss", "drawdown")
    order_ids = {e["order_id"] for e in of(crash + outage, "order_rejected")}
    rejected = [line for line in lines if line["event"].startswith("order rejected")]
    assert {line["reason"] for line in rejected} >= {"kill_switch", "venue_unavailable"}
    assert all(
        line["level"] == "warning" and line["correlation_id"] == line["order_id"] in order_ids for line in rejected
    )
    assert any(line["event"] == "circuit breaker open for exchange-api" and line["level"] == "error" for line in lines)
    assert any(line["event"] == "scenario flash-crash started" for line in lines)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        Simulator(scenario="meteor")
    with pytest.raises(ValueError):
        Simulator(speed=0)
    with pytest.raises(ValueError, match="stale symbols"):
        Simulator(scenario="stale-feed", stale_symbols=["DOGE-USD"])
