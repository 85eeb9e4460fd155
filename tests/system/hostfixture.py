"""A source object with HostSource's methods, answering from tests/system/fixtures/host.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.conftest import require_binary

from tradewatch.system.source import Mount, ProcessEntry, ProcessStats

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_host() -> dict[str, Any]:
    return json.loads((FIXTURES / "host.json").read_text())


class FixtureSource:
    """psutil-shaped answers from a fixture; attributes may be edited by a test to change the host."""

    def __init__(self, data: dict[str, Any] | None = None):
        self.data = copy.deepcopy(data or load_host())
        self.scans = 0
        self.fail: set[str] = set()  # method names that raise OSError, to test failure paths

    def _check(self, name: str) -> None:
        if name in self.fail:
            raise OSError(f"fixture: {name} unavailable")

    def cpu_times(self) -> Any:
        self._check("cpu_times")
        return SimpleNamespace(**self.data["cpu_times"])

    def cpu_count(self) -> int:
        return self.data["cpu_count"]

    def getloadavg(self) -> tuple[float, float, float]:
        return tuple(self.data["loadavg"])

    def virtual_memory(self) -> Any:
        return SimpleNamespace(**self.data["virtual_memory"])

    def swap_memory(self) -> Any:
        return SimpleNamespace(**self.data["swap_memory"])

    def disk_partitions(self) -> list[Mount]:
        self._check("disk_partitions")
        return [Mount(**m) for m in self.data["mounts"]]

    def statvfs(self, mountpoint: str) -> Any:
        st = self.data["statvfs"].get(mountpoint)
        if st is None:
            raise PermissionError(13, "Permission denied", mountpoint)
        return SimpleNamespace(**st)

    def disk_io_counters(self) -> dict[str, Any]:
        return {k: SimpleNamespace(**v) for k, v in self.data["disk_io"].items()}

    def net_io_counters(self) -> dict[str, Any]:
        self._check("net_io_counters")
        return {k: SimpleNamespace(**v) for k, v in self.data["net_io"].items()}

    def boot_time(self) -> float:
        return self.data["boot_time"]

    def open_fds(self) -> int:
        return self.data["open_fds"]

    def process_states(self) -> dict[str, int]:
        self._check("process_states")
        return dict(self.data["process_states"])

    def scan_processes(self):
        self.scans += 1
        for p in self.data["processes"]:
            yield ProcessEntry(p["pid"], p["name"], p["cmdline"], p["create_time"])

    def process_stats(self, pid: int, create_time: float) -> ProcessStats | None:
        for p in self.data["processes"]:
            if p["pid"] == pid and p["create_time"] == create_time:
                return ProcessStats(pid, p["cpu_user"], p["cpu_system"], p["rss"], p["threads"], p["fds"], create_time)
        return None


def samples(collector: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample a collector yields, keyed by (sample name, sorted labels)."""
    out = {}
    for family in collector.collect():
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def values(collector: Any, name: str, label: str) -> dict[str, float]:
    """{label value: sample value} of one sample name."""
    return {dict(labels)[label]: v for (n, labels), v in samples(collector).items() if n == name}


__all__ = ["FIXTURES", "FixtureSource", "load_host", "require_binary", "samples", "values"]
