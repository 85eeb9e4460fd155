"""Physical memory and swap."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric


class MemoryCollector:
    def __init__(self, source: Any):
        self.source = source

    def collect(self) -> Iterable[Metric]:
        mem = self.source.virtual_memory()
        swap = self.source.swap_memory()

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, value=float(value))

        return [
            gauge("tradewatch_host_memory_total_bytes", "Physical memory.", mem.total),
            gauge("tradewatch_host_memory_available_bytes", "Memory available without swapping.", mem.available),
            gauge("tradewatch_host_memory_used_bytes", "Memory in use (psutil used).", mem.used),
            gauge("tradewatch_host_swap_total_bytes", "Swap size.", swap.total),
            gauge("tradewatch_host_swap_used_bytes", "Swap in use.", swap.used),
        ]
