"""CPU time by mode, logical CPU count and load averages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# guest and guest_nice are left out: the kernel already counts them inside user and nice, so
# summing every mode would count guest time twice.
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


class CpuCollector:
    def __init__(self, source: Any):
        self.source = source

    def collect(self) -> Iterable[Metric]:
        times = self.source.cpu_times()
        seconds = CounterMetricFamily(
            "tradewatch_host_cpu_seconds", "CPU time by mode, summed over CPUs.", labels=["mode"], unit="seconds"
        )
        for mode in MODES:
            value = getattr(times, mode, None)
            if value is not None:
                seconds.add_metric([mode], float(value))
        count = GaugeMetricFamily("tradewatch_host_cpus", "Logical CPUs.", value=float(self.source.cpu_count() or 0))
        load1, load5, load15 = self.source.getloadavg()
        return [
            seconds,
            count,
            GaugeMetricFamily("tradewatch_host_load1", "1-minute load average.", value=load1),
            GaugeMetricFamily("tradewatch_host_load5", "5-minute load average.", value=load5),
            GaugeMetricFamily("tradewatch_host_load15", "15-minute load average.", value=load15),
        ]
