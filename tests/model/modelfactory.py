"""Event builders for the model exporter tests (plain dicts, as a client would send them)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

_ids = itertools.count()


def prediction(
    pid: str,
    ts: float,
    predicted: Any = "up",
    *,
    model: str = "m",
    version: str = "v1",
    features: dict[str, Any] | None = None,
    confidence: float | None = None,
    probabilities: dict[str, float] | None = None,
    latency: float = 0.01,
) -> dict[str, Any]:
    ev = {
        "type": "prediction",
        "ts": ts,
        "event_id": f"e{next(_ids)}",
        "model": model,
        "model_version": version,
        "prediction_id": pid,
        "features": features if features is not None else {},
        "predicted": predicted,
        "latency_seconds": latency,
    }
    if confidence is not None:
        ev["confidence"] = confidence
    if probabilities is not None:
        ev["probabilities"] = probabilities
    return ev


def outcome(pid: str, ts: float, actual: Any, *, model: str = "m", pnl: float | None = None) -> dict[str, Any]:
    ev = {
        "type": "outcome",
        "ts": ts,
        "event_id": f"e{next(_ids)}",
        "model": model,
        "prediction_id": pid,
        "actual": actual,
    }
    if pnl is not None:
        ev["pnl"] = pnl
    return ev


def ai_call(
    ts: float,
    *,
    provider: str = "openai",
    model: str = "gpt-4o",
    prompt: int = 1000,
    completion: int = 100,
    cost: float | None = None,
    status: str = "ok",
    latency: float = 1.0,
) -> dict[str, Any]:
    ev = {
        "type": "ai_call",
        "ts": ts,
        "event_id": f"e{next(_ids)}",
        "provider": provider,
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "latency_seconds": latency,
        "status": status,
    }
    if cost is not None:
        ev["cost_usd"] = cost
    return ev


def stream(
    n: int,
    *,
    seed: int = 0,
    start: float = 1_700_000_000.0,
    shift_after: int | None = None,
    shift: float = 0.5,
    model: str = "m",
    outcome_every: int = 2,
) -> list[dict[str, Any]]:
    """Predictions with numeric x, y and categorical c; outcomes for every ``outcome_every``-th one.

    After ``shift_after`` predictions, x's mean moves by ``shift`` standard deviations and the
    category mix changes, so drift is expected on x and c.
    """
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    for i in range(n):
        shifted = shift_after is not None and i >= shift_after
        x = float(rng.normal(shift if shifted else 0.0, 1.0))
        probs = [0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2]
        c = str(rng.choice(["a", "b", "c"], p=probs))
        predicted = "up" if x > 0 else "down"
        conf = float(min(0.99, 0.5 + abs(x) / 4))
        events.append(
            prediction(
                f"{model}-{i}",
                start + i,
                predicted,
                model=model,
                confidence=conf,
                features={"x": x, "y": float(rng.uniform()), "c": c},
            )
        )
        if outcome_every and i % outcome_every == 0:
            actual = predicted if rng.uniform() < conf else ("down" if predicted == "up" else "up")
            events.append(
                outcome(
                    f"{model}-{i}",
                    start + i + 5,
                    actual,
                    model=model,
                    pnl=float(rng.normal(1 if actual == predicted else -1, 0.5)),
                )
            )
    return events
