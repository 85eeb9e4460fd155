"""Host-wide process states, allocated file handles and boot time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric


class ProcessesCollector:
    def __init__(self, source: Any):
        self.source = source

    def collect(self) -> Iterable[Metric]:
        states = GaugeMetricFamily("tradewatch_host_processes",
                                   "Processes by state (running, sleeping, zombie, ...).", labels=["state"])
        for state, count in sorted(self.source.process_states().items()):
            states.add_metric([state], float(count))
        return [
            GaugeMetricFamily("tradewatch_host_open_fds", "File handles allocated system-wide.",
                              value=float(self.source.open_fds())),
            states,
            GaugeMetricFamily("tradewatch_host_boot_time_seconds", "Unix time of boot.",
                              value=float(self.source.boot_time())),
        ]
