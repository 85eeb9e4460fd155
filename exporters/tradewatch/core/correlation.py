"""Correlation IDs: the one string that ties a decision to its orders, acks, fills and trade.

An event may carry ``correlation_id`` (docs/events.md). It is never a metric label (unbounded);
it goes into logs as a parsed field and onto histogram buckets as an OpenMetrics exemplar, whose
label set must stay within 128 UTF-8 characters: ``correlation_id`` (14) plus at most 64 ASCII
characters leaves room to spare. The charset keeps the ID safe unquoted in URLs and inside a LogQL
string literal (the Grafana exemplar link builds one).

On ingest the exporters take a request's ID from ``X-Correlation-ID`` or, failing that, the trace ID
of a W3C ``traceparent`` header; a header that does not fit the rules is ignored, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

FIELD = "correlation_id"  # the event field, the log field and the exemplar label name
# The events of one order's life, in the order they happen (trails join them on order_id).
ORDER_EVENTS = (
    "order_submitted",
    "order_acknowledged",
    "order_partially_filled",
    "order_filled",
    "order_cancelled",
    "order_rejected",
)
MAX_LENGTH = 64
PATTERN = f"^[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}$"
_valid = re.compile(PATTERN).search
# W3C Trace Context: version-traceid-parentid-flags; an all-zero trace ID is invalid.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def is_valid(value: object) -> bool:
    return value.__class__ is str and _valid(value) is not None  # type: ignore[arg-type]


def from_headers(headers: Mapping[str, str]) -> str | None:
    """The request's correlation ID (lower-cased header names), or None when none is usable."""
    cid = headers.get("x-correlation-id", "").strip()
    if is_valid(cid):
        return cid
    match = _TRACEPARENT.match(headers.get("traceparent", "").strip().lower())
    if match and match.group(1) != "0" * 32:
        return match.group(1)
    return None


def of_item(raw: object) -> str | None:
    """The valid ``correlation_id`` of a raw (maybe rejected) event, for its log line."""
    cid = raw.get(FIELD) if isinstance(raw, dict) else None
    return cid if is_valid(cid) else None
