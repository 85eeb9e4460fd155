"""Unit tests of each system collector, with psutil answers from tests/system/fixtures/host.json."""

from __future__ import annotations

import re

import pytest
from hostfixture import FixtureSource, samples, values

from tradewatch.system import settings
from tradewatch.system.components import MIN_RESCAN_SECONDS, ComponentsCollector, Rule
from tradewatch.system.cpu import CpuCollector
from tradewatch.system.diskio import DiskIOCollector
from tradewatch.system.filesystem import FilesystemCollector
from tradewatch.system.filters import NameFilter
from tradewatch.system.memory import MemoryCollector
from tradewatch.system.network import NetworkCollector
from tradewatch.system.processes import ProcessesCollector


@pytest.fixture
def source() -> FixtureSource:
    return FixtureSource()


def default_fs(source: FixtureSource) -> FilesystemCollector:
    return FilesystemCollector(
        source,
        NameFilter(exclude=settings.DEFAULT_MOUNTPOINTS_EXCLUDE),
        NameFilter(exclude=settings.DEFAULT_FSTYPES_EXCLUDE),
    )


def test_cpu_modes_exclude_guest_time_counted_in_user(source):
    got = values(CpuCollector(source), "tradewatch_host_cpu_seconds_total", "mode")
    assert got == {
        "user": 1234.5,
        "nice": 1.5,
        "system": 321.25,
        "idle": 98765.0,
        "iowait": 12.0,
        "irq": 0.5,
        "softirq": 3.25,
        "steal": 0.0,
    }
    all_samples = samples(CpuCollector(source))
    assert all_samples[("tradewatch_host_cpus", ())] == 8
    assert all_samples[("tradewatch_host_load1", ())] == 0.5
    assert all_samples[("tradewatch_host_load5", ())] == 0.75
    assert all_samples[("tradewatch_host_load15", ())] == 1.25


def test_cpu_modes_missing_on_a_platform_are_left_out(source):
    del source.data["cpu_times"]["steal"], source.data["cpu_times"]["iowait"]
    got = values(CpuCollector(source), "tradewatch_host_cpu_seconds_total", "mode")
    assert set(got) == {"user", "nice", "system", "idle", "irq", "softirq"}


def test_memory_and_swap(source):
    got = samples(MemoryCollector(source))
    assert got == {
        ("tradewatch_host_memory_total_bytes", ()): 16777216000,
        ("tradewatch_host_memory_available_bytes", ()): 8388608000,
        ("tradewatch_host_memory_used_bytes", ()): 7000000000,
        ("tradewatch_host_swap_total_bytes", ()): 2147483648,
        ("tradewatch_host_swap_used_bytes", ()): 1048576,
    }


def test_filesystem_default_filters_drop_pseudo_and_container_mounts(source):
    size = values(default_fs(source), "tradewatch_host_filesystem_size_bytes", "mountpoint")
    # /mnt/stale passes the filters but statvfs fails on it: skipped, the rest still reported.
    assert set(size) == {"/", "/boot/efi", "/data", "/mnt/backup disk"}
    assert size["/"] == 1000000 * 4096
    assert size["/mnt/backup disk"] == 250000 * 1024
    got = samples(default_fs(source))
    root = (("device", "/dev/sda2"), ("fstype", "ext4"), ("mountpoint", "/"))
    assert got[("tradewatch_host_filesystem_free_bytes", root)] == 400000 * 4096
    assert got[("tradewatch_host_filesystem_avail_bytes", root)] == 350000 * 4096


def test_filesystem_overmount_reports_the_mount_in_effect_once(source):
    got = samples(default_fs(source))
    data = [
        labels
        for name, labels in got
        if name == "tradewatch_host_filesystem_size_bytes" and dict(labels)["mountpoint"] == "/data"
    ]
    assert data == [(("device", "/dev/nvme1n1p1"), ("fstype", "ext4"), ("mountpoint", "/data"))]


def test_filesystem_overmount_by_an_excluded_type_hides_the_mount(source):
    source.data["mounts"].append({"device": "tmpfs", "mountpoint": "/data", "fstype": "tmpfs"})
    size = values(default_fs(source), "tradewatch_host_filesystem_size_bytes", "mountpoint")
    assert "/data" not in size


def test_filesystem_filters_are_configuration_not_code(source):
    keep_all = FilesystemCollector(source, NameFilter(), NameFilter())
    size = values(keep_all, "tradewatch_host_filesystem_size_bytes", "mountpoint")
    assert "/var/lib/docker/volumes/pg" in size  # excluded only by the default mount point regex
    only_xfs_out = FilesystemCollector(source, NameFilter(), NameFilter(exclude=re.compile(r"^(vfat|ext4)$")))
    assert set(values(only_xfs_out, "tradewatch_host_filesystem_size_bytes", "mountpoint")) == set()


def test_diskio_default_exclude_drops_partitions_loop_and_ram(source):
    collector = DiskIOCollector(source, NameFilter(exclude=settings.DEFAULT_DEVICES_EXCLUDE))
    io_time = values(collector, "tradewatch_host_disk_io_time_seconds_total", "device")
    assert io_time == {"sda": 1.5, "nvme0n1": 25.25, "dm-0": 0.09}
    got = samples(collector)
    assert got[("tradewatch_host_disk_read_bytes_total", (("device", "nvme0n1"),))] == 2048000000
    assert got[("tradewatch_host_disk_written_bytes_total", (("device", "nvme0n1"),))] == 4096000000
    assert got[("tradewatch_host_disk_reads_completed_total", (("device", "sda"),))] == 1000
    assert got[("tradewatch_host_disk_writes_completed_total", (("device", "sda"),))] == 2000


def test_diskio_include_and_exclude_combine(source):
    collector = DiskIOCollector(source, NameFilter(re.compile(r"^nvme"), settings.DEFAULT_DEVICES_EXCLUDE))
    assert set(values(collector, "tradewatch_host_disk_read_bytes_total", "device")) == {"nvme0n1"}


def test_network_counters_and_default_exclude_of_container_veths(source):
    collector = NetworkCollector(source, NameFilter(exclude=settings.DEFAULT_INTERFACES_EXCLUDE))
    got = samples(collector)
    eth0 = (("interface", "eth0"),)
    expected = {
        "receive_bytes": 987654321,
        "transmit_bytes": 123456789,
        "receive_packets": 200000,
        "transmit_packets": 100000,
        "receive_errors": 3,
        "transmit_errors": 1,
        "receive_drop": 7,
        "transmit_drop": 2,
    }
    for suffix, value in expected.items():
        assert got[(f"tradewatch_host_network_{suffix}_total", eth0)] == value
    assert set(values(collector, "tradewatch_host_network_receive_bytes_total", "interface")) == {
        "lo",
        "eth0",
        "docker0",
    }


def test_network_include_only_named_interfaces(source):
    collector = NetworkCollector(source, NameFilter(include=re.compile(r"^eth\d+$")))
    assert set(values(collector, "tradewatch_host_network_receive_bytes_total", "interface")) == {"eth0"}


def test_processes_states_fds_boot_time(source):
    collector = ProcessesCollector(source)
    assert values(collector, "tradewatch_host_processes", "state") == {
        "running": 2,
        "sleeping": 180,
        "disk_sleep": 1,
        "zombie": 3,
        "stopped": 0,
        "idle": 40,
    }
    got = samples(collector)
    assert got[("tradewatch_host_open_fds", ())] == 4128
    assert got[("tradewatch_host_boot_time_seconds", ())] == 1700000000.0


def test_process_states_are_read_from_the_last_refresh_not_at_scrape(source):
    collector = ProcessesCollector(source)
    list(collector.collect())  # first scrape counts once
    source.data["process_states"]["zombie"] = 9
    assert values(collector, "tradewatch_host_processes", "state")["zombie"] == 3
    collector.refresh()  # what the background task does
    assert values(collector, "tradewatch_host_processes", "state")["zombie"] == 9


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


RULES = [
    Rule("strategy", cmdline=re.compile(r"bot\.strategy")),
    Rule("db", name="postgres"),
    Rule("risk", name="python3", cmdline=re.compile(r"risk\.engine")),
]


def test_components_aggregate_matching_processes(source):
    collector = ComponentsCollector(source, [*RULES, Rule("ghost", name="no-such-process")], 60, Clock())
    got = samples(collector)
    strategy = (("component", "strategy"),)
    assert values(collector, "tradewatch_component_up", "component") == {"strategy": 1, "db": 1, "risk": 1, "ghost": 0}
    assert got[("tradewatch_component_processes", strategy)] == 2
    cpu = "tradewatch_component_cpu_seconds_total"
    assert got[(cpu, (("component", "strategy"), ("mode", "user")))] == 180.5
    assert got[(cpu, (("component", "strategy"), ("mode", "system")))] == 30.25
    assert got[("tradewatch_component_resident_memory_bytes", strategy)] == 500000000
    assert got[("tradewatch_component_threads", strategy)] == 20
    assert got[("tradewatch_component_open_fds", strategy)] == 40  # the unreadable one is left out
    assert got[("tradewatch_component_start_time_seconds", strategy)] == 1700001000.0
    # A down component has up and processes, and no resource series that would read as zero usage.
    assert got[("tradewatch_component_processes", (("component", "ghost"),))] == 0
    assert ("tradewatch_component_resident_memory_bytes", (("component", "ghost"),)) not in got


def test_components_rescan_only_when_needed(source):
    clock = Clock()
    collector = ComponentsCollector(source, RULES, rescan_interval=60, clock=clock)
    samples(collector)
    clock.now += 5
    samples(collector)
    assert source.scans == 1, "an unchanged set of processes must not trigger a full scan"

    # A worker exits: noticed at the next scrape through the cheap per-PID check, then rescanned.
    source.data["processes"] = [p for p in source.data["processes"] if p["pid"] != 4101]
    clock.now += 5
    assert values(collector, "tradewatch_component_processes", "component")["strategy"] == 1
    assert source.scans == 2

    # A new worker appears: picked up by the periodic rescan, not before.
    source.data["processes"].append(
        {
            "pid": 4102,
            "name": "python3",
            "cmdline": "python3 -m bot.strategy",
            "create_time": 1700003000.0,
            "cpu_user": 1.0,
            "cpu_system": 1.0,
            "rss": 1000,
            "threads": 1,
            "fds": 5,
        }
    )
    clock.now += 5
    assert values(collector, "tradewatch_component_processes", "component")["strategy"] == 1
    clock.now += 60
    assert values(collector, "tradewatch_component_processes", "component")["strategy"] == 2


def test_components_pid_reuse_is_not_mistaken_for_the_watched_process(source):
    clock = Clock()
    collector = ComponentsCollector(source, [Rule("db", name="postgres")], 60, clock)
    samples(collector)
    # postgres restarted and its PID went to an unrelated process.
    for p in source.data["processes"]:
        if p["pid"] == 4200:
            p.update(name="bash", cmdline="bash", create_time=1700009000.0)
    clock.now += 5
    assert values(collector, "tradewatch_component_up", "component") == {"db": 0}


def test_components_down_rescans_are_rate_limited(source):
    clock = Clock()
    collector = ComponentsCollector(source, [Rule("ghost", name="nothing")], 60, clock)
    samples(collector)
    samples(collector)
    samples(collector)
    assert source.scans == 1
    clock.now += MIN_RESCAN_SECONDS
    samples(collector)
    assert source.scans == 2


def test_components_without_rules_expose_nothing(source):
    assert samples(ComponentsCollector(source, [], 60)) == {}
    assert source.scans == 0
