"""Correlation trails in the client: one ID from a decision through its orders, acks, fills and trade.

An event gets a ``correlation_id`` (docs/events.md) from, in this order:

1. an explicit ``correlation_id=`` keyword on the helper;
2. the trail in effect: ``with client.trail(): ...`` or ``@client.trail()`` (a new ID per call, or
   the one given), which also binds the ID into the structlog context so the producer's own log
   lines carry it (``tradewatch.core.logging``);
3. the order it belongs to: an ack, fill, cancel or reject of an ``order_id`` submitted with an ID
   gets that ID, and a ``trade_closed`` gets the ID of the last order on its symbol (bounded maps);
4. the active logging context: a ``correlation_id`` bound with structlog's contextvars
   (``tradewatch.core.logging.correlation`` or ``structlog.contextvars.bind_contextvars``).

Sampling (``trail_sample_rate``, default 1: every decision) is decided per ID from a hash of the ID,
so every event and every process agrees on whether one ID has a trail; an unsampled trail sends its
events without an ID (rule 4 is off inside it too). IDs that are not 1-64 characters of
``A-Z a-z 0-9 . _ : -`` are dropped rather than sent to be refused.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import structlog

from tradewatch.core.correlation import FIELD, ORDER_EVENTS, is_valid

F = TypeVar("F", bound=Callable[..., Any])
MAX_REMEMBERED = 10_000  # orders and symbols whose ID is remembered for their later events
_ORDER_FOLLOWUPS = frozenset(ORDER_EVENTS[1:])  # after the submission
# The trail in effect: an ID, "" inside an unsampled trail, None outside any trail.
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("tradewatch_trail", default=None)


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

    def trail(self, correlation_id: str | None = None) -> _Trail:
        return _Trail(self, correlation_id)

    @contextmanager
    def _scope(self, cid: str | None) -> Iterator[str | None]:
        cid = cid if cid is not None else structlog.contextvars.get_contextvars().get(FIELD)
        if not is_valid(cid):
            cid = uuid.uuid4().hex
        keep = sampled(cid, self.sample_rate)
        token = _current.set(cid if keep else "")
        bound = structlog.contextvars.bind_contextvars(**{FIELD: cid}) if keep else None
        try:
            yield cid if keep else None
        finally:
            if bound is not None:
                structlog.contextvars.reset_contextvars(**bound)
            _current.reset(token)

    def tag(self, event: dict[str, Any]) -> None:
        """Give ``event`` its correlation ID (rules in the module doc) and remember it for its order."""
        etype = event["type"]
        cid = event.get(FIELD)
        if cid is None:
            current = _current.get()
            if current is None:
                current = self._remembered(etype, event) or structlog.contextvars.get_contextvars().get(FIELD)
            cid = current
        if not cid or not is_valid(cid) or not sampled(cid, self.sample_rate):
            event.pop(FIELD, None)
            return
        event[FIELD] = cid
        if etype == "order_submitted":
            with self._lock:
                _remember(self._orders, str(event.get("order_id")), cid)
                _remember(self._symbols, str(event.get("symbol")), cid)

    def _remembered(self, etype: str, event: dict[str, Any]) -> str | None:
        with self._lock:
            if etype in _ORDER_FOLLOWUPS:
                return self._orders.get(str(event.get("order_id")))
            if etype == "trade_closed":
                return self._symbols.get(str(event.get("symbol")))
        return None

    def of_order(self, order_id: str) -> str | None:
        """The correlation ID an order was submitted with (to resume its trail in a callback)."""
        with self._lock:
            return self._orders.get(order_id)


def _remember(d: OrderedDict[str, str], key: str, cid: str) -> None:
    d[key] = cid
    d.move_to_end(key)
    if len(d) > MAX_REMEMBERED:
        d.popitem(last=False)
