"""``tradewatch system-exporter``."""

from __future__ import annotations

import argparse

from tradewatch.cli import exporter_command


def register(sub: argparse._SubParsersAction) -> None:
    from tradewatch.system import settings

    exporter_command(
        sub,
        settings.NAME,
        "host, watched-process and dependency-probe metrics (port 9811)",
        "Expose host metrics (CPU, memory, filesystems, disk and network I/O, processes), the\n"
        "trading system's watched processes and TCP/HTTP dependency probes for Prometheus.",
        settings.settings,
        settings.build,
    )
