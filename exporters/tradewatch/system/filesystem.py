"""Size, free and available bytes per mounted filesystem."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from tradewatch.core.logging import get_logger
from tradewatch.system.filters import NameFilter

log = get_logger("tradewatch.system.filesystem")

LABELS = ["mountpoint", "device", "fstype"]


class FilesystemCollector:
    """Pseudo filesystems are dropped by the configured fstype and mount point filters."""

    def __init__(self, source: Any, mountpoints: NameFilter, fstypes: NameFilter):
        self.source = source
        self.mountpoints = mountpoints
        self.fstypes = fstypes

    def collect(self) -> Iterable[Metric]:
        size = GaugeMetricFamily("tradewatch_host_filesystem_size_bytes", "Filesystem size.", labels=LABELS)
        free = GaugeMetricFamily(
            "tradewatch_host_filesystem_free_bytes", "Free bytes (including reserved).", labels=LABELS
        )
        avail = GaugeMetricFamily(
            "tradewatch_host_filesystem_avail_bytes", "Bytes available to non-root users.", labels=LABELS
        )
        # A mount point can appear several times (over-mounts); the last mount is the one in
        # effect, and duplicate series would make the whole exposition invalid.
        mounts: dict[str, Any] = {}
        for part in self.source.disk_partitions():
            if self.fstypes(part.fstype) and self.mountpoints(part.mountpoint):
                mounts[part.mountpoint] = part
            else:
                mounts.pop(part.mountpoint, None)
        for mountpoint, part in mounts.items():
            try:
                st = self.source.statvfs(mountpoint)
            except OSError as exc:
                # Unreadable mounts (permissions, vanished) are normal on busy hosts: skip them.
                log.debug("statvfs failed", mountpoint=mountpoint, error=str(exc))
                continue
            labels = [mountpoint, part.device, part.fstype]
            size.add_metric(labels, float(st.f_blocks * st.f_frsize))
            free.add_metric(labels, float(st.f_bfree * st.f_frsize))
            avail.add_metric(labels, float(st.f_bavail * st.f_frsize))
        return [size, free, avail]
