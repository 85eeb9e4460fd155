"""The simulated trading system's own health: its broker API calls, its errors, its decisions' lifecycle.

Draws from its own random stream (so adding these events changes no other event of a seed), and is
driven by the engine once per step (:meth:`HealthSim.step`) and once per model decision
(:meth:`HealthSim.decision_made`). In a normal market the broker API answers in ~80 ms (quotes
mostly from a cache), errors are occasional warnings, and decisions are approved and executed
within a second; the ``broker-api-degraded`` scenario (``Effects.broker_api_degraded``) makes calls
~12x slower with a quarter of them failing, reports one critical error when it starts, and lets
more decisions fail.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

PROVIDER = "sim-broker"
ENDPOINTS = ("orders", "positions", "quotes", "account")
CALL_INTERVAL = 1.0  # pacing seconds between broker API calls
WARNING_INTERVAL = 90.0  # pacing seconds between routine warnings

Event = Callable[..., dict[str, Any]]


class HealthSim:
    def __init__(self, seed: int, event: Event, new_id: Callable[[str], str]):
        self._rng = random.Random(f"health:{seed}")
        self._event = event
        self._new_id = new_id
        self._next_call = 0.0
        self._next_warning = WARNING_INTERVAL / 2
        self._degraded = False
        # (market seconds due, event time, provider, decision_id, stage)
        self._pending: list[tuple[float, float, str, str, str]] = []
        self._k = 0

    def step(self, effects: Any, p: float, s: float, ts: float, out: list[dict[str, Any]]) -> None:
        degraded = effects.broker_api_degraded
        if degraded and not self._degraded:
            out.append(
                self._event(
                    "error",
                    ts,
                    {
                        "component": "order-router",
                        "severity": "critical",
                        "kind": "broker_session_lost",
                        "message": f"{PROVIDER}: session lost, reconnecting (HTTP 503 on /session)",
                    },
                )
            )
        self._degraded = degraded
        while p >= self._next_call:
            self._next_call += CALL_INTERVAL
            out.append(self._call(degraded, ts))
        if p >= self._next_warning:
            self._next_warning = p + WARNING_INTERVAL
            kind = self._rng.choice(("retry", "stale_quote", "slow_query"))
            component = {"retry": "order-router", "stale_quote": "strategy-engine", "slow_query": "risk-manager"}
            out.append(self._event("error", ts, {"component": component[kind], "severity": "warning", "kind": kind}))
        due = [x for x in self._pending if x[0] <= s]
        if due:
            self._pending = [x for x in self._pending if x[0] > s]
            for _, at, provider, did, stage in due:
                out.append(self._event("decision", at, {"provider": provider, "stage": stage, "decision_id": did}))

    def _call(self, degraded: bool, ts: float) -> dict[str, Any]:
        rng = self._rng
        self._k += 1
        endpoint = ENDPOINTS[self._k % len(ENDPOINTS)]
        fields: dict[str, Any] = {"provider": PROVIDER, "endpoint": endpoint}
        if endpoint == "quotes":
            hit = rng.random() < 0.85
            fields["cache"] = "hit" if hit else "miss"
            if hit:
                latency = round(rng.uniform(0.0005, 0.002), 6)
                return self._event("api_call", ts, {**fields, "status_class": "2xx", "latency_seconds": latency})
        latency = rng.lognormvariate(math.log(0.08), 0.35) * (12.0 if degraded else 1.0)
        roll = rng.random()
        if degraded and roll < 0.10:
            status, latency = "timeout", 10.0
        elif (degraded and roll < 0.25) or roll < 0.002:
            status = "5xx"
        elif roll < 0.006:
            status = "4xx"
        else:
            status = "2xx"
        return self._event("api_call", ts, {**fields, "status_class": status, "latency_seconds": round(latency, 6)})

    def decision_made(self, event: dict[str, Any], s: float, ts: float) -> None:
        """Give a model decision an ID and schedule its approval (or rejection) and its execution."""
        rng = self._rng
        did = self._new_id("dcs-")
        event["stage"] = "made"
        event["decision_id"] = did
        provider = event["provider"]
        if rng.random() < 0.03:
            self._pending.append((s + 0.05, ts + 0.05, provider, did, "rejected"))
            return
        self._pending.append((s + 0.05, ts + 0.05, provider, did, "approved"))
        fail = 0.3 if self._degraded else 0.02
        later = rng.uniform(0.2, 0.6)
        stage = "failed" if rng.random() < fail else "executed"
        self._pending.append((s + later, ts + later, provider, did, stage))
