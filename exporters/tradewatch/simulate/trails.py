"""Correlation IDs on the simulator's events, so trails and exemplars exist out of the box.

An order's correlation ID is its ``order_id``: the submission, ack, fills, cancel or rejection, and
the ``trade_closed`` its fill closes carry it, and so do the simulator's own log lines about the
order (``tradewatch.core.logging.correlation(order_id)`` in the engine). The strategy's decision
chain in one step (``prediction``, ``signal``, ``decision``, then the ``order_submitted`` they lead
to, or a risk exit's ``signal`` and its order) shares the order's ID; a chain that ends without an
order keeps the prediction's ID, and an LLM call with the decision it informs shares ``ai-`` plus
the call's event ID. Events outside an order's
story (ticks, snapshots, heartbeats) carry none.
"""

from __future__ import annotations

from typing import Any

from tradewatch.core.correlation import ORDER_EVENTS

_ORDER_EVENTS = frozenset(ORDER_EVENTS)
_CHAIN = ("signal", "decision")
_STARTS = ("prediction", "ai_call", *_CHAIN)


def tag(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``correlation_id`` to the events of one simulator step (in place); returns ``events``."""
    i, n = 0, len(events)
    while i < n:
        e = events[i]
        etype = e["type"]
        if etype in _STARTS:
            j = i + 1
            while j < n and events[j]["type"] in _CHAIN:
                j += 1
            if j < n and events[j]["type"] == "order_submitted" and events[j - 1]["type"] in _CHAIN:
                cid, j = events[j]["order_id"], j + 1
            elif etype == "prediction":
                cid = e["prediction_id"]
            else:
                cid = ("ai-" if etype == "ai_call" else "dec-") + e["event_id"][:16]
            for k in range(i, j):
                events[k]["correlation_id"] = cid
            i = j
            continue
        if etype in _ORDER_EVENTS:
            e["correlation_id"] = e["order_id"]
        elif etype == "trade_closed" and i and events[i - 1]["type"] in ("order_filled", "order_partially_filled"):
            e["correlation_id"] = events[i - 1]["order_id"]
        i += 1
    return events
