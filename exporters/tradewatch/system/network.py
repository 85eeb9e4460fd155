"""Network bytes, packets, errors and drops per interface."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric

from tradewatch.system.filters import NameFilter

FIELDS = (
    ("tradewatch_host_network_receive_bytes", "Bytes received.", "bytes_recv"),
    ("tradewatch_host_network_transmit_bytes", "Bytes sent.", "bytes_sent"),
    ("tradewatch_host_network_receive_packets", "Packets received.", "packets_recv"),
    ("tradewatch_host_network_transmit_packets", "Packets sent.", "packets_sent"),
    ("tradewatch_host_network_receive_errors", "Receive errors.", "errin"),
    ("tradewatch_host_network_transmit_errors", "Transmit errors.", "errout"),
    ("tradewatch_host_network_receive_drop", "Inbound packets dropped.", "dropin"),
    ("tradewatch_host_network_transmit_drop", "Outbound packets dropped.", "dropout"),
)


class NetworkCollector:
    def __init__(self, source: Any, interfaces: NameFilter):
        self.source = source
        self.interfaces = interfaces

    def collect(self) -> Iterable[Metric]:
        families = [CounterMetricFamily(name, doc, labels=["interface"]) for name, doc, _ in FIELDS]
        for nic, counters in sorted(self.source.net_io_counters().items()):
            if not self.interfaces(nic):
                continue
            for family, (_, _, field) in zip(families, FIELDS, strict=True):
                family.add_metric([nic], float(getattr(counters, field)))
        return families
