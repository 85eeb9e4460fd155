"""Collector health and readiness, reported as metrics in node_exporter's manner.

:class:`CollectorGroup` runs each named collector inside its own guard: a collector that raises
shows ``tradewatch_scrape_collector_success{collector="x"} 0``, is logged and counted in
``tradewatch_errors_total{kind="collector"}``, and the rest of the scrape goes on. collect()
never raises.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tradewatch import __version__
from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.health")


class MetricSource(Protocol):
    def collect(self) -> Iterable[Metric]: ...


class SelfMetrics:
    """Metrics every exporter exposes about itself."""

    def __init__(self, registry: CollectorRegistry, exporter: str):
        self.errors = Counter(
            "tradewatch_errors",
            "Errors inside the exporter by kind (collector, probe, http_handler, ingest, journal, ...).",
            ["kind"],
            registry=registry,
        )
        info = GaugeMetricFamily(
            "tradewatch_build_info",
            "Build information; the value is always 1.",
            labels=["version", "python_version", "exporter"],
        )
        info.add_metric([__version__, platform.python_version(), exporter], 1.0)
        start = GaugeMetricFamily("tradewatch_exporter_start_time_seconds", "Unix time the exporter process started.")
        start.add_metric([], time.time())
        registry.register(_Static([info, start]))


class _Static(Collector):
    def __init__(self, families: list[Metric]):
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


class CollectorGroup(Collector):
    """Runs named collectors with per-collector success and duration metrics."""

    def __init__(self, collectors: dict[str, MetricSource], errors: Counter | None = None):
        self._collectors = dict(collectors)
        self._errors = errors
        self._lock = threading.Lock()

    def add(self, name: str, collector: MetricSource) -> None:
        with self._lock:
            self._collectors[name] = collector

    def describe(self) -> Iterable[Metric]:
        # Collect-time families: no fixed description, so the registry does not call collect()
        # at registration.
        return []

    def collect(self) -> Iterable[Metric]:
        success = GaugeMetricFamily(
            "tradewatch_scrape_collector_success",
            "Whether a collector succeeded during this scrape (1) or failed (0).",
            labels=["collector"],
        )
        duration = GaugeMetricFamily(
            "tradewatch_scrape_collector_duration_seconds",
            "How long a collector took during this scrape.",
            labels=["collector"],
            unit="",
        )
        out: list[Metric] = []
        with self._lock:
            collectors = list(self._collectors.items())
        for name, collector in collectors:
            start = time.perf_counter()
            ok = 1.0
            try:
                families = list(collector.collect())
            except Exception as exc:  # a collector must never fail the scrape
                families = []
                ok = 0.0
                if self._errors is not None:
                    self._errors.labels("collector").inc()
                log.error("collector failed", collector=name, error=str(exc), exc_info=True)
            success.add_metric([name], ok)
            duration.add_metric([name], time.perf_counter() - start)
            out.extend(families)
        out.append(success)
        out.append(duration)
        return out


class Readiness:
    """Named readiness checks; /readyz is 503 while any required one fails."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[bool, str]] = {}
        self._checks: dict[str, Callable[[], tuple[bool, str]]] = {}
        self._lock = threading.Lock()

    def set(self, source: str, ok: bool, reason: str = "") -> None:
        with self._lock:
            self._state[source] = (ok, reason)

    def add_check(self, source: str, check: Callable[[], tuple[bool, str]]) -> None:
        """A function evaluated on every /readyz request."""
        with self._lock:
            self._checks[source] = check

    def status(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            state = dict(self._state)
            checks = dict(self._checks)
        for name, check in checks.items():
            try:
                state[name] = check()
            except Exception as exc:
                state[name] = (False, f"check raised {exc.__class__.__name__}: {exc}")
        failing = {name: reason or "failing" for name, (ok, reason) in state.items() if not ok}
        return (not failing, failing)
