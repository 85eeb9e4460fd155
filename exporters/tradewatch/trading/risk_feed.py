"""Signals, decisions, risk controls and the feed in the trading fold: signals and decision latency,
circuit breakers and the kill switch (in event time), risk scores, volatility breaches, position
limits, market data ticks and gaps, heartbeats.

A mixin of :class:`~tradewatch.trading.state.TradingState`, which owns the containers.
"""

from __future__ import annotations

from typing import Any

from tradewatch.trading.counting import CONFIDENCE_BUCKETS, DEFAULT, LATENCY_BUCKETS, hist, inc
from tradewatch.trading.eventtime import LATE, Timeline, advance_feed_clock


class RiskFeedFold:
    """Handlers of signal, decision, risk and feed events of ``TradingState``."""

    def _signal(self, e: dict[str, Any]) -> None:
        strategy = self.strategies(e.get("strategy", DEFAULT))
        inc(self.signals, (strategy, e["action"]))
        hist(self.signal_confidence, strategy, CONFIDENCE_BUCKETS, e["confidence"])

    def _decision(self, e: dict[str, Any]) -> None:
        provider = self.providers(e["provider"])
        if "latency_seconds" in e:
            hist(self.decision_latency, provider, LATENCY_BUCKETS, e["latency_seconds"], e)
        self.decisions.apply(e, provider, hist, CONFIDENCE_BUCKETS, LATENCY_BUCKETS)

    def _circuit_breaker(self, e: dict[str, Any]) -> None:
        service = self.services(e["service"])
        timeline = self.breakers.get(service)
        if timeline is None:
            timeline = self.breakers[service] = Timeline("closed")  # breakers start closed
        if timeline.is_late(e["ts"]):
            self._late_event(e)
        for state, _ in timeline.add(e["ts"], e["state"]) or ():
            inc(self.breaker_transitions, (service, state))
        self.breaker_state[service] = timeline.value
        self.health.breaker(service, e)

    def _kill_switch(self, e: dict[str, Any]) -> None:
        # In event time: a late activation that was released before it arrived is still counted.
        timeline = self.kill_switch
        if timeline.is_late(e["ts"]):
            self._late_event(e)
        for active, reason in timeline.add(e["ts"], e["active"], e.get("reason", "other")) or ():
            if active:
                inc(self.kill_switch_activations, reason)
        self.kill_switch_active = timeline.value

    def _risk_score(self, e: dict[str, Any]) -> None:
        label = self.risk_types(e["risk_type"])
        if self._newest(self.risk_ts, label, e["ts"]):
            self.risk_scores[label] = e["score"]
        else:
            self._late_event(e)

    def _volatility_breach(self, e: dict[str, Any]) -> None:
        label = self.symbols(e["symbol"])
        inc(self.volatility_breaches, label)
        self.limits.volatility_breach(label, e)

    def _position_limit(self, e: dict[str, Any]) -> None:
        label = self.symbols(e["symbol"])
        if self._newest(self.limit_ts, label, e["ts"]):
            self.position_limit_usage[label] = e["usage_ratio"]
        else:
            self._late_event(e)

    def _market_data(self, e: dict[str, Any]) -> None:
        symbol = e["symbol"]
        label = self.symbols(symbol)
        exchange_ts = e["exchange_ts"]
        self.ticks[label] = self.ticks.get(label, 0) + 1
        last = self.last_tick.get(label)
        if last is None:
            last = self.last_tick[label] = [None, 0.0]
        clock = self.feed_clock.get(symbol)
        if clock is not None and clock[1] is None and clock[0] <= exchange_ts <= clock[0] + self.config.gap_seconds:
            clock[0] = exchange_ts  # the common case, inline: in order, no jump held
            if last[0] is None or exchange_ts > last[0]:
                last[0] = exchange_ts
            last[1] = e.get("received_at", 0.0)
            return
        if clock is None and len(self.feed_clock) < self.config.max_tracked_symbols:
            clock = self.feed_clock[symbol] = [None, None]
        if clock is None:  # untracked symbol (past limits.max_tracked_symbols): no gap or outlier logic
            outcome, confirmed = "in_order", exchange_ts
        else:
            outcome, gap, outlier = advance_feed_clock(clock, exchange_ts, self.config.gap_seconds)
            if gap:
                inc(self.gaps, label)
            if outlier:
                inc(self.outliers, label)
            confirmed = clock[0]
        if confirmed is not None and (last[0] is None or confirmed > last[0]):
            last[0] = confirmed
        if outcome == LATE:
            self._late_event(e)
        else:  # a late tick is not fresh data
            last[1] = e.get("received_at", 0.0)

    def _heartbeat(self, e: dict[str, Any]) -> None:
        label = self.components(e["component"])
        seen = self.heartbeats.get(label)
        if seen is not None and len(seen) > 2 and e["ts"] < seen[2]:
            # Late (a second sender, a clock stepped back): it still proves the component is sending,
            # so it refreshes the receipt time the age is computed from, but not the newer status.
            self._late_event(e)
            seen[0] = max(seen[0], e.get("received_at", 0.0))
            return
        self.heartbeats[label] = [e.get("received_at", 0.0), e["status"], e["ts"]]
