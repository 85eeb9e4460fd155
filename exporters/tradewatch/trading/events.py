"""Event schema v1 of the trading exporter, as validator field specs (docs/events.md).

The JSON Schema in ``tradewatch/schemas/trading-events-v1.schema.json`` documents the same rules;
``tests/trading/test_schema.py`` and ``tests/fuzz`` check that both accept and reject the same
documents. Codes on a safety path (kill switch and rejection reasons, exit reasons, breaker states,
heartbeat statuses) are vocabularies, not enums: an unknown code is accepted as a bounded fallback
so that no halt, breaker or heartbeat is lost to a word the producer uses (docs/events.md).
"""

from __future__ import annotations

from tradewatch.core.validate import (
    EventValidator,
    FieldSpec,
    TimeWindow,
    boolean,
    enum,
    free_text,
    number,
    opt,
    req,
    text,
    timestamp,
    vocabulary,
)

SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
REJECT_REASONS = (
    "insufficient_funds",
    "risk_limit",
    "invalid_order",
    "rate_limited",
    "venue_unavailable",
    "market_closed",
    "kill_switch",
    "other",
)
EXIT_REASONS = ("take_profit", "stop_loss", "signal", "manual", "kill_switch", "other")
SIGNAL_ACTIONS = ("buy", "sell", "hold", "close")
BREAKER_STATES = ("closed", "open", "half_open")
KILL_REASONS = ("daily_loss", "drawdown", "manual", "volatility", "error_rate", "other")
MARKET_DATA_KINDS = ("tick", "bar")
HEARTBEAT_STATUSES = ("healthy", "degraded", "down")
ORDER_STATUSES = ("submitted", "acknowledged", "partially_filled", "filled", "cancelled", "rejected")
# Decision lifecycle: made, then approved or rejected, then executed, failed or expired. A decision
# event without a stage is one made (schema v1 before stages).
DECISION_STAGES = ("made", "approved", "rejected", "executed", "failed", "expired")
ERROR_SEVERITIES = ("warning", "error", "critical")
# Status classes of an external call; an unknown class counts as "error" (a failure nobody hides).
API_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "timeout", "error")
API_ERROR_CLASSES = ("5xx", "timeout", "error")
CACHE_RESULTS = ("hit", "miss")

_id = text()
_price = number(positive=True)
_qty = number(positive=True, quantity=True)
_nonneg = number(minimum=0)
_ratio = number(minimum=0, maximum=1)
# ack/fill/cancel/reject may repeat these; the exporter joins by order_id.
_order_echo: list[FieldSpec] = [opt("symbol", _id), opt("side", enum(*SIDES)), opt("order_type", enum(*ORDER_TYPES))]
_fill: list[FieldSpec] = [
    req("order_id", _id),
    req("fill_quantity", _qty),
    req("fill_price", _price),
    opt("fee", _nonneg),
    *_order_echo,
]

TRADING_TYPES: dict[str, list[FieldSpec]] = {
    "order_submitted": [
        req("order_id", _id),
        req("symbol", _id),
        req("side", enum(*SIDES)),
        req("order_type", enum(*ORDER_TYPES)),
        req("quantity", _qty),
        opt("limit_price", _price),
        req("reference_price", _price),
    ],
    "order_acknowledged": [req("order_id", _id), *_order_echo],
    "order_partially_filled": _fill,
    "order_filled": _fill,
    "order_cancelled": [req("order_id", _id), opt("reason", free_text), *_order_echo],
    "order_rejected": [
        req("order_id", _id),
        req("reason", vocabulary("order_rejected.reason", REJECT_REASONS, "other")),
        opt("message", free_text),
        *_order_echo,
    ],
    "trade_closed": [
        req("trade_id", _id),
        req("symbol", _id),
        req("realized_pnl", number()),
        req("fees", _nonneg),
        req("holding_seconds", _nonneg),
        req("exit_reason", vocabulary("trade_closed.exit_reason", EXIT_REASONS, "other")),
    ],
    "position_snapshot": [
        req("symbol", _id),
        req("quantity", number()),
        req("avg_price", _nonneg),
        req("mark_price", _nonneg),
        opt("limit", number(positive=True, quantity=True)),
    ],
    "portfolio_snapshot": [
        req("equity", number()),
        req("cash", number()),
        opt("initial_balance", number()),
        opt("margin_used", _nonneg),
    ],
    "signal": [req("symbol", _id), req("action", enum(*SIGNAL_ACTIONS)), req("confidence", _ratio)],
    # latency_seconds was required before stages: a stage after "made" has no decision latency.
    "decision": [
        req("provider", _id),
        opt("latency_seconds", _nonneg),
        opt("confidence", _ratio),
        opt("stage", enum(*DECISION_STAGES)),
        opt("decision_id", _id),
    ],
    # An unknown breaker state counts as open: it may be a trip the producer names differently, and
    # an alert a human dismisses is cheaper than a tripped breaker nobody sees.
    "circuit_breaker": [
        req("service", _id),
        req("state", vocabulary("circuit_breaker.state", BREAKER_STATES, "open")),
        opt("reason", free_text),
    ],
    "kill_switch": [req("active", boolean), opt("reason", vocabulary("kill_switch.reason", KILL_REASONS, "other"))],
    "risk_score": [req("risk_type", _id), req("score", number())],
    "volatility_breach": [req("symbol", _id), req("volatility", _nonneg), req("limit", _nonneg)],
    "position_limit": [req("symbol", _id), req("usage_ratio", _nonneg)],
    "market_data": [
        req("symbol", _id),
        req("exchange_ts", timestamp),
        req("kind", enum(*MARKET_DATA_KINDS)),
        opt("price", _price),
    ],
    # An unknown status counts as degraded: the component is alive (it sent a heartbeat) but says
    # something the exporter does not know, which a human should look at; not a page as "down".
    "heartbeat": [req("component", _id), req("status", vocabulary("heartbeat.status", HEARTBEAT_STATUSES, "degraded"))],
    # An unknown severity counts as error: above a warning, short of a page.
    "error": [
        req("component", _id),
        req("severity", vocabulary("error.severity", ERROR_SEVERITIES, "error")),
        req("kind", _id),
        opt("message", free_text),
    ],
    "api_call": [
        req("provider", _id),
        req("endpoint", _id),
        req("status_class", vocabulary("api_call.status_class", API_STATUS_CLASSES, "error")),
        req("latency_seconds", _nonneg),
        opt("cache", enum(*CACHE_RESULTS)),
    ],
}

# Static rules only (no clock window): for tools and tests. The exporter uses trading_validator().
validate_trading_event = EventValidator(TRADING_TYPES)


def trading_validator(window: TimeWindow | None) -> EventValidator:
    """The trading exporter's validator, with its event-time window (``TimeWindow.from_config``)."""
    return EventValidator(TRADING_TYPES, window)
