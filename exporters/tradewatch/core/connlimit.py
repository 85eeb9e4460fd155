"""A bound on the HTTP server's connections, and a way in for Prometheus past it.

The server serves each connection on its own thread (scrapes and ingest batches are few and
large). Without a bound, a client opening thousands of idle or trickling (slowloris) connections
grows threads and memory for as long as it likes. :class:`ConnectionLimits` caps the connections
served at once at ``http.max_connections``; an idle keep-alive connection holds its place for up
to 30 s, a trickling one up to ``http.request_timeout``.

A connection over the cap is not given a thread. :class:`Triage` holds it on one thread with a
selector, at most ``http.max_connections`` of them (the oldest waiting one is closed to make
room: ``evicted``), and peeks at its first bytes without reading them:

* ``GET`` or ``HEAD`` of ``/metrics``, ``/readyz`` or ``/healthz``: served on one of
  :data:`RESERVED_CONNECTIONS` places kept for them, one request, then closed. Prometheus and the
  orchestrator's probes send their request at once, so they are still answered while a flood of
  connections that send nothing (or anything else) holds every ordinary place.
* anything else, or no reserved place left: ``503`` with ``Retry-After`` (``busy``). Overload is
  not bad input: the answer says "try again shortly" (RFC 9110 15.6.4), which the Python client
  and load balancers honour (a plain close would look like a crash and give no hint when to retry).
* nothing within :data:`TRIAGE_SECONDS`: closed without an answer (``silent``); there is no
  request to answer.

Each refusal costs a few hundred bytes sent from the triage thread and no thread of its own.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tradewatch.core.logging import get_logger, json_bytes

log = get_logger("tradewatch.http")

DEFAULT_MAX_CONNECTIONS = 256
RESERVED_CONNECTIONS = 8  # on top of http.max_connections, for the probe paths only
TRIAGE_SECONDS = 2.0  # an over-limit connection must show its request line within this time
RESERVED_TIMEOUT = 5.0  # a reserved connection's whole request (and each send) within this time
RETRY_AFTER_SECONDS = 1
PARTIAL_POLL = 0.1
LOG_EVERY_SECONDS = 10.0
REASONS = ("busy", "silent", "evicted")
PROBE_PATHS = (b"/metrics", b"/readyz", b"/healthz")
_PROBE_LINES = tuple(m + b" " + p for m in (b"GET", b"HEAD") for p in PROBE_PATHS)

_BUSY_BODY = json_bytes(
    {"error": "too many connections; retry shortly", "reason": "overloaded", "retry": True, "status": 503}
)
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nRetry-After: %d\r\nConnection: close\r\n\r\n"
    % (len(_BUSY_BODY), RETRY_AFTER_SECONDS)
    + _BUSY_BODY
)


def classify(head: bytes) -> str:
    """``probe`` (a GET/HEAD of a probe path), ``more`` (too few bytes to tell) or ``other``."""
    for line in _PROBE_LINES:
        if head.startswith(line):
            if len(head) == len(line):
                return "more"
            return "probe" if head[len(line)] in b" ?" else "other"
        if line.startswith(head):
            return "more"
    return "other"


class ConnectionLimits:
    """Places for connections: ``general`` (http.max_connections) and ``reserved`` (probes)."""

    def __init__(self, max_connections: int = DEFAULT_MAX_CONNECTIONS, reserved: int = RESERVED_CONNECTIONS):
        self.max = {"general": max_connections, "reserved": reserved}
        self.open = {"general": 0, "reserved": 0}
        self.refused = dict.fromkeys(REASONS, 0)
        self._lock = threading.Lock()
        self._logged = -LOG_EVERY_SECONDS  # a flood is one warning per LOG_EVERY_SECONDS, not a line each

    def acquire(self, pool: str) -> bool:
        with self._lock:
            if self.open[pool] >= self.max[pool]:
                return False
            self.open[pool] += 1
            return True

    def release(self, pool: str) -> None:
        with self._lock:
            self.open[pool] -= 1

    def refuse(self, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.refused[reason] += 1
            if now - self._logged < LOG_EVERY_SECONDS:
                return
            self._logged = now
            refused, open_ = dict(self.refused), dict(self.open)
        log.warning(
            "connections refused past http.max_connections",
            reason=reason,
            refused_total=refused,
            open=open_,
            max_connections=self.max["general"],
        )

    def describe(self) -> Iterable[Metric]:
        return []  # collect-time families; nothing to collect at registration

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            open_, refused = dict(self.open), dict(self.refused)
        limit = GaugeMetricFamily(
            "tradewatch_http_max_connections", "Connections served at once before refusing (http.max_connections)."
        )
        limit.add_metric([], self.max["general"])
        return [
            _labelled(
                GaugeMetricFamily,
                "tradewatch_http_open_connections",
                "Connections the HTTP server is serving now: general (up to http.max_connections) or "
                "reserved (probe paths past the limit).",
                "pool",
                open_,
            ),
            limit,
            _labelled(
                CounterMetricFamily,
                "tradewatch_http_connections_refused",
                "Connections over http.max_connections refused: busy (503 + Retry-After), silent (no "
                "request within 2 s), evicted (closed to make room for newer ones).",
                "reason",
                refused,
            ),
        ]


def _labelled(kind: Any, name: str, documentation: str, label: str, values: dict[str, int]) -> Metric:
    family = kind(name, documentation, labels=[label])
    for value, n in values.items():
        family.add_metric([value], n)
    return family


def refuse_busy(sock: socket.socket) -> None:
    """Answer 503 without blocking: take what the client sent (so closing sends FIN, not a reset
    that could destroy the answer in flight), write the canned response, close."""
    try:
        sock.setblocking(False)
        for _ in range(4):
            if not sock.recv(65536):
                break
    except OSError:
        pass
    try:
        sock.send(BUSY_RESPONSE)
    except OSError:
        pass
    _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Triage:
    """Holds over-limit connections on one thread until their first bytes say what they want."""

    def __init__(
        self,
        limits: ConnectionLimits,
        serve_reserved: Callable[[socket.socket, Any], None],
        capacity: int,
        window: float = TRIAGE_SECONDS,
    ):
        self.limits = limits
        self.serve_reserved = serve_reserved  # starts a thread for the connection (holds a reserved place)
        self.capacity = max(1, capacity)
        self.window = window
        self._selector = selectors.DefaultSelector()
        self._pending: OrderedDict[socket.socket, tuple[Any, float]] = OrderedDict()
        # Sent a few bytes that could still become a probe's request line: peeked again every
        # PARTIAL_POLL s, not selected (their unread bytes keep them readable for ever).
        self._partial: set[socket.socket] = set()
        self._inbox: list[tuple[socket.socket, Any]] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="http-triage", daemon=True)
        self._thread.start()

    def add(self, sock: socket.socket, address: Any) -> None:
        """Called by the accepting thread: never blocks."""
        if self._stopped or not self._thread.is_alive():  # no triage (stopping, or it failed): refuse
            self.limits.refuse("busy")
            refuse_busy(sock)
            return
        with self._lock:
            self._inbox.append((sock, address))
        try:
            self._wake_w.send(b"x")
        except OSError:  # the wake-up pipe is full: the triage thread is awake already
            pass

    def stop(self) -> None:
        self._stopped = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(2.0)

    def _loop(self) -> None:
        try:
            while not self._stopped:
                now = time.monotonic()
                first = next(iter(self._pending.values()), None)
                timeout = max(0.0, first[1] - now) if first else 1.0
                if self._partial:
                    timeout = min(timeout, PARTIAL_POLL)
                for key, _ in self._selector.select(timeout):
                    if key.fileobj is self._wake_r:
                        self._take_inbox()
                    elif key.fileobj in self._pending:
                        self._decide(key.fileobj)  # type: ignore[arg-type]
                for sock in list(self._partial):
                    self._decide(sock)
                self._expire(time.monotonic())
        except Exception as exc:  # never leave the server without its triage silently
            log.error("connection triage failed", error=str(exc), exc_info=True)
        finally:
            for sock in list(self._pending):
                self._drop(sock)
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _take_inbox(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            inbox, self._inbox = self._inbox, []
        deadline = time.monotonic() + self.window
        for sock, address in inbox:
            while len(self._pending) >= self.capacity:  # the oldest waiting one makes room
                self._drop(next(iter(self._pending)))
                self.limits.refuse("evicted")
            self._pending[sock] = (address, deadline)
            self._selector.register(sock, selectors.EVENT_READ)

    def _decide(self, sock: socket.socket) -> None:
        try:
            head = sock.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            head = b""
        if not head:  # the client hung up (or errored) before asking anything
            self._drop(sock)
            return
        kind = classify(head)
        if kind == "more":
            if sock not in self._partial:
                self._selector.unregister(sock)
                self._partial.add(sock)
            return
        address, _ = self._forget(sock)
        if kind == "probe" and self.limits.acquire("reserved"):
            sock.setblocking(True)
            self.serve_reserved(sock, address)
            return
        self.limits.refuse("busy")
        refuse_busy(sock)

    def _expire(self, now: float) -> None:
        while self._pending:
            sock, (_, deadline) = next(iter(self._pending.items()))
            if deadline > now:
                return
            self._drop(sock)
            self.limits.refuse("silent")

    def _forget(self, sock: socket.socket) -> tuple[Any, float]:
        entry = self._pending.pop(sock)
        if sock in self._partial:
            self._partial.discard(sock)
        else:
            self._selector.unregister(sock)
        return entry

    def _drop(self, sock: socket.socket) -> None:
        self._forget(sock)
        _close(sock)
