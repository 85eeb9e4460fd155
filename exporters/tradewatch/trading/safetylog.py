"""Safety events in the log as structured events, not as words in a message.

The kill switch engaging is logged once, when it happens, as ``event="kill_switch_engaged"`` (and its
release as ``event="kill_switch_released"``), with the account, strategy, reason and event ID as
fields. Grafana's LogKillSwitch alert matches that field exactly, so a warning that merely mentions
the word (``unknown event type 'bogus'; known: ..., kill_switch, ...``) pages nobody. A trading system
that logs through ``tradewatch.client.logging_setup()`` can log the same event for its own halts.

An ``error`` event is logged as ``event="trading_system_error"`` at its severity, with component,
kind and the message (which no metric carries), also only while live. A ``circuit_breaker`` event is
logged as ``event="circuit_breaker_changed"`` (warning when open) with service, state and the full
reason: the metric carries only the reason's bounded kind (tradewatch.trading.breaker_reason).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradewatch.core.logging import get_logger
from tradewatch.trading.state import DEFAULT as DEFAULT_ACCOUNT

KILL_SWITCH_ENGAGED = "kill_switch_engaged"
KILL_SWITCH_RELEASED = "kill_switch_released"
TRADING_SYSTEM_ERROR = "trading_system_error"
CIRCUIT_BREAKER_CHANGED = "circuit_breaker_changed"

log = get_logger("tradewatch.trading.safety")


class SafetyEventLog:
    """Wraps the trading fold: applies every event, then logs a kill switch that changes state.

    Nothing is logged while ``live()`` is false (the journal replay at start-up), so a restart does
    not re-announce old halts. Everything else is the wrapped fold's (snapshots included)."""

    def __init__(self, fold: Any, live: Callable[[], bool] = lambda: False):
        self._fold = fold
        self.live = live
        self._engaged: dict[str, bool] = {}  # account -> engaged; as many entries as accounts

    def apply(self, event: dict[str, Any]) -> None:
        self._fold.apply(event)  # raises when the fold cannot apply it: then nothing is announced
        etype = event.get("type")
        if etype == "kill_switch":
            self._kill_switch(event)
        elif etype == "error" and self.live():
            self._error(event)
        elif etype == "circuit_breaker" and self.live():
            fields = {k: event.get(k) for k in ("service", "state", "reason", "event_id")}
            level = log.warning if event.get("state") == "open" else log.info
            level(CIRCUIT_BREAKER_CHANGED, **{k: v for k, v in fields.items() if v is not None})

    def _error(self, event: dict[str, Any]) -> None:
        # The message lives here only: free text is never a label (the counters hold the rest).
        fields = {k: event.get(k) for k in ("component", "severity", "kind", "message", "account", "strategy")}
        fields = {k: v for k, v in fields.items() if v is not None}
        level = {"critical": log.critical, "warning": log.warning}.get(event.get("severity"), log.error)
        level(TRADING_SYSTEM_ERROR, event_id=event.get("event_id"), **fields)

    def _kill_switch(self, event: dict[str, Any]) -> None:
        account = str(event.get("account") or DEFAULT_ACCOUNT)
        engaged = event.get("active") is True
        before = self._engaged.get(account)
        self._engaged[account] = engaged
        if before == engaged or (before is None and not engaged) or not self.live():
            return
        fields = {
            "account": account,
            "strategy": event.get("strategy"),
            "reason": event.get("reason"),
            "event_id": event.get("event_id"),
        }
        fields = {k: v for k, v in fields.items() if v is not None}
        if engaged:
            log.warning(KILL_SWITCH_ENGAGED, **fields)
        else:
            log.info(KILL_SWITCH_RELEASED, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fold, name)
