"""Event schema v1 of the trading exporter, as validator field specs (docs/events.md).

The JSON Schema in ``tradewatch/schemas/trading-events-v1.schema.json`` documents the same rules;
``tests/trading/test_schema.py`` checks that both accept and reject the same documents.
"""

from __future__ import annotations

from tradewatch.core.validate import (
    EventValidator,
    FieldSpec,
    boolean,
    enum,
    free_text,
    number,
    opt,
    req,
    text,
    timestamp,
)

SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
REJECT_REASONS = ("insufficient_funds", "risk_limit", "invalid_order", "rate_limited", "venue_unavailable",
                  "market_closed", "kill_switch", "other")
EXIT_REASONS = ("take_profit", "stop_loss", "signal", "manual", "kill_switch", "other")
SIGNAL_ACTIONS = ("buy", "sell", "hold", "close")
BREAKER_STATES = ("closed", "open", "half_open")
KILL_REASONS = ("daily_loss", "drawdown", "manual", "volatility", "error_rate", "other")
MARKET_DATA_KINDS = ("tick", "bar")
HEARTBEAT_STATUSES = ("healthy", "degraded", "down")
ORDER_STATUSES = ("submitted", "acknowledged", "partially_filled", "filled", "cancelled", "rejected")

_id = text()
_price = number(positive=True)
_qty = number(positive=True, quantity=True)
_nonneg = number(minimum=0)
_ratio = number(minimum=0, maximum=1)
# ack/fill/cancel/reject may repeat these; the exporter joins by order_id.
_order_echo: list[FieldSpec] = [opt("symbol", _id), opt("side", enum(*SIDES)),
                                opt("order_type", enum(*ORDER_TYPES))]
_fill: list[FieldSpec] = [req("order_id", _id), req("fill_quantity", _qty), req("fill_price", _price),
                          opt("fee", _nonneg), *_order_echo]

TRADING_TYPES: dict[str, list[FieldSpec]] = {
    "order_submitted": [req("order_id", _id), req("symbol", _id), req("side", enum(*SIDES)),
                        req("order_type", enum(*ORDER_TYPES)), req("quantity", _qty),
                        opt("limit_price", _price), req("reference_price", _price)],
    "order_acknowledged": [req("order_id", _id), *_order_echo],
    "order_partially_filled": _fill,
    "order_filled": _fill,
    "order_cancelled": [req("order_id", _id), opt("reason", free_text), *_order_echo],
    "order_rejected": [req("order_id", _id), req("reason", enum(*REJECT_REASONS)), opt("message", free_text),
                       *_order_echo],
    "trade_closed": [req("trade_id", _id), req("symbol", _id), req("realized_pnl", number()),
                     req("fees", _nonneg), req("holding_seconds", _nonneg),
                     req("exit_reason", enum(*EXIT_REASONS))],
    "position_snapshot": [req("symbol", _id), req("quantity", number()), req("avg_price", _nonneg),
                          req("mark_price", _nonneg), opt("limit", number(positive=True, quantity=True))],
    "portfolio_snapshot": [req("equity", number()), req("cash", number()), opt("initial_balance", number()),
                           opt("margin_used", _nonneg)],
    "signal": [req("symbol", _id), req("action", enum(*SIGNAL_ACTIONS)), req("confidence", _ratio)],
    "decision": [req("provider", _id), req("latency_seconds", _nonneg), opt("confidence", _ratio)],
    "circuit_breaker": [req("service", _id), req("state", enum(*BREAKER_STATES)), opt("reason", free_text)],
    "kill_switch": [req("active", boolean), opt("reason", enum(*KILL_REASONS))],
    "risk_score": [req("risk_type", _id), req("score", number())],
    "volatility_breach": [req("symbol", _id), req("volatility", _nonneg), req("limit", _nonneg)],
    "position_limit": [req("symbol", _id), req("usage_ratio", _nonneg)],
    "market_data": [req("symbol", _id), req("exchange_ts", timestamp), req("kind", enum(*MARKET_DATA_KINDS)),
                    opt("price", _price)],
    "heartbeat": [req("component", _id), req("status", enum(*HEARTBEAT_STATUSES))],
}

validate_trading_event = EventValidator(TRADING_TYPES)
