"""The trading system's own health: its errors, its external API calls, why a breaker tripped.

A fold like :class:`~tradewatch.trading.state.TradingState` (which owns one and hands it the
``error`` and ``api_call`` events): pure, bounded, snapshot-exact. Labels go through
:class:`~tradewatch.trading.counting.LabelCap` (``limits.max_label_values`` distinct values each,
the rest ``__overflow__``): component, error kind, API provider, endpoint group. An error's
``message`` is never folded: the exporter logs it (``tradewatch.trading.safetylog``).
"""

from __future__ import annotations

from typing import Any

from tradewatch.trading.breaker_reason import BreakerReasons
from tradewatch.trading.events import API_STATUS_CLASSES, CACHE_RESULTS, ERROR_SEVERITIES


class HealthFold:
    def __init__(self, cap: Any, max_values: int, components: Any):
        self._cap = cap
        self.components = components  # shared with heartbeats: one component, one label value
        self.kinds = cap(max_values)
        self.api_providers = cap(max_values)
        self.endpoints = cap(max_values)
        self.errors: dict[tuple[str, str, str], int] = {}  # (component, severity, kind)
        self.api_calls: dict[tuple[str, str, str], int] = {}  # (provider, endpoint, status class)
        self.api_latency: dict[tuple[str, str], Any] = {}
        self.cache: dict[tuple[str, str, str], int] = {}  # (provider, endpoint, hit | miss)
        self.breaker_reason: dict[str, list[Any]] = {}  # service label -> [ts, reason label]
        self.breaker_reasons = BreakerReasons()  # free text -> bounded label (breaker_reason.py)

    def error(self, e: dict[str, Any]) -> None:
        key = (self.components(e["component"]), e["severity"], self.kinds(e["kind"]))
        self.errors[key] = self.errors.get(key, 0) + 1

    def api_call(self, e: dict[str, Any], hist: Any, bounds: tuple[float, ...]) -> None:
        pair = (self.api_providers(e["provider"]), self.endpoints(e["endpoint"]))
        key = (*pair, e["status_class"])
        self.api_calls[key] = self.api_calls.get(key, 0) + 1
        hist(self.api_latency, pair, bounds, e["latency_seconds"], e)  # e: a correlated call is an exemplar
        cache = e.get("cache")
        if cache is not None:
            for result in CACHE_RESULTS:  # both outcomes from 0 once the pair uses a cache
                self.cache.setdefault((*pair, result), 0)
            self.cache[(*pair, cache)] += 1

    def breaker(self, service: str, e: dict[str, Any]) -> None:
        seen = self.breaker_reason.get(service)
        if seen is not None and e["ts"] < seen[0]:
            return  # late: the newer event's reason stands
        self.breaker_reason[service] = [e["ts"], self.breaker_reasons.label(service, e.get("reason"))]

    # ------------------------------------------------------------------ snapshot
    _CAPS = ("kinds", "api_providers", "endpoints")
    _TUPLE_KEYED = ("errors", "api_calls", "cache")

    def to_snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: list(getattr(self, name).known) for name in self._CAPS}
        for name in self._TUPLE_KEYED:
            out[name] = [[*k, v] for k, v in getattr(self, name).items()]
        out["api_latency"] = [[*k, h.counts, h.sum] for k, h in self.api_latency.items()]
        out["breaker_reason"] = self.breaker_reason
        out["breaker_reasons"] = self.breaker_reasons.known
        return out

    def load(self, data: dict[str, Any] | None, hist_type: Any, bounds: tuple[float, ...]) -> None:
        if not data:
            return  # a snapshot from before this fold existed
        for name in self._CAPS:
            setattr(self, name, self._cap(getattr(self, name).limit, data[name]))
        for name in self._TUPLE_KEYED:
            setattr(self, name, {tuple(row[:-1]): row[-1] for row in data[name]})
        self.api_latency = {(p, ep): hist_type(bounds, c, s) for p, ep, c, s in data["api_latency"]}
        self.breaker_reason = data["breaker_reason"]
        self.breaker_reasons = BreakerReasons(data.get("breaker_reasons"))
        if "breaker_reasons" not in data:  # a snapshot from before the bound: raw reasons
            for service, seen in self.breaker_reason.items():
                seen[1] = self.breaker_reasons.label(service, seen[1])


def families(s: Any) -> list[Any]:
    """The metric families of the fold (docs/metrics.md, "The trading system's own health")."""
    from tradewatch.trading.collector import P, _counter, _cross, _gauge, _histogram

    h: HealthFold = s.health
    return [
        _counter(
            P + "errors",
            "Errors the trading system reported, by component, severity and kind.",
            ["component", "severity", "kind"],
            h.errors,
            [(c, sev, k) for c, k in sorted({(k[0], k[2]) for k in h.errors}) for sev in ERROR_SEVERITIES],
        ),
        _counter(
            P + "api_calls",
            "External API calls of the trading system by provider, endpoint group and status class.",
            ["provider", "endpoint", "status_class"],
            h.api_calls,
            _cross(h.api_latency, API_STATUS_CLASSES),
        ),
        _histogram(
            P + "api_call_latency_seconds",
            "Latency of external API calls (as the trading system measured it).",
            ["provider", "endpoint"],
            h.api_latency,
        ),
        _counter(
            P + "api_cache_lookups",
            "Cache lookups in front of external API calls, by result (hit, miss).",
            ["provider", "endpoint", "result"],
            h.cache,
        ),
        _gauge(
            P + "circuit_breaker_info",
            "1 per breaker, with the kind of reason of its latest event (numbers and IDs as #, cut to 80 "
            "characters, at most 10 per breaker then __overflow__; empty: none given).",
            ["service", "reason"],
            (((svc, v[1]), 1.0) for svc, v in sorted(h.breaker_reason.items())),
        ),
    ]
