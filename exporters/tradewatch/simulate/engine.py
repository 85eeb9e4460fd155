"""The trading simulator: a market, a momentum strategy with its model, an execution venue, a risk
manager, all producing the v1 events a real trading system would send.

Time. The simulation advances in steps; ``rate`` steps happen per *pacing* second, and each step
moves the *market clock* by ``speed / rate`` seconds. Both clocks start at ``start`` (default: now):

- market clock (``start + pacing elapsed * speed``): the ``ts`` of trading and model events, so
  order latencies, holding times and session days are simulated time, accelerated by ``speed``;
- pacing clock (``start + pacing elapsed``): the ``ts``/``exchange_ts`` of ``market_data`` and
  ``heartbeat`` events, and the scenario timeline. In a live :meth:`Simulator.run` the pacing clock
  *is* the wall clock, so freshness and heartbeat-age alerts see realistic ages at any speed.

With ``speed=1`` the clocks coincide. Everything, event IDs included, derives from ``seed`` and
``start``: the same pair gives the same event stream (docs/simulator.md).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tradewatch.client.events import format_ts
from tradewatch.core.logging import correlation, get_logger
from tradewatch.simulate import trails
from tradewatch.simulate.health import HealthSim
from tradewatch.simulate.model_outcomes import outcome_class, version_at
from tradewatch.simulate.scenarios import NORMAL, SCENARIOS, Effects

log = get_logger("tradewatch.simulate")

YEAR = 365.0 * 86400.0
COMPONENTS = ("strategy-engine", "order-router", "market-data-feed", "risk-manager")
EXCHANGE_SERVICE = "exchange-api"
MODEL_NAME = "momentum-clf"
MODEL_VERSION = "1.4.0"
LLM_PROVIDER, LLM_MODEL = "openai", "gpt-4o-mini"
LLM_PRICE = (0.15e-6, 0.60e-6)  # USD per prompt / completion token
CLASSES = ("up", "flat", "down")
DIRECTION = {"up": 1, "flat": 0, "down": -1}
RANDOM_REJECTIONS = (
    ("risk_limit", 0.35, "order exceeds the per-order notional limit"),
    ("insufficient_funds", 0.15, "buying power below order notional"),
    ("rate_limited", 0.25, "venue order rate limit reached"),
    ("invalid_order", 0.15, "price outside the venue's band"),
    ("other", 0.10, "venue internal error"),
)


@dataclass(frozen=True)
class Instrument:
    symbol: str
    price: float
    vol: float  # annualised volatility in the calm regime
    lot: float
    fee_rate: float


INSTRUMENTS = {
    i.symbol: i
    for i in (
        Instrument("BTC-USD", 65_000.0, 0.45, 0.0001, 0.0004),
        Instrument("ETH-USD", 3_400.0, 0.60, 0.001, 0.0004),
        Instrument("SOL-USD", 150.0, 0.80, 0.01, 0.0004),
        Instrument("AAPL", 190.0, 0.22, 1.0, 0.0001),
        Instrument("SPY", 520.0, 0.15, 1.0, 0.0001),
    )
}
DEFAULT_SYMBOLS = tuple(INSTRUMENTS)


class Sink(Protocol):
    def emit(self, event: dict[str, Any]) -> str: ...


@dataclass
class _Position:
    qty: float = 0.0
    avg: float = 0.0
    trade_id: str = ""
    opened: float = 0.0
    realized: float = 0.0
    fees: float = 0.0


@dataclass
class _Order:
    order_id: str
    symbol: str
    side: str
    qty: float
    reason: str  # the exit reason a close by this order reports
    submitted: float
    probe: bool = False


@dataclass
class _Breaker:
    state: str = "closed"
    failures: int = 0
    opened_at: float = 0.0


@dataclass
class _Symbol:
    inst: Instrument
    price: float
    base_qty: float
    limit: float
    log_prices: deque[float] = field(default_factory=lambda: deque(maxlen=32))
    trend: float = 0.0
    sentiment: float = 0.0
    last_prediction: float = -math.inf
    next_ai: float = 0.0
    last_breach: float = -math.inf
    pending: str | None = None
    blocked_until: float = -math.inf  # market time; the strategy waits after a blocked order
    pos: _Position = field(default_factory=_Position)


class Simulator:
    """Deterministic event generator; :meth:`events` for tests and benchmarks, :meth:`run` live."""

    def __init__(
        self,
        seed: int = 0,
        scenario: str = "normal",
        *,
        symbols: tuple[str, ...] | list[str] = DEFAULT_SYMBOLS,
        speed: float = 1.0,
        rate: float = 2.0,
        warmup: float = 60.0,
        incident: float | None = None,
        start: float | datetime | None = None,
        initial_balance: float = 100_000.0,
        strategy: str = "momentum",
        account: str = "sim-001",
        venue: str = "sim-exchange",
        stale_symbols: tuple[str, ...] | list[str] = (),
        heartbeat_interval: float = 5.0,
        snapshot_interval: float = 5.0,
        model_interval: float = 10.0,
        ai_interval: float = 20.0,
        daily_loss_limit: float = 0.05,
        max_drawdown: float = 0.10,
        log_events: bool = True,
        version_change: float | None = None,
    ):
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
        if speed <= 0 or rate <= 0:
            raise ValueError("speed and rate must be positive")
        if not symbols:
            raise ValueError("at least one symbol")
        unknown = set(stale_symbols) - set(symbols) - {"all"}
        if unknown:
            raise ValueError(f"stale symbols {sorted(unknown)} are not among the simulated symbols")
        self.seed = seed
        self.scenario = SCENARIOS[scenario]
        self.speed = float(speed)
        self.rate = float(rate)
        self.warmup = float(warmup)
        self.incident = self.scenario.default_incident if incident is None else float(incident)
        self._start_given = start is not None
        self.start = (
            start.timestamp() if isinstance(start, datetime) else (float(start) if start is not None else time.time())
        )
        self.initial_balance = float(initial_balance)
        self.envelope = {"strategy": strategy, "account": account, "venue": venue}
        self.stale_symbols = tuple(stale_symbols)
        self.heartbeat_interval = heartbeat_interval
        self.snapshot_interval = snapshot_interval
        self.model_interval = model_interval
        self.ai_interval = ai_interval
        self.daily_loss_limit = daily_loss_limit
        self.max_drawdown = max_drawdown
        self.log_events = log_events
        self.step_seconds = self.speed / self.rate  # market seconds per step
        self._rng = random.Random(seed)
        # The market (regime switches, prices) draws from its own stream, so a scenario's orders,
        # fills and AI calls do not change the market's path: every scenario of one seed trades the
        # same market (and the seed's calm and volatile spells come at the same times). The salt is
        # chosen so that the default seed's (42) market stays calm for its first ~4.8 market hours:
        # the default demo is the quiet baseline (a volatile spell is a real shift of the model's
        # inputs, see tradewatch.simulate.reference).
        self._market_rng = random.Random(f"market:11:{seed}")
        # Outcomes draw from their own stream too (tradewatch.simulate.model_outcomes).
        self._outcome_rng = random.Random(f"outcome:{seed}")
        self.version_change = version_change
        self._health = HealthSim(seed, self._event, self._id)
        self._trails = trails.Tagger()  # correlation IDs, remembered for decisions' later stages
        self._reset_ids()
        self._symbols: dict[str, _Symbol] = {}
        for i, name in enumerate(symbols):
            inst = INSTRUMENTS.get(name) or Instrument(name, 100.0, 0.40, 0.01, 0.0004)
            base = max(inst.lot, _round_lot(0.08 * self.initial_balance / inst.price, inst.lot))
            sym = _Symbol(inst, inst.price, base, limit=4 * base)
            sym.log_prices.append(math.log(inst.price))
            sym.next_ai = ai_interval * i / len(symbols)
            self._symbols[name] = sym
        self._k = 0
        self._seq = 0
        self._heap: list[tuple[float, int, str, Any]] = []
        self._orders: dict[str, _Order] = {}
        self._cash = self.initial_balance
        self._hwm = self.initial_balance
        self._day: Any = None
        self._day_start_equity = self.initial_balance
        self._kill: str | None = None
        self._breaker = _Breaker()
        self._regime = "calm"
        self._crash_level: float | None = None
        self._incident_on = False
        self._feed_was_down: frozenset[str] = frozenset()
        self._next_heartbeat = 0.0
        self._next_snapshot = 0.0
        self._stop = threading.Event()

    def _reset_ids(self) -> None:
        # IDs depend on the start time too: two runs against one exporter must not collide
        # (it would drop the second run's events as duplicates), but a fixed start reproduces them.
        self._ids = random.Random(f"tradewatch-sim:{self.seed}:{self.start!r}")

    # -- public ---------------------------------------------------------------------------------
    def events(self, n: int | None = None) -> Iterator[dict[str, Any]]:
        """Yield up to ``n`` events (forever if None) as fast as they can be computed."""
        produced = 0
        while n is None or produced < n:
            for event in self.step():
                yield event
                produced += 1
                if n is not None and produced >= n:
                    return

    def steps(self, count: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(count):
            out.extend(self.step())
        return out

    def run(self, sink: Sink, duration: float | None = None) -> int:
        """Emit events into ``sink`` (a client or journal writer) paced on the wall clock."""
        if self._k == 0 and not self._start_given:
            self.start = time.time()
            self._reset_ids()
        origin = time.monotonic() - self._k / self.rate
        sent = 0
        behind_logged = False
        while not self._stop.is_set():
            elapsed = self._k / self.rate
            if duration is not None and elapsed >= duration:
                break
            delay = origin + elapsed - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    break
            elif delay < -1.0 and not behind_logged:
                behind_logged = True
                log.warning(
                    "simulator cannot keep up with --rate; running behind the wall clock",
                    behind_seconds=round(-delay, 2),
                )
            for event in self.step():
                sink.emit(event)
                sent += 1
        return sent

    def stop(self) -> None:
        self._stop.set()

    @property
    def pacing_elapsed(self) -> float:
        return self._k / self.rate

    # -- one step -------------------------------------------------------------------------------
    def step(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        p = self._k / self.rate
        s = p * self.speed
        first = self._k == 0
        self._k += 1
        effects, q = self._effects(p)
        self._transitions(effects, q, p, s, out)
        self._release(s, out)
        if not first:
            self._advance_market(effects)
        self._ticks(effects, p, out)
        self._risk(effects, p, s, out)
        self._model_and_strategy(effects, s, out)
        self._ai_calls(effects, p, s, out)
        self._health.step(effects, p, s, self._market_ts(s), out)
        self._breaker_tick(p, s, out)
        self._periodic(effects, p, s, out)
        return self._trails.tag(out)

    def _effects(self, p: float) -> tuple[Effects, float | None]:
        q = p - self.warmup
        if self.scenario.name == "normal" or q < 0 or (self.incident > 0 and q >= self.incident):
            return NORMAL, None
        length = self.incident if self.incident > 0 else math.inf
        return self.scenario.effects(
            q, length if math.isfinite(length) else 3600.0, tuple(self._symbols), self.stale_symbols
        ), q

    # -- helpers --------------------------------------------------------------------------------
    def _id(self, prefix: str = "") -> str:
        value = f"{self._ids.getrandbits(128):032x}"
        return f"{prefix}{value[:16]}" if prefix else value

    def _event(self, etype: str, ts: float, fields: dict[str, Any], envelope: bool = True) -> dict[str, Any]:
        event = {"type": etype, "ts": format_ts(ts), "event_id": self._id()}
        if envelope:
            event.update(self.envelope)
        event.update(fields)
        return event

    def _market_ts(self, s: float) -> float:
        return self.start + s

    def _wall_ts(self, p: float) -> float:
        return self.start + p

    def _schedule(self, at: float, kind: str, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, payload))

    def _equity(self) -> float:
        return self._cash + sum(sym.pos.qty * sym.price for sym in self._symbols.values())

    # -- scenario transitions -------------------------------------------------------------------
    def _transitions(self, effects: Effects, q: float | None, p: float, s: float, out: list[dict[str, Any]]) -> None:
        on = q is not None
        if on and not self._incident_on:
            self._note(
                "warning",
                f"scenario {self.scenario.name} started",
                scenario=self.scenario.name,
                incident_seconds=self.incident,
                summary=self.scenario.summary,
            )
        elif not on and self._incident_on:
            self._note("info", f"scenario {self.scenario.name} ended", scenario=self.scenario.name)
            self._crash_level = None
            if self._kill is not None:
                self._clear_kill(s, out, "the desk reset the kill switch after the incident")
        self._incident_on = on
        stopped = frozenset(self._symbols) if effects.feed_down else effects.stale_symbols
        if stopped - self._feed_was_down:
            self._note("warning", "market data stopped", symbols=sorted(stopped - self._feed_was_down))
        elif self._feed_was_down - stopped:
            self._note("info", "market data resumed", symbols=sorted(self._feed_was_down - stopped))
        self._feed_was_down = stopped

    # -- market ---------------------------------------------------------------------------------
    def _advance_market(self, effects: Effects) -> None:
        rng = self._market_rng
        dt = self.step_seconds
        # Markov regime switching: calm spells last ~2 market hours, volatile ones ~20 minutes.
        mean_stay = 7200.0 if self._regime == "calm" else 1200.0
        switch = rng.random() < 1.0 - math.exp(-dt / mean_stay)  # drawn always: the stream stays aligned
        if effects.force_volatile:
            self._regime = "volatile"
        elif switch:
            self._regime = "volatile" if self._regime == "calm" else "calm"
        scale = 2.0 if self._regime == "volatile" else 1.0
        crash_move = 0.0
        if effects.crash_level is not None:
            crash_move = effects.crash_level - (self._crash_level or 0.0)
            self._crash_level = effects.crash_level
        common = rng.gauss(0.0, 1.0)
        root = math.sqrt(dt / YEAR)
        for sym in self._symbols.values():
            sigma = sym.inst.vol * scale * root
            # A slowly mean-reverting trend gives momentum something real to find.
            sym.trend = 0.95 * sym.trend + rng.gauss(0.0, 0.15 * sigma)
            r = sym.trend + sigma * (0.6 * common + 0.8 * rng.gauss(0.0, 1.0)) - 0.5 * sigma * sigma
            sym.price *= math.exp(r + crash_move)
            sym.log_prices.append(math.log(sym.price))

    def _ticks(self, effects: Effects, p: float, out: list[dict[str, Any]]) -> None:
        wall = self._wall_ts(p)
        for name, sym in self._symbols.items():
            if effects.feed_down or name in effects.stale_symbols:
                continue
            exchange_ts = wall - self._rng.uniform(0.005, 0.040)
            out.append(
                self._event(
                    "market_data",
                    wall,
                    {"symbol": name, "exchange_ts": format_ts(exchange_ts), "kind": "tick", "price": _price(sym.price)},
                )
            )

    def _returns(self, sym: _Symbol, n: int) -> float:
        """Log return over the last ``n`` steps in units of the calm per-step sigma (a z-score)."""
        prices = sym.log_prices
        if len(prices) < 2:
            return 0.0
        n = min(n, len(prices) - 1)
        sigma = sym.inst.vol * math.sqrt(self.step_seconds / YEAR)
        return (prices[-1] - prices[-1 - n]) / (sigma * math.sqrt(n))

    def _volatility(self, sym: _Symbol) -> float:
        """Annualised realised volatility over the recent steps."""
        prices = list(sym.log_prices)[-21:]
        if len(prices) < 4:
            return sym.inst.vol
        rets = [b - a for a, b in itertools.pairwise(prices)]
        mean = sum(rets) / len(rets)
        var = sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
        return math.sqrt(var * YEAR / self.step_seconds)

    # -- risk manager ---------------------------------------------------------------------------
    def _risk(self, effects: Effects, p: float, s: float, out: list[dict[str, Any]]) -> None:
        equity = self._equity()
        day = datetime.fromtimestamp(self._market_ts(s), UTC).date()
        if day != self._day:
            self._day, self._day_start_equity = day, equity
            if self._kill is not None and not self._incident_on:
                self._clear_kill(s, out, "new trading day")
        self._hwm = max(self._hwm, equity)
        drawdown = 1.0 - equity / self._hwm if self._hwm > 0 else 0.0
        daily_pnl = equity - self._day_start_equity
        if self._kill is None:
            if daily_pnl < -self.daily_loss_limit * self.initial_balance:
                self._activate_kill("daily_loss", s, out, equity, daily_pnl, drawdown)
            elif drawdown > self.max_drawdown:
                self._activate_kill("drawdown", s, out, equity, daily_pnl, drawdown)
        for name, sym in self._symbols.items():
            vol = self._volatility(sym)
            limit = 3.0 * sym.inst.vol
            if vol > limit and p - sym.last_breach >= 60.0:
                sym.last_breach = p
                out.append(
                    self._event(
                        "volatility_breach",
                        self._market_ts(s),
                        {"symbol": name, "volatility": round(vol, 4), "limit": round(limit, 4)},
                    )
                )
                self._note("warning", "volatility breach", symbol=name, volatility=round(vol, 4), limit=round(limit, 4))
            pos = sym.pos
            if pos.qty == 0 or sym.pending is not None or s < sym.blocked_until:
                continue
            if self._kill is not None:  # a flatten order that could not go out earlier
                self._submit(sym, -pos.qty, "kill_switch", s, out, reduce_only=True)
                continue
            move = (sym.price / pos.avg - 1.0) * (1 if pos.qty > 0 else -1)
            hourly = sym.inst.vol * math.sqrt(3600.0 / YEAR)
            reason = None
            if effects.take_profit and move >= 4.0 * hourly:
                reason = "take_profit"
            elif move <= -1.5 * hourly:
                reason = "stop_loss"
            if reason:
                out.append(
                    self._event("signal", self._market_ts(s), {"symbol": name, "action": "close", "confidence": 1.0})
                )
                self._submit(sym, -pos.qty, reason, s, out, reduce_only=True)

    def _activate_kill(
        self, reason: str, s: float, out: list[dict[str, Any]], equity: float, daily_pnl: float, drawdown: float
    ) -> None:
        self._kill = reason
        ts = self._market_ts(s)
        out.append(self._event("kill_switch", ts, {"active": True, "reason": reason}))
        self._note(
            "critical",
            f"kill switch activated: {reason}",
            reason=reason,
            equity=round(equity, 2),
            daily_pnl=round(daily_pnl, 2),
            drawdown=round(drawdown, 4),
        )
        self._portfolio(s, out)
        for sym in self._symbols.values():
            if sym.pos.qty != 0 and sym.pending is None:
                self._submit(sym, -sym.pos.qty, "kill_switch", s, out, reduce_only=True)

    def _clear_kill(self, s: float, out: list[dict[str, Any]], why: str) -> None:
        reason = self._kill or "manual"
        self._kill = None
        out.append(self._event("kill_switch", self._market_ts(s), {"active": False, "reason": reason}))
        self._note("warning", "kill switch cleared", reason=reason, why=why)
        # The desk accepts the loss: limits count from here, or the switch would trip again at once.
        equity = self._equity()
        self._hwm = equity
        self._day_start_equity = equity

    # -- model and strategy ---------------------------------------------------------------------
    def _model_and_strategy(self, effects: Effects, s: float, out: list[dict[str, Any]]) -> None:
        rng = self._rng
        ts = self._market_ts(s)
        drift = effects.model_drift
        for name, sym in self._symbols.items():
            # Predictions go on through feed outages: the strategy falls back to its internal
            # marks, as real ones do, which is exactly why stale-data alerts matter.
            if s - sym.last_prediction < self.model_interval:
                continue
            sym.last_prediction = s
            ret5 = self._returns(sym, 5) + 1.2 * drift
            ret20 = self._returns(sym, 20) + 0.8 * drift
            volatile = self._regime == "volatile" or rng.random() < 0.7 * drift
            features = {
                "ret_5": round(ret5, 4),
                "ret_20": round(ret20, 4),
                "volatility": round(self._volatility(sym) * (1.0 + 1.5 * drift), 4),
                "volume_z": round(rng.gauss(2.5 * drift, 1.0 + 0.5 * drift), 4),
                "spread_bps": round(
                    rng.lognormvariate(math.log(2.0), 0.3) * (1.8 if volatile else 1.0) * (1.0 + 2.0 * drift), 3
                ),
                "sentiment": round(sym.sentiment, 3),
                "regime": "volatile" if volatile else "calm",
            }
            score = 0.8 * ret5 + 0.4 * ret20 + 0.6 * sym.sentiment + rng.gauss(0.0, 0.4)
            temperature = 1.0 + 2.5 * drift  # a drifting model grows unsure of itself
            logits = (score / temperature, (0.5 - 0.4 * abs(score)) / temperature, -score / temperature)
            top = max(logits)
            weights = [math.exp(v - top) for v in logits]
            total = sum(weights)
            probs = {c: round(w / total, 4) for c, w in zip(CLASSES, weights, strict=True)}
            predicted = max(CLASSES, key=lambda c: probs[c])
            confidence = probs[predicted]
            latency = rng.lognormvariate(math.log(0.004), 0.35)
            prediction_id = self._id("pred-")
            out.append(
                self._event(
                    "prediction",
                    ts,
                    {
                        "model": MODEL_NAME,
                        "model_version": version_at(self.version_change, s, MODEL_VERSION),
                        "prediction_id": prediction_id,
                        "features": features,
                        "predicted": predicted,
                        "confidence": confidence,
                        "probabilities": probs,
                        "latency_seconds": round(latency, 6),
                    },
                    envelope=False,
                )
                | {"strategy": self.envelope["strategy"]}
            )
            # The outcome is known a few model intervals later; skill decays under drift.
            skill = 0.62 - 0.30 * drift
            actual = predicted if rng.random() < skill else rng.choice([c for c in CLASSES if c != predicted])
            # The draws above keep the main stream as it was; the outcome itself follows the confidence.
            actual = outcome_class(self._outcome_rng, predicted, confidence, CLASSES)
            edge = rng.gauss(0.002, 0.001)
            self._schedule(
                s + 5 * self.model_interval,
                "outcome",
                (prediction_id, predicted, actual, sym.base_qty * sym.price, edge),
            )
            action = "hold"
            if confidence >= 0.4 and predicted != "flat":
                action = "buy" if predicted == "up" else "sell"
            out.append(self._event("signal", ts, {"symbol": name, "action": action, "confidence": confidence}))
            if action == "hold" or sym.pending is not None or s < sym.blocked_until:
                continue
            target = DIRECTION[predicted] * sym.base_qty * effects.size_multiplier
            delta = _round_lot(target - sym.pos.qty, sym.inst.lot)
            if abs(delta) < max(sym.inst.lot, 0.1 * sym.base_qty):
                continue
            out.append(
                self._event(
                    "decision",
                    ts,
                    {"provider": MODEL_NAME, "latency_seconds": round(latency + 0.001, 6), "confidence": confidence},
                )
            )
            self._health.decision_made(out[-1], s, ts)
            self._submit(sym, delta, "signal", s, out)

    def _ai_calls(self, effects: Effects, p: float, s: float, out: list[dict[str, Any]]) -> None:
        rng = self._rng
        interval = self.ai_interval / (10.0 if effects.ai_spike else 1.0)
        tokens = 10.0 if effects.ai_spike else 1.0
        ts = self._market_ts(s)
        for name, sym in self._symbols.items():
            if p < sym.next_ai:
                continue
            sym.next_ai = max(sym.next_ai + interval, p)
            prompt = int(max(50, rng.gauss(900, 150)) * tokens)
            completion = int(max(5, rng.gauss(60, 15)) * tokens)
            latency = rng.lognormvariate(math.log(0.8), 0.4) * (2.0 if effects.ai_spike else 1.0)
            roll = rng.random()
            if effects.ai_spike and roll < 0.2:
                status, completion, latency = "rate_limited", 0, rng.uniform(0.05, 0.2)
            elif roll < 0.01:
                status, completion = "error", 0
            elif roll < 0.015:
                status, completion, latency = "timeout", 0, 30.0
            else:
                status = "ok"
            cost = 0.0 if status == "rate_limited" else prompt * LLM_PRICE[0] + completion * LLM_PRICE[1]
            out.append(
                self._event(
                    "ai_call",
                    ts,
                    {
                        "provider": LLM_PROVIDER,
                        "model": LLM_MODEL,
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "cost_usd": round(cost, 8),
                        "latency_seconds": round(latency, 4),
                        "status": status,
                    },
                    envelope=False,
                )
                | {"strategy": self.envelope["strategy"]}
            )
            if status == "ok":
                sym.sentiment = max(-1.0, min(1.0, 0.7 * sym.sentiment + rng.gauss(0.0, 0.3)))
                out.append(
                    self._event("decision", ts, {"provider": "llm-sentiment", "latency_seconds": round(latency, 4)})
                )
            elif status == "rate_limited":
                self._note("warning", "LLM call rate limited", provider=LLM_PROVIDER, symbol=name)

    # -- execution ------------------------------------------------------------------------------
    def _submit(
        self, sym: _Symbol, delta: float, reason: str, s: float, out: list[dict[str, Any]], reduce_only: bool = False
    ) -> None:
        rng = self._rng
        qty = _round_lot(abs(delta), sym.inst.lot)
        if qty <= 0:
            return
        side = "buy" if delta > 0 else "sell"
        order = _Order(self._id("ord-"), sym.inst.symbol, side, qty, reason, s)
        self._orders[order.order_id] = order
        sym.pending = order.order_id
        ts = self._market_ts(s)
        limit_order = not reduce_only and rng.random() < 0.1
        fields: dict[str, Any] = {
            "order_id": order.order_id,
            "symbol": order.symbol,
            "side": side,
            "order_type": "limit" if limit_order else "market",
            "quantity": qty,
            "reference_price": _price(sym.price),
        }
        sign = 1 if side == "buy" else -1
        if limit_order:
            fields["limit_price"] = _price(sym.price * (1 - sign * 0.0005))
        out.append(self._event("order_submitted", ts, fields))
        effects = self._effects(s / self.speed)[0]
        breaker = self._breaker
        if self._kill is not None and not reduce_only:
            self._schedule(s + 0.002, "reject", (order, "kill_switch", f"kill switch active ({self._kill})"))
            return
        if breaker.state == "open":
            self._schedule(
                s + 0.001, "reject", (order, "venue_unavailable", f"circuit breaker open for {EXCHANGE_SERVICE}")
            )
            return
        order.probe = breaker.state == "half_open"
        if effects.venue_down:
            self._schedule(
                s + rng.uniform(0.5, 2.0),
                "reject",
                (order, "venue_unavailable", "exchange did not answer: connection reset"),
            )
            return
        if not reduce_only and rng.random() < 0.015:
            roll, acc = rng.random(), 0.0
            chosen = RANDOM_REJECTIONS[-1]
            for candidate in RANDOM_REJECTIONS:
                acc += candidate[1]
                if roll < acc:
                    chosen = candidate
                    break
            self._schedule(s + rng.uniform(0.005, 0.05), "reject", (order, chosen[0], chosen[2]))
            return
        slow = effects.slow_execution
        ack = s + rng.lognormvariate(math.log(1.6 if slow else 0.035), 0.35)
        self._schedule(ack, "ack", order)
        if limit_order and rng.random() < 0.3:
            self._schedule(ack + rng.uniform(2.0, 10.0), "cancel", order)
            return
        parts = 1 if rng.random() < 0.75 else rng.choice((2, 3))
        at = ack
        remaining = qty
        if slow:
            slip_mean, slip_sd = 25.0, 10.0
        else:
            slip_mean, slip_sd = (8.0, 6.0) if self._regime == "volatile" else (1.0, 1.5)
        if sym.inst.symbol in effects.thin_book:
            slip_mean += 35.0
        for i in range(parts):
            at += rng.lognormvariate(math.log(2.5 if slow else 0.12), 0.4)
            part = remaining if i == parts - 1 else _round_lot(qty / parts, sym.inst.lot)
            if part <= 0:
                continue
            remaining = _round_lot(remaining - part, sym.inst.lot)
            slip = rng.gauss(slip_mean, slip_sd)
            price = sym.price * (1 + sign * slip / 1e4)
            if limit_order:
                limit = fields["limit_price"]
                price = min(price, limit) if side == "buy" else max(price, limit)
            self._schedule(at, "fill", (order, part, price, i == parts - 1 or remaining <= 0))
            if remaining <= 0:
                break

    def _release(self, s: float, out: list[dict[str, Any]]) -> None:
        heap = self._heap
        while heap and heap[0][0] <= s:
            at, _, kind, payload = heapq.heappop(heap)
            ts = self._market_ts(at)
            if kind == "outcome":
                prediction_id, predicted, actual, notional, edge = payload
                pnl = None
                if predicted != "flat":
                    d = DIRECTION[predicted] * DIRECTION[actual]
                    pnl = round(d * abs(edge) * notional if d else -0.0003 * notional, 2)
                fields = {"prediction_id": prediction_id, "model": MODEL_NAME, "actual": actual}
                if pnl is not None:
                    fields["pnl"] = pnl
                out.append(self._event("outcome", ts, fields, envelope=False))
            elif kind == "ack":
                self._on_ack(payload, at, out)
            elif kind == "fill":
                self._on_fill(*payload, at, out)
            elif kind == "cancel":
                order = payload
                out.append(
                    self._event(
                        "order_cancelled", ts, {"order_id": order.order_id, "symbol": order.symbol, "reason": "expired"}
                    )
                )
                self._done(order)
            elif kind == "reject":
                self._on_reject(*payload, at, out)

    def _on_ack(self, order: _Order, at: float, out: list[dict[str, Any]]) -> None:
        out.append(
            self._event(
                "order_acknowledged",
                self._market_ts(at),
                {"order_id": order.order_id, "symbol": order.symbol, "side": order.side},
            )
        )
        latency = at - order.submitted
        if latency > 1.0:
            with correlation(order.order_id):
                self._note(
                    "warning",
                    "slow order acknowledgement",
                    order_id=order.order_id,
                    symbol=order.symbol,
                    latency_seconds=round(latency, 3),
                )
        breaker = self._breaker
        breaker.failures = 0
        if order.probe and breaker.state == "half_open":
            self._set_breaker("closed", at, out, "probe order acknowledged")

    def _on_reject(self, order: _Order, reason: str, message: str, at: float, out: list[dict[str, Any]]) -> None:
        out.append(
            self._event(
                "order_rejected",
                self._market_ts(at),
                {
                    "order_id": order.order_id,
                    "symbol": order.symbol,
                    "side": order.side,
                    "reason": reason,
                    "message": message,
                },
            )
        )
        self._done(order)
        if reason in ("kill_switch", "venue_unavailable"):
            # The strategy waits before trying again (10 wall seconds or 3 model intervals).
            self._symbols[order.symbol].blocked_until = at + max(3 * self.model_interval, 10 * self.speed)
        by = "risk manager" if reason in ("kill_switch", "risk_limit") else "venue"
        with correlation(order.order_id):
            self._note(
                "warning",
                f"order rejected by {by}: {reason}",
                order_id=order.order_id,
                symbol=order.symbol,
                side=order.side,
                reason=reason,
                detail=message,
            )
        if reason != "venue_unavailable" or message.startswith("circuit breaker"):
            return
        breaker = self._breaker
        breaker.failures += 1
        if breaker.state == "half_open" or (breaker.state == "closed" and breaker.failures >= 3):
            self._set_breaker("open", at, out, f"{breaker.failures} consecutive venue failures")

    def _set_breaker(self, state: str, at: float, out: list[dict[str, Any]], reason: str) -> None:
        breaker = self._breaker
        breaker.state = state
        if state == "open":
            breaker.opened_at = self._k / self.rate
        if state == "closed":
            breaker.failures = 0
        out.append(
            self._event(
                "circuit_breaker", self._market_ts(at), {"service": EXCHANGE_SERVICE, "state": state, "reason": reason}
            )
        )
        level = "error" if state == "open" else "info"
        self._note(
            level,
            f"circuit breaker {state.replace('_', '-')} for {EXCHANGE_SERVICE}",
            breaker_service=EXCHANGE_SERVICE,
            state=state,
            reason=reason,
        )

    def _breaker_tick(self, p: float, s: float, out: list[dict[str, Any]]) -> None:
        breaker = self._breaker
        cooldown = min(30.0, max(self.incident / 5.0, 1.0 / self.rate)) if self.incident else 30.0
        if breaker.state == "open" and p - breaker.opened_at >= cooldown:
            self._set_breaker("half_open", s, out, "cool-down elapsed; next order probes the venue")

    def _on_fill(
        self, order: _Order, qty: float, price: float, final: bool, at: float, out: list[dict[str, Any]]
    ) -> None:
        sym = self._symbols[order.symbol]
        ts = self._market_ts(at)
        fee = qty * price * sym.inst.fee_rate
        out.append(
            self._event(
                "order_filled" if final else "order_partially_filled",
                ts,
                {
                    "order_id": order.order_id,
                    "symbol": order.symbol,
                    "side": order.side,
                    "fill_quantity": qty,
                    "fill_price": _price(price),
                    "fee": round(fee, 6),
                },
            )
        )
        signed = qty if order.side == "buy" else -qty
        self._cash -= signed * price + fee
        pos = sym.pos
        if pos.qty == 0:
            pos.trade_id, pos.opened, pos.avg, pos.realized, pos.fees = self._id("trd-"), at, price, 0.0, 0.0
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            total = pos.qty + signed
            pos.avg = (pos.avg * abs(pos.qty) + price * qty) / abs(total)
            pos.qty = _round_lot(total, sym.inst.lot)
            pos.fees += fee
        else:
            closing = min(qty, abs(pos.qty))
            pos.realized += closing * (price - pos.avg) * (1 if pos.qty > 0 else -1)
            pos.fees += fee * closing / qty
            rest = _round_lot(pos.qty + signed, sym.inst.lot)
            if rest == 0 or (rest > 0) != (pos.qty > 0):
                out.append(
                    self._event(
                        "trade_closed",
                        ts,
                        {
                            "trade_id": pos.trade_id,
                            "symbol": order.symbol,
                            "realized_pnl": round(pos.realized, 2),
                            "fees": round(pos.fees, 6),
                            "holding_seconds": round(max(0.0, at - pos.opened), 3),
                            "exit_reason": order.reason,
                        },
                    )
                )
                if rest != 0:  # flipped through zero: the remainder opens a new trade
                    pos.trade_id, pos.opened, pos.avg, pos.realized = self._id("trd-"), at, price, 0.0
                    pos.fees = fee * (qty - closing) / qty
            pos.qty = rest
        if final:
            self._done(order)

    def _done(self, order: _Order) -> None:
        sym = self._symbols[order.symbol]
        if sym.pending == order.order_id:
            sym.pending = None
        self._orders.pop(order.order_id, None)

    # -- periodic state -------------------------------------------------------------------------
    def _periodic(self, effects: Effects, p: float, s: float, out: list[dict[str, Any]]) -> None:
        if p >= self._next_heartbeat:
            self._next_heartbeat = p + self.heartbeat_interval
            wall = self._wall_ts(p)
            for component in COMPONENTS:
                status = effects.heartbeat.get(component, "healthy")
                out.append(self._event("heartbeat", wall, {"component": component, "status": status}, envelope=False))
                if status != "healthy":
                    self._note("warning", f"component {component} {status}", component=component, status=status)
        if p >= self._next_snapshot:
            self._next_snapshot = p + self.snapshot_interval
            self._portfolio(s, out)

    def _portfolio(self, s: float, out: list[dict[str, Any]]) -> None:
        ts = self._market_ts(s)
        equity = self._equity()
        gross = sum(abs(sym.pos.qty) * sym.price for sym in self._symbols.values())
        out.append(
            self._event(
                "portfolio_snapshot",
                ts,
                {
                    "equity": round(equity, 2),
                    "cash": round(self._cash, 2),
                    "initial_balance": self.initial_balance,
                    "margin_used": round(gross * 0.25, 2),
                },
            )
        )
        for name, sym in self._symbols.items():
            pos = sym.pos
            out.append(
                self._event(
                    "position_snapshot",
                    ts,
                    {
                        "symbol": name,
                        "quantity": pos.qty,
                        "avg_price": _price(pos.avg if pos.qty else sym.price),
                        "mark_price": _price(sym.price),
                        "limit": sym.limit,
                    },
                )
            )
            out.append(
                self._event("position_limit", ts, {"symbol": name, "usage_ratio": round(abs(pos.qty) / sym.limit, 4)})
            )
        drawdown = 1.0 - equity / self._hwm if self._hwm > 0 else 0.0
        vol_ratio = sum(self._volatility(sym) / (3.0 * sym.inst.vol) for sym in self._symbols.values())
        shares = [abs(sym.pos.qty) * sym.price / gross for sym in self._symbols.values()] if gross else []
        for risk_type, score in (
            ("market", 100.0 * vol_ratio / len(self._symbols)),
            ("drawdown", 100.0 * drawdown / self.max_drawdown),
            ("concentration", 100.0 * sum(x * x for x in shares)),
        ):
            out.append(
                self._event("risk_score", ts, {"risk_type": risk_type, "score": round(min(100.0, max(0.0, score)), 2)})
            )

    def _note(self, level: str, message: str, **fields: Any) -> None:
        if self.log_events:
            getattr(log, level)(message, simulator_step=self._k, **fields)


def _round_lot(qty: float, lot: float) -> float:
    out = round(round(qty / lot) * lot, 8)
    return 0.0 if out == 0 else out


def _price(value: float) -> float:
    return round(value, 6 if value < 10 else 4)
