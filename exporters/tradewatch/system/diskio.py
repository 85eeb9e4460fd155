"""Disk I/O per block device."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric

from tradewatch.system.filters import NameFilter

# (metric name without _total, help, psutil field, scale)
FIELDS = (
    ("tradewatch_host_disk_read_bytes", "Bytes read.", "read_bytes", 1.0),
    ("tradewatch_host_disk_written_bytes", "Bytes written.", "write_bytes", 1.0),
    ("tradewatch_host_disk_reads_completed", "Reads completed.", "read_count", 1.0),
    ("tradewatch_host_disk_writes_completed", "Writes completed.", "write_count", 1.0),
    ("tradewatch_host_disk_io_time_seconds", "Time spent doing I/O.", "busy_time", 0.001),
)


class DiskIOCollector:
    def __init__(self, source: Any, devices: NameFilter):
        self.source = source
        self.devices = devices

    def collect(self) -> Iterable[Metric]:
        families = [CounterMetricFamily(name, doc, labels=["device"]) for name, doc, _, _ in FIELDS]
        for device, counters in sorted(self.source.disk_io_counters().items()):
            if not self.devices(device):
                continue
            for family, (_, _, field, scale) in zip(families, FIELDS, strict=True):
                value = getattr(counters, field, None)
                if value is not None:
                    family.add_metric([device], float(value) * scale)
        return families
