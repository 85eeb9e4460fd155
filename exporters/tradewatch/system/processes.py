"""Host-wide process states, allocated file handles and boot time.

Counting processes by state means reading /proc/<pid>/stat for every process (about 8 us of
kernel time each, so several milliseconds on a busy host), which node_exporter leaves out by
default for that reason. The count is refreshed by :meth:`ProcessesCollector.refresh` on its own
thread every ``processes.scan_interval`` instead, and scrapes read the last counts; file handles
and boot time are single cheap reads done at scrape time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric


class ProcessesCollector:
    def __init__(self, source: Any):
        self.source = source
        self._states: dict[str, int] | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Recount processes by state (called by a Periodic task, and by the first scrape)."""
        states = self.source.process_states()
        with self._lock:
            self._states = states

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            states_now = self._states
        if states_now is None:
            self.refresh()
            states_now = self._states or {}
        states = GaugeMetricFamily(
            "tradewatch_host_processes", "Processes by state (running, sleeping, zombie, ...).", labels=["state"]
        )
        for state, count in sorted(states_now.items()):
            states.add_metric([state], float(count))
        return [
            GaugeMetricFamily(
                "tradewatch_host_open_fds", "File handles allocated system-wide.", value=float(self.source.open_fds())
            ),
            states,
            GaugeMetricFamily(
                "tradewatch_host_boot_time_seconds", "Unix time of boot.", value=float(self.source.boot_time())
            ),
        ]
