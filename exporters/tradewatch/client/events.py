"""Typed event builders shared by the HTTP client and the journal writer.

Every helper builds one event of the v1 contract (docs/client.md lists them), fills ``ts`` (RFC 3339
UTC, microseconds) and a unique ``event_id`` (uuid4 hex) unless given, adds the emitter's default
``strategy``/``account``/``venue``, leaves out ``None`` fields, and hands the dict to ``emit``.
``emit`` returns the ``event_id`` so a caller can correlate its own logs with the exporter's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from tradewatch.client.health import HealthHelpers
from tradewatch.client.trail import Trails

# Event types the model exporter ingests; every other type goes to the trading exporter.
MODEL_TYPES = frozenset({"prediction", "outcome", "ai_call"})

Timestamp = str | float | int | datetime | None


def format_ts(ts: float | int | datetime) -> str:
    """Unix seconds or a datetime -> RFC 3339 UTC with microseconds and ``Z``."""
    if isinstance(ts, datetime):
        moment = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(float(ts), UTC)
    # isoformat is several times faster than strftime; "+00:00" -> "Z".
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def now_ts() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def new_event_id() -> str:
    return uuid.uuid4().hex


def build_event(
    event_type: str,
    fields: Mapping[str, Any],
    *,
    ts: Timestamp = None,
    event_id: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One contract event: envelope first, then the non-None fields."""
    event: dict[str, Any] = {
        "type": event_type,
        "ts": now_ts() if ts is None else (ts if isinstance(ts, str) else format_ts(ts)),
        "event_id": event_id or new_event_id(),
    }
    if defaults:
        for key, value in defaults.items():
            if value is not None:
                event[key] = value
    for key, value in fields.items():
        if value is not None:
            event[key] = value
    return event


def encode(event: dict[str, Any]) -> bytes:
    """The event as JSON. orjson refuses what strict UTF-8 cannot carry (a lone surrogate, which
    text decoded with surrogateescape or taken from JavaScript can hold) and integers past 64 bits;
    the standard library writes those as JSON escapes and digits, so the event still travels and
    the exporter answers for it (surrogates in free text become U+FFFD, an identifier or a number
    out of range is refused with a reason and dead-lettered) instead of emit() raising in the
    trading loop. Only values JSON has no form for (a set, an object) raise TypeError."""
    try:
        return orjson.dumps(event)
    except TypeError:
        return json.dumps(event, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class EventHelpers(HealthHelpers):
    """Mixin: one method per event type; subclasses implement :meth:`emit`.

    Every helper also takes the envelope keywords ``ts``, ``event_id``, ``strategy``, ``account``,
    ``venue`` and ``correlation_id`` (``**envelope``); the emitter's defaults fill strategy, account
    and venue when omitted, its :class:`~tradewatch.client.trail.Trails` the correlation ID.
    """

    defaults: dict[str, Any]
    trails: Trails = Trails()  # replaced per emitter (with its trail_sample_rate) by the subclasses

    def emit(self, event: dict[str, Any]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def trail(self, correlation_id: str | None = None) -> Any:
        """A correlation trail (context manager or decorator) for a decision and its orders (trail.py)."""
        return self.trails.trail(correlation_id)

    def _send(self, event_type: str, fields: dict[str, Any], envelope: dict[str, Any]) -> str:
        ts = envelope.pop("ts", None)
        event_id = envelope.pop("event_id", None)
        merged = {**self.defaults, **{k: v for k, v in envelope.items() if v is not None}}
        event = build_event(event_type, fields, ts=ts, event_id=event_id, defaults=merged)
        self.trails.tag(event)
        return self.emit(event)

    # -- order lifecycle ------------------------------------------------------------------------
    def order_submitted(
        self,
        order_id: str,
        symbol: str,
        side: str,
        quantity: float,
        reference_price: float,
        order_type: str = "market",
        limit_price: float | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "order_submitted",
            {
                "order_id": order_id,
                "symbol": symbol,
                "side": side,
                "order_type": order_type,
                "quantity": quantity,
                "limit_price": limit_price,
                "reference_price": reference_price,
            },
            envelope,
        )

    def order_acknowledged(
        self, order_id: str, symbol: str | None = None, side: str | None = None, **envelope: Any
    ) -> str:
        return self._send("order_acknowledged", {"order_id": order_id, "symbol": symbol, "side": side}, envelope)

    def order_partially_filled(
        self,
        order_id: str,
        fill_quantity: float,
        fill_price: float,
        fee: float | None = None,
        symbol: str | None = None,
        side: str | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "order_partially_filled",
            {
                "order_id": order_id,
                "fill_quantity": fill_quantity,
                "fill_price": fill_price,
                "fee": fee,
                "symbol": symbol,
                "side": side,
            },
            envelope,
        )

    def order_filled(
        self,
        order_id: str,
        fill_quantity: float,
        fill_price: float,
        fee: float | None = None,
        symbol: str | None = None,
        side: str | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "order_filled",
            {
                "order_id": order_id,
                "fill_quantity": fill_quantity,
                "fill_price": fill_price,
                "fee": fee,
                "symbol": symbol,
                "side": side,
            },
            envelope,
        )

    def order_cancelled(
        self, order_id: str, reason: str | None = None, symbol: str | None = None, **envelope: Any
    ) -> str:
        return self._send("order_cancelled", {"order_id": order_id, "reason": reason, "symbol": symbol}, envelope)

    def order_rejected(
        self,
        order_id: str,
        reason: str,
        message: str | None = None,
        symbol: str | None = None,
        side: str | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "order_rejected",
            {
                "order_id": order_id,
                "reason": reason,
                "message": message,
                "symbol": symbol,
                "side": side,
            },
            envelope,
        )

    # -- results and state ----------------------------------------------------------------------
    def trade_closed(
        self,
        trade_id: str,
        symbol: str,
        realized_pnl: float,
        fees: float = 0.0,
        holding_seconds: float = 0.0,
        exit_reason: str = "signal",
        **envelope: Any,
    ) -> str:
        return self._send(
            "trade_closed",
            {
                "trade_id": trade_id,
                "symbol": symbol,
                "realized_pnl": realized_pnl,
                "fees": fees,
                "holding_seconds": holding_seconds,
                "exit_reason": exit_reason,
            },
            envelope,
        )

    def position_snapshot(
        self,
        symbol: str,
        quantity: float,
        avg_price: float,
        mark_price: float,
        limit: float | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "position_snapshot",
            {
                "symbol": symbol,
                "quantity": quantity,
                "avg_price": avg_price,
                "mark_price": mark_price,
                "limit": limit,
            },
            envelope,
        )

    def portfolio_snapshot(
        self,
        equity: float,
        cash: float,
        initial_balance: float | None = None,
        margin_used: float | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "portfolio_snapshot",
            {
                "equity": equity,
                "cash": cash,
                "initial_balance": initial_balance,
                "margin_used": margin_used,
            },
            envelope,
        )

    # -- decisions ------------------------------------------------------------------------------
    def signal(self, symbol: str, action: str, confidence: float, **envelope: Any) -> str:
        return self._send("signal", {"symbol": symbol, "action": action, "confidence": confidence}, envelope)

    def decision(
        self,
        provider: str,
        latency_seconds: float | None = None,
        confidence: float | None = None,
        *,
        stage: str | None = None,
        decision_id: str | None = None,
        **envelope: Any,
    ) -> str:
        """A decision event; the lifecycle helpers (decision_made, ...) are in client/health.py."""
        return self._send(
            "decision",
            {
                "provider": provider,
                "latency_seconds": latency_seconds,
                "confidence": confidence,
                "stage": stage,
                "decision_id": decision_id,
            },
            envelope,
        )

    # -- risk controls --------------------------------------------------------------------------
    def circuit_breaker(self, service: str, state: str, reason: str | None = None, **envelope: Any) -> str:
        return self._send("circuit_breaker", {"service": service, "state": state, "reason": reason}, envelope)

    def kill_switch(self, active: bool, reason: str, **envelope: Any) -> str:
        return self._send("kill_switch", {"active": bool(active), "reason": reason}, envelope)

    def risk_score(self, risk_type: str, score: float, **envelope: Any) -> str:
        return self._send("risk_score", {"risk_type": risk_type, "score": score}, envelope)

    def volatility_breach(self, symbol: str, volatility: float, limit: float, **envelope: Any) -> str:
        return self._send("volatility_breach", {"symbol": symbol, "volatility": volatility, "limit": limit}, envelope)

    def position_limit(self, symbol: str, usage_ratio: float, **envelope: Any) -> str:
        return self._send("position_limit", {"symbol": symbol, "usage_ratio": usage_ratio}, envelope)

    # -- liveness -------------------------------------------------------------------------------
    def market_data(
        self,
        symbol: str,
        exchange_ts: Timestamp = None,
        kind: str = "tick",
        price: float | None = None,
        **envelope: Any,
    ) -> str:
        if exchange_ts is None:
            exchange_ts = now_ts()
        elif not isinstance(exchange_ts, str):
            exchange_ts = format_ts(exchange_ts)
        return self._send(
            "market_data", {"symbol": symbol, "exchange_ts": exchange_ts, "kind": kind, "price": price}, envelope
        )

    def heartbeat(self, component: str, status: str = "healthy", **envelope: Any) -> str:
        return self._send("heartbeat", {"component": component, "status": status}, envelope)

    # -- model exporter -------------------------------------------------------------------------
    def prediction(
        self,
        model: str,
        model_version: str,
        prediction_id: str,
        features: Mapping[str, Any],
        predicted: str | float,
        latency_seconds: float,
        confidence: float | None = None,
        probabilities: Mapping[str, float] | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "prediction",
            {
                "model": model,
                "model_version": model_version,
                "prediction_id": prediction_id,
                "features": dict(features),
                "predicted": predicted,
                "confidence": confidence,
                "probabilities": dict(probabilities) if probabilities is not None else None,
                "latency_seconds": latency_seconds,
            },
            envelope,
        )

    def outcome(
        self, prediction_id: str, model: str, actual: str | float, pnl: float | None = None, **envelope: Any
    ) -> str:
        return self._send(
            "outcome", {"prediction_id": prediction_id, "model": model, "actual": actual, "pnl": pnl}, envelope
        )

    def ai_call(
        self,
        provider: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        latency_seconds: float,
        status: str = "ok",
        cost_usd: float | None = None,
        **envelope: Any,
    ) -> str:
        return self._send(
            "ai_call",
            {
                "provider": provider,
                "model": model,
                "prompt_tokens": int(prompt_tokens),
                "completion_tokens": int(completion_tokens),
                "cost_usd": cost_usd,
                "latency_seconds": latency_seconds,
                "status": status,
            },
            envelope,
        )
