"""Watched processes: the trading system's components, matched by name or command-line regex.

Matching needs every process's name and command line, which is the most expensive thing this
exporter reads. So the matched PIDs are cached and only re-checked cheaply at each scrape (one
Process object per matched PID); a full scan happens when a matched process has exited, when a
component has no process, or every ``rescan_interval`` to pick up new workers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.system.components")

# Bursts of scrapes while a component is down must not turn into bursts of full scans.
MIN_RESCAN_SECONDS = 1.0


@dataclass(frozen=True)
class Rule:
    component: str
    name: str | None = None
    cmdline: re.Pattern[str] | None = None

    def matches(self, name: str, cmdline: str) -> bool:
        if self.name is not None and name != self.name:
            return False
        return not (self.cmdline is not None and not self.cmdline.search(cmdline))

    @classmethod
    def of(cls, record: dict[str, Any]) -> Rule:
        return cls(record["component"], record.get("name") or None, record.get("cmdline"))


class ComponentsCollector:
    def __init__(
        self,
        source: Any,
        rules: Iterable[Rule],
        rescan_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.source = source
        self.rules = list(rules)
        self.components = list(dict.fromkeys(r.component for r in self.rules))
        self.rescan_interval = rescan_interval
        self.clock = clock
        self._matched: dict[str, dict[int, float]] = {c: {} for c in self.components}
        self._last_scan: float | None = None
        self.scans = 0  # full scans so far; tests check that scrapes do not rescan needlessly

    def _rescan(self) -> None:
        matched: dict[str, dict[int, float]] = {c: {} for c in self.components}
        for proc in self.source.scan_processes():
            for rule in self.rules:
                if rule.matches(proc.name, proc.cmdline):
                    matched[rule.component][proc.pid] = proc.create_time
        self._matched = matched
        self._last_scan = self.clock()
        self.scans += 1

    def _scan_allowed(self, now: float) -> bool:
        return self._last_scan is None or now - self._last_scan >= MIN_RESCAN_SECONDS

    def _stats(self) -> tuple[dict[str, list[Any]], bool]:
        stats: dict[str, list[Any]] = {}
        lost = False
        for component, pids in self._matched.items():
            alive = []
            for pid, create_time in pids.items():
                st = self.source.process_stats(pid, create_time)
                if st is None:
                    lost = True
                else:
                    alive.append(st)
            stats[component] = alive
        return stats, lost

    def collect(self) -> Iterable[Metric]:
        if not self.rules:
            return []
        now = self.clock()
        scanned = False
        if self._last_scan is None or now - self._last_scan >= self.rescan_interval:
            self._rescan()
            scanned = True
        stats, lost = self._stats()
        if not scanned and (lost or not all(stats.values())) and self._scan_allowed(now):
            self._rescan()
            stats, _ = self._stats()
        return self._families(stats)

    def _families(self, stats: dict[str, list[Any]]) -> list[Metric]:
        up = GaugeMetricFamily(
            "tradewatch_component_up", "1 when at least one process matches the component's rule.", labels=["component"]
        )
        count = GaugeMetricFamily(
            "tradewatch_component_processes", "Processes matching the component's rule.", labels=["component"]
        )
        cpu = CounterMetricFamily(
            "tradewatch_component_cpu_seconds",
            "CPU time of the matching processes (user, system).",
            labels=["component", "mode"],
            unit="seconds",
        )
        rss = GaugeMetricFamily(
            "tradewatch_component_resident_memory_bytes", "RSS of the matching processes.", labels=["component"]
        )
        threads = GaugeMetricFamily(
            "tradewatch_component_threads", "Threads of the matching processes.", labels=["component"]
        )
        fds = GaugeMetricFamily(
            "tradewatch_component_open_fds", "Open file descriptors of the matching processes.", labels=["component"]
        )
        start = GaugeMetricFamily(
            "tradewatch_component_start_time_seconds",
            "Start time of the oldest matching process.",
            labels=["component"],
        )
        for component in self.components:
            procs = stats.get(component, [])
            up.add_metric([component], 1.0 if procs else 0.0)
            count.add_metric([component], float(len(procs)))
            if not procs:
                continue
            cpu.add_metric([component, "user"], sum(p.cpu_user for p in procs))
            cpu.add_metric([component, "system"], sum(p.cpu_system for p in procs))
            rss.add_metric([component], float(sum(p.rss for p in procs)))
            threads.add_metric([component], float(sum(p.threads for p in procs)))
            readable = [p.fds for p in procs if p.fds is not None]
            if readable:
                fds.add_metric([component], float(sum(readable)))
            start.add_metric([component], min(p.create_time for p in procs))
        return [up, count, cpu, rss, threads, fds, start]
