"""A deterministic stream of trading events covering every type (tests and the benchmark)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def event_stream(
    n: int, *, symbols: int = 8, seed: int = 7, start: float = T0, step: float = 0.05, prefix: str = "e"
) -> Iterator[dict[str, Any]]:
    """``n`` valid events in a realistic mix (mostly market data, orders, snapshots)."""
    rng = random.Random(seed)
    names = [f"SYM{i}" for i in range(symbols)]
    prices = {s: 100.0 + i for i, s in enumerate(names)}
    equity = 100_000.0
    order = 0
    i = 0
    ts = start
    pending: list[dict[str, Any]] = []
    while i < n:
        ts += step
        if pending:
            ev = pending.pop(0)
            ev["ts"] = ts
        else:
            sym = names[rng.randrange(symbols)]
            prices[sym] *= 1 + rng.gauss(0, 0.001)
            r = rng.random()
            if r < 0.45:
                ev = {
                    "type": "market_data",
                    "symbol": sym,
                    "exchange_ts": ts - 0.01,
                    "kind": "tick",
                    "price": round(prices[sym], 4),
                }
            elif r < 0.55:
                order += 1
                oid = f"o{order}"
                side = "buy" if rng.random() < 0.5 else "sell"
                ref = round(prices[sym], 4)
                ev = {
                    "type": "order_submitted",
                    "order_id": oid,
                    "symbol": sym,
                    "side": side,
                    "order_type": "market",
                    "quantity": 10.0,
                    "reference_price": ref,
                    "strategy": "momo",
                    "venue": "binance",
                }
                pending.append({"type": "order_acknowledged", "order_id": oid})
                fill = round(ref * (1 + rng.gauss(0, 0.0005)), 4)
                if rng.random() < 0.1:
                    pending.append({"type": "order_rejected", "order_id": oid, "reason": "rate_limited"})
                else:
                    pending.append(
                        {
                            "type": "order_partially_filled",
                            "order_id": oid,
                            "fill_quantity": 4.0,
                            "fill_price": fill,
                            "fee": 0.01,
                        }
                    )
                    pending.append(
                        {
                            "type": "order_filled",
                            "order_id": oid,
                            "fill_quantity": 6.0,
                            "fill_price": fill,
                            "fee": 0.01,
                        }
                    )
            elif r < 0.65:
                equity *= 1 + rng.gauss(0, 0.002)
                ev = {
                    "type": "portfolio_snapshot",
                    "equity": round(equity, 2),
                    "cash": 50_000.0,
                    "account": "main",
                }
            elif r < 0.73:
                ev = {
                    "type": "position_snapshot",
                    "symbol": sym,
                    "quantity": float(rng.randint(-5, 5)),
                    "avg_price": 100.0,
                    "mark_price": round(prices[sym], 4),
                    "limit": 10.0,
                }
            elif r < 0.80:
                ev = {
                    "type": "signal",
                    "symbol": sym,
                    "action": rng.choice(["buy", "sell", "hold"]),
                    "confidence": round(rng.random(), 3),
                    "strategy": "momo",
                }
            elif r < 0.85:
                pnl = round(rng.gauss(5, 20), 2)
                ev = {
                    "type": "trade_closed",
                    "trade_id": f"t{i}",
                    "symbol": sym,
                    "realized_pnl": pnl,
                    "fees": 0.2,
                    "holding_seconds": 60.0,
                    "exit_reason": "take_profit" if pnl > 0 else "stop_loss",
                    "strategy": "momo",
                }
            elif r < 0.90:
                ev = {
                    "type": "heartbeat",
                    "component": rng.choice(["strategy", "feed", "broker"]),
                    "status": "healthy",
                }
            elif r < 0.93:
                ev = {"type": "decision", "provider": "openai", "latency_seconds": round(rng.random(), 3)}
            elif r < 0.95:
                ev = {"type": "risk_score", "risk_type": "var", "score": round(rng.random(), 3)}
            elif r < 0.97:
                ev = {"type": "circuit_breaker", "service": "broker", "state": rng.choice(["closed", "open"])}
            elif r < 0.98:
                ev = {"type": "kill_switch", "active": rng.random() < 0.5, "reason": "manual"}
            elif r < 0.99:
                ev = {"type": "volatility_breach", "symbol": sym, "volatility": 0.05, "limit": 0.03}
            else:
                ev = {"type": "position_limit", "symbol": sym, "usage_ratio": round(rng.random(), 3)}
            ev["ts"] = ts
        ev["event_id"] = f"{prefix}{i}"
        i += 1
        yield ev


def fold(events: list[dict[str, Any]], config: Any = None) -> Any:
    """A fresh TradingState with ``events`` validated and applied in order."""
    from tradewatch.trading.events import validate_trading_event
    from tradewatch.trading.state import TradingState

    state = TradingState(config)
    for raw in events:
        event = validate_trading_event(dict(raw))
        if "received_at" in raw:  # stamped by the ingestor in real life
            event["received_at"] = raw["received_at"]
        state.apply(event)
    return state


def metric_values(state: Any, now: float = T0) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of everything the trading collector exposes."""
    from tradewatch.trading.collector import TradingStateCollector

    out = {}
    for family in TradingStateCollector(state, clock=lambda: now).collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(values: dict, name: str, **labels: str) -> float:
    return values[(name, tuple(sorted(labels.items())))]


class Events:
    """Builds events with increasing ids; ``ts`` given explicitly."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, type_: str, ts: float, **fields: Any) -> dict[str, Any]:
        self.n += 1
        return {"type": type_, "ts": ts, "event_id": f"t{self.n}", **fields}
