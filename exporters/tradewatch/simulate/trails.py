"""Correlation IDs on the simulator's events, so trails and exemplars exist out of the box.

An order's correlation ID is its ``order_id``: the submission, ack, fills, cancel or rejection, and
the ``trade_closed`` its fill closes carry it, and so do the simulator's own log lines about the
order (``tradewatch.core.logging.correlation(order_id)`` in the engine). The strategy's decision
chain in one step (``prediction``, ``signal``, ``decision``, then the ``order_submitted`` they lead
to, or a risk exit's ``signal`` and its order) shares the order's ID; a chain that ends without an
order keeps the prediction's ID, and an LLM call with the decision it informs shares ``ai-`` plus
the call's event ID. What happens later to a decision or a prediction keeps its ID: the decision's
later stages (approved, rejected, executed, failed, joined on ``decision_id``) and the prediction's
``outcome`` (joined on ``prediction_id``), so ``tradewatch trail`` shows a decision's stages with
the order it created, and a model trail runs from the prediction to its outcome. Events outside
a story (ticks, snapshots, heartbeats) carry none.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from tradewatch.core.correlation import ORDER_EVENTS
from tradewatch.trading.decisions import TERMINAL

_ORDER_EVENTS = frozenset(ORDER_EVENTS)
_CHAIN = ("signal", "decision")
_STARTS = ("prediction", "ai_call", *_CHAIN)
# Decisions and predictions whose later events are still to come; the simulator's come within
# seconds (outcomes after 5 model intervals), so a few thousand is plenty and memory stays bounded.
MAX_REMEMBERED = 4096


class Tagger:
    """Tags each step's events; remembers decisions' and predictions' IDs for their later events."""

    def __init__(self) -> None:
        self._decisions: OrderedDict[str, str] = OrderedDict()
        self._predictions: OrderedDict[str, str] = OrderedDict()

    def tag(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add ``correlation_id`` to the events of one simulator step (in place); returns ``events``."""
        i, n = 0, len(events)
        while i < n:
            e = events[i]
            etype = e["type"]
            later = self._later(e, etype)
            if later is not None:
                e["correlation_id"] = later
            elif etype in _STARTS:
                i = self._chain(events, i)
                continue
            elif etype in _ORDER_EVENTS:
                e["correlation_id"] = e["order_id"]
            elif etype == "trade_closed" and i and events[i - 1]["type"] in ("order_filled", "order_partially_filled"):
                e["correlation_id"] = events[i - 1]["order_id"]
            i += 1
        return events

    def _later(self, e: dict[str, Any], etype: str) -> str | None:
        """The remembered ID of a decision's later stage or a prediction's outcome."""
        if etype == "outcome":
            return self._predictions.pop(e["prediction_id"], None)
        stage = e.get("stage", "made") if etype == "decision" else None
        if stage is not None and stage != "made" and "decision_id" in e:
            known = self._decisions.pop if stage in TERMINAL else self._decisions.get
            return known(e["decision_id"], None)
        return None

    def _chain(self, events: list[dict[str, Any]], i: int) -> int:
        """Tag the chain starting at ``i``; returns the index after it."""
        e, n = events[i], len(events)
        etype = e["type"]
        j = i + 1
        while j < n and events[j]["type"] in _CHAIN and events[j].get("stage", "made") == "made":
            j += 1
        if j < n and events[j]["type"] == "order_submitted" and events[j - 1]["type"] in _CHAIN:
            cid, j = events[j]["order_id"], j + 1
        elif etype == "prediction":
            cid = e["prediction_id"]
        else:
            cid = ("ai-" if etype == "ai_call" else "dec-") + e["event_id"][:16]
        for k in range(i, j):
            event = events[k]
            event["correlation_id"] = cid
            if event["type"] == "prediction":
                _remember(self._predictions, event["prediction_id"], cid)
            elif "decision_id" in event:
                _remember(self._decisions, event["decision_id"], cid)
        return j


def _remember(d: OrderedDict[str, str], key: str, cid: str) -> None:
    d[key] = cid
    if len(d) > MAX_REMEMBERED:
        d.popitem(last=False)
