"""Client helpers for the trading system's own health: errors, external API calls, decisions.

Mixed into :class:`~tradewatch.client.events.EventHelpers`, so the HTTP client and the journal
writer both have them (docs/client.md, "Errors, API calls and decisions"):

    tw.error("database", "connection_lost", severity="critical", message=str(exc))

    with tw.api_timer("broker", "orders") as call:     # times the call, records status or exception
        resp = session.post(url, json=order)
        call.status(resp.status_code)                   # 201 -> "2xx"; without it: 2xx on success

    @tw.api_timer("broker", "positions")                # a decorator: a returned object with an
    def positions(): ...                                # int status_code gives the status class

    did = tw.decision_made("llm-gpt", latency_seconds=1.8, confidence=0.7)
    tw.decision_approved("llm-gpt", did); tw.decision_executed("llm-gpt", did)

A timed call never swallows the caller's exception: it is recorded (``timeout`` for timeouts,
``error`` for any other) and re-raised.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewatch.client.trail import Trails


def status_class_of(status: int | str) -> str:
    """An HTTP status (201, "503") -> its class ("2xx", "5xx"); class names pass through."""
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return f"{status // 100}xx"
    text = str(status).strip()
    if text.isdigit() and len(text) == 3 and text[0] in "12345":
        return f"{text[0]}xx"
    return text


def _exception_class(exc: BaseException) -> str:
    # requests.Timeout, httpx.TimeoutException, asyncio/socket TimeoutError: all "timeout".
    if isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower():
        return "timeout"
    return "error"


class ApiCall:
    """One timed external call; a context manager, or a decorator (a fresh timing per call)."""

    def __init__(self, owner: Any, provider: str, endpoint: str, cache: str | None, envelope: dict[str, Any]):
        self._owner = owner
        self.provider = provider
        self.endpoint = endpoint
        self._cache = cache
        self._envelope = envelope
        self._status: str | None = None
        self._start = 0.0

    def status(self, status: int | str) -> None:
        """The call's HTTP status (or class: 2xx, 4xx, 5xx, timeout, error)."""
        self._status = status_class_of(status)

    def cache(self, result: str) -> None:
        """``hit`` (answered from a cache, the provider not called) or ``miss``."""
        self._cache = result

    def __enter__(self) -> ApiCall:
        self._status = None
        self._start = time.monotonic()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        latency = max(0.0, time.monotonic() - self._start)
        status = _exception_class(exc) if exc is not None else (self._status or "2xx")
        self._owner.api_call(self.provider, self.endpoint, status, latency, cache=self._cache, **self._envelope)
        return False  # the caller's exception propagates

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            call = ApiCall(self._owner, self.provider, self.endpoint, self._cache, dict(self._envelope))
            with call:
                result = func(*args, **kwargs)
                code = getattr(result, "status_code", None)
                if isinstance(code, int):
                    call.status(code)
                return result

        return timed


class HealthHelpers:
    """error, api_call, api_timer and the decision lifecycle (needs ``_send`` of EventHelpers)."""

    _send: Callable[..., str]
    trails: Trails

    def error(
        self, component: str, kind: str, severity: str = "error", message: str | None = None, **envelope: Any
    ) -> str:
        """An error of the trading system: counted by component, severity, kind; the message is logged only."""
        fields = {"component": component, "severity": severity, "kind": kind, "message": message}
        return self._send("error", fields, envelope)

    def api_call(
        self,
        provider: str,
        endpoint: str,
        status_class: int | str,
        latency_seconds: float,
        cache: str | None = None,
        **envelope: Any,
    ) -> str:
        """One external call; ``endpoint`` is a group (orders, quotes), never a URL with IDs in it."""
        fields = {
            "provider": provider,
            "endpoint": endpoint,
            "status_class": status_class_of(status_class),
            "latency_seconds": latency_seconds,
            "cache": cache,
        }
        return self._send("api_call", fields, envelope)

    def api_timer(self, provider: str, endpoint: str, cache: str | None = None, **envelope: Any) -> ApiCall:
        """Times a call: ``with tw.api_timer(...) as call:`` or ``@tw.api_timer(...)``."""
        return ApiCall(self, provider, endpoint, cache, envelope)

    def decision_made(
        self,
        provider: str,
        decision_id: str | None = None,
        latency_seconds: float | None = None,
        confidence: float | None = None,
        **envelope: Any,
    ) -> str:
        """A decision made; returns its ``decision_id`` for the later stages. Without one given, the
        first decision of a trail takes the trail's ID, any other a new one (client/trail.py)."""
        did = decision_id or self.trails.decision_id(envelope.get("correlation_id"))
        fields = {
            "provider": provider,
            "stage": "made",
            "decision_id": did,
            "latency_seconds": latency_seconds,
            "confidence": confidence,
        }
        self._send("decision", fields, envelope)
        return did

    def decision_stage(self, provider: str, decision_id: str, stage: str, **envelope: Any) -> str:
        """A later stage: approved, rejected, executed, failed or expired."""
        return self._send("decision", {"provider": provider, "stage": stage, "decision_id": decision_id}, envelope)

    def decision_approved(self, provider: str, decision_id: str, **envelope: Any) -> str:
        return self.decision_stage(provider, decision_id, "approved", **envelope)

    def decision_rejected(self, provider: str, decision_id: str, **envelope: Any) -> str:
        return self.decision_stage(provider, decision_id, "rejected", **envelope)

    def decision_executed(self, provider: str, decision_id: str, **envelope: Any) -> str:
        return self.decision_stage(provider, decision_id, "executed", **envelope)

    def decision_failed(self, provider: str, decision_id: str, **envelope: Any) -> str:
        return self.decision_stage(provider, decision_id, "failed", **envelope)
