"""Correlation trails in the client: one ID from a decision through its orders, acks, fills and trade.

An event gets a ``correlation_id`` (docs/events.md) from, in this order:

1. an explicit ``correlation_id=`` keyword on the helper;
2. the trail in effect: ``with client.trail(): ...`` or ``@client.trail()`` (a new ID per call, or
   the one given), which also binds the ID into the structlog context so the producer's own log
   lines carry it (``tradewatch.core.logging``);
3. what it belongs to: an ack, fill, cancel or reject of an ``order_id`` submitted with an ID
   gets that ID, a ``trade_closed`` the ID of the last order on its symbol, a ``decision`` stage
   the ID its ``decision_id`` was first sent with, an ``outcome`` the ID of its ``prediction_id``'s
   prediction (bounded maps, this emitter only);
4. the active logging context: a ``correlation_id`` bound with structlog's contextvars
   (``tradewatch.core.logging.correlation`` or ``structlog.contextvars.bind_contextvars``);
   a later stage of a decision (approved, executed, ...) skips this rule;
5. a decision's own ``decision_id`` (when it is a valid ID): a decision reported outside any trail
   is its own trail, and its later stages, reported by any process, find it by its ``decision_id``.

The first decision made in a trail takes the trail's ID as its ``decision_id`` unless one is given
(:meth:`Trails.decision_id`; a trail usually holds one decision), so rule 5 also joins the stages
another process reports to the trail's orders; further decisions in the same trail get fresh IDs
and their stages join through rule 3 (or an explicit ``correlation_id=``).

Sampling (``trail_sample_rate``, default 1: every decision) is decided per ID from a hash of the ID,
so every event and every process agrees on whether one ID has a trail; an unsampled trail sends its
events without an ID (rule 4 is off inside it too). IDs that are not 1-64 characters of
``A-Z a-z 0-9 . _ : -`` are dropped rather than sent to be refused.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from tradewatch.core.correlation import FIELD, ORDER_EVENTS, is_valid

F = TypeVar("F", bound=Callable[..., Any])
MAX_REMEMBERED = 10_000  # orders and symbols whose ID is remembered for their later events
_ORDER_FOLLOWUPS = frozenset(ORDER_EVENTS[1:])  # after the submission


@dataclass
class _Active:
    """The trail in effect: its ID, whether it is sampled, and a count of its decisions."""

    cid: str
    keep: bool
    decisions: Iterator[int] = field(default_factory=itertools.count)  # next() is atomic in CPython


_current: contextvars.ContextVar[_Active | None] = contextvars.ContextVar("tradewatch_trail", default=None)


def _logging_id() -> Any:
    return structlog.contextvars.get_contextvars().get(FIELD)


def sampled(cid: str, rate: float) -> bool:
    """Whether ``cid`` has a trail at sampling ``rate`` (0..1), the same answer everywhere."""
    if rate >= 1.0:
        return True
    return zlib.crc32(cid.encode()) / 2**32 < rate


def check_rate(rate: float) -> float:
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"trail_sample_rate must be a number from 0 to 1, got {rate!r}")
    return float(rate)


class _Trail:
    """``with`` block and decorator: each entry (each call, when decorating) is its own trail."""

    def __init__(self, trails: Trails, cid: str | None):
        self.trails = trails
        self.cid = cid
        self._stack: list[Any] = []

    def __enter__(self) -> str | None:
        cm = self.trails._scope(self.cid)
        self._stack.append(cm)
        return cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._stack.pop().__exit__(*exc)

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.trails._scope(self.cid):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class Trails:
    """The correlation state of one emitter (client or journal writer)."""

    def __init__(self, sample_rate: float = 1.0):
        self.sample_rate = check_rate(sample_rate)
        self._lock = threading.Lock()
        self._orders: OrderedDict[str, str] = OrderedDict()
        self._symbols: OrderedDict[str, str] = OrderedDict()
        # decision_id -> ID ("" when its trail was not sampled, so its stages stay unsampled too)
        self._decisions: OrderedDict[str, str] = OrderedDict()
        self._predictions: OrderedDict[str, str] = OrderedDict()

    def trail(self, correlation_id: str | None = None) -> _Trail:
        return _Trail(self, correlation_id)

    @contextmanager
    def _scope(self, cid: str | None) -> Iterator[str | None]:
        cid = cid if cid is not None else _logging_id()
        if not is_valid(cid):
            cid = uuid.uuid4().hex
        keep = sampled(cid, self.sample_rate)
        token = _current.set(_Active(cid, keep))
        bound = structlog.contextvars.bind_contextvars(**{FIELD: cid}) if keep else None
        try:
            yield cid if keep else None
        finally:
            if bound is not None:
                structlog.contextvars.reset_contextvars(**bound)
            _current.reset(token)

    def decision_id(self, correlation_id: str | None = None) -> str:
        """The ``decision_id`` of a decision made without one: the explicit ``correlation_id``, else
        the trail's ID for the trail's first decision, else a new one (module doc)."""
        if is_valid(correlation_id):
            return correlation_id  # type: ignore[return-value]
        active = _current.get()
        if active is not None and next(active.decisions) == 0:
            return active.cid
        return uuid.uuid4().hex

    def tag(self, event: dict[str, Any]) -> None:
        """Give ``event`` its correlation ID (rules in the module doc) and remember it for what follows."""
        etype = event["type"]
        cid = event.get(FIELD)
        if cid is None:
            active = _current.get()
            if active is not None:
                cid = active.cid if active.keep else ""
            else:
                cid = self._remembered(etype, event)
                if cid is None:
                    cid = self._ambient(etype, event)
        keep = bool(cid) and is_valid(cid) and sampled(cid, self.sample_rate)
        if keep:
            event[FIELD] = cid
        else:
            event.pop(FIELD, None)
        if etype == "decision" and "decision_id" in event:
            with self._lock:
                _remember(self._decisions, str(event["decision_id"]), cid if keep else "")
        elif not keep:
            return
        elif etype == "order_submitted":
            with self._lock:
                _remember(self._orders, str(event.get("order_id")), cid)
                _remember(self._symbols, str(event.get("symbol")), cid)
        elif etype == "prediction":
            with self._lock:
                _remember(self._predictions, str(event.get("prediction_id")), cid)

    def _remembered(self, etype: str, event: dict[str, Any]) -> str | None:
        with self._lock:
            if etype in _ORDER_FOLLOWUPS:
                return self._orders.get(str(event.get("order_id")))
            if etype == "trade_closed":
                return self._symbols.get(str(event.get("symbol")))
            if etype == "decision" and "decision_id" in event:
                return self._decisions.get(str(event["decision_id"]))
            if etype == "outcome":
                return self._predictions.get(str(event.get("prediction_id")))
        return None

    @staticmethod
    def _ambient(etype: str, event: dict[str, Any]) -> Any:
        """Rules 4 and 5: the logging context, and a decision's own ``decision_id``."""
        if etype == "decision" and "decision_id" in event:
            if event.get("stage", "made") == "made":
                return _logging_id() or event["decision_id"]
            return event["decision_id"]
        return _logging_id()

    def of_order(self, order_id: str) -> str | None:
        """The correlation ID an order was submitted with (to resume its trail in a callback)."""
        with self._lock:
            return self._orders.get(order_id)


def _remember(d: OrderedDict[str, str], key: str, cid: str) -> None:
    d[key] = cid
    d.move_to_end(key)
    if len(d) > MAX_REMEMBERED:
        d.popitem(last=False)
