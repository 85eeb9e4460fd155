"""HostSource: the procfs reads against a checked-in fake procfs, and psutil on live processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest
from hostfixture import FIXTURES

from tradewatch.system.source import HostSource, Mount, parse_mounts

FAKE_PROCFS = str(FIXTURES / "procfs")


@pytest.fixture
def restore_procfs():
    # HostSource points psutil's module-wide PROCFS_PATH at its procfs; put it back afterwards.
    saved = psutil.PROCFS_PATH
    yield
    psutil.PROCFS_PATH = saved


def test_process_states_from_stat_files_with_parentheses_in_names(restore_procfs):
    states = HostSource(FAKE_PROCFS).process_states()
    assert states == {"running": 1, "sleeping": 1, "disk_sleep": 0, "zombie": 1, "stopped": 0, "idle": 1}


def test_open_fds_loadavg_and_mounts_from_procfs(restore_procfs):
    source = HostSource(FAKE_PROCFS)
    assert source.open_fds() == 4128
    assert source.getloadavg() == (0.42, 0.33, 0.25)
    assert source.disk_partitions() == [
        Mount("/dev/sda2", "/", "ext4"),
        Mount("proc", "/proc", "proc"),
        Mount("/dev/sdb1", "/mnt/backup disk", "ext4"),
    ]


def test_in_a_container_mounts_come_from_pid_1_and_statvfs_from_the_host_root(restore_procfs, tmp_path):
    (tmp_path / "host-data").mkdir()
    source = HostSource(FAKE_PROCFS, rootfs=str(tmp_path))
    assert [m.mountpoint for m in source.disk_partitions()] == ["/", "/host-data"]
    assert source.statvfs("/host-data").f_frsize > 0  # resolved under tmp_path, not the real /
    with pytest.raises(FileNotFoundError):
        source.statvfs("/no-such-dir")


def test_procfs_readiness_check(restore_procfs, tmp_path):
    assert HostSource(FAKE_PROCFS).check_procfs() == (True, "")
    ok, reason = HostSource(str(tmp_path / "missing")).check_procfs()
    assert not ok and "cannot read" in reason and "missing/stat" in reason
    (tmp_path / "stat").write_text("garbage\n")
    ok, reason = HostSource(str(tmp_path)).check_procfs()
    assert not ok and "does not look like procfs" in reason


def test_memory_network_and_disk_counters_from_procfs_in_psutil_units(restore_procfs):
    source = HostSource(FAKE_PROCFS)
    mem, swap = source.virtual_memory(), source.swap_memory()
    assert (mem.total, mem.available, mem.used) == (16384000 * 1024, 8192000 * 1024, 8192000 * 1024)
    assert (swap.total, swap.used) == (2097152 * 1024, 1024 * 1024)
    nics = source.net_io_counters()
    assert set(nics) == {"lo", "eth0", "veth1a2b3c"}
    eth0 = nics["eth0"]
    assert (eth0.bytes_recv, eth0.packets_recv, eth0.errin, eth0.dropin) == (987654321, 200000, 3, 7)
    assert (eth0.bytes_sent, eth0.packets_sent, eth0.errout, eth0.dropout) == (123456789, 100000, 1, 2)
    disks = source.disk_io_counters()
    assert set(disks) == {"sda", "sda1", "nvme0n1", "hda1", "loop0"}
    sda = disks["sda"]
    assert (sda.read_count, sda.write_count, sda.read_bytes, sda.write_bytes, sda.busy_time) == (
        1000,
        2000,
        80000 * 512,
        160000 * 512,
        1500,
    )
    assert disks["nvme0n1"].busy_time == 25250  # 14-field line of older kernels
    assert (disks["hda1"].read_count, disks["hda1"].write_bytes, disks["hda1"].busy_time) == (8, 32 * 512, 0)


def test_cpu_times_from_the_aggregate_line(restore_procfs, tmp_path):
    ticks = os.sysconf("SC_CLK_TCK")
    times = HostSource(FAKE_PROCFS).cpu_times()
    assert (times.user, times.idle, times.steal, times.guest_nice) == (1 / ticks, 4 / ticks, 8 / ticks, 0.0)
    (tmp_path / "stat").write_text("intr 1 2 3\n")
    with pytest.raises(OSError, match="not the cpu total"):
        HostSource(str(tmp_path)).cpu_times()


def test_in_a_container_network_counters_are_the_hosts(restore_procfs, tmp_path):
    assert set(HostSource(FAKE_PROCFS, rootfs=str(tmp_path)).net_io_counters()) == {"ens3"}


def test_procfs_parsers_agree_with_psutil_on_this_host():
    source = HostSource()
    ours, theirs = source.cpu_times(), psutil.cpu_times()
    assert ours.user <= theirs.user and ours.idle <= theirs.idle
    assert theirs.system - ours.system < 1.0
    mem = source.virtual_memory()
    assert mem.total == psutil.virtual_memory().total
    assert mem.used == pytest.approx(psutil.virtual_memory().used, rel=0.05)
    assert source.swap_memory().total == psutil.swap_memory().total
    ours, theirs = source.net_io_counters(), psutil.net_io_counters(pernic=True, nowrap=False)
    assert set(ours) == set(theirs)
    for nic, counters in theirs.items():
        assert ours[nic].errin == counters.errin and ours[nic].dropout == counters.dropout
        assert ours[nic].bytes_recv <= counters.bytes_recv  # read just before psutil's
    ours, theirs = source.disk_io_counters(), psutil.disk_io_counters(perdisk=True, nowrap=False)
    assert set(ours) == set(theirs)
    for disk, counters in theirs.items():
        assert ours[disk].read_bytes <= counters.read_bytes and ours[disk].busy_time <= counters.busy_time


def test_parse_mounts_unescapes_octal_sequences():
    assert parse_mounts("a\\011b /x\\134y ext4 rw 0 0\nshort line\n") == [Mount("a\tb", "/x\\y", "ext4")]


def test_live_process_scan_and_stats():
    source = HostSource()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # tw-source-test"])
    try:
        deadline = time.monotonic() + 5
        entry = None
        while entry is None and time.monotonic() < deadline:
            entry = next((e for e in source.scan_processes() if "tw-source-test" in e.cmdline), None)
        assert entry is not None and entry.pid == child.pid
        stats = source.process_stats(entry.pid, entry.create_time)
        assert stats is not None and stats.rss > 1_000_000 and stats.threads >= 1 and stats.fds >= 3
        # A different start time means the PID now belongs to another process.
        assert source.process_stats(entry.pid, entry.create_time - 100) is None
    finally:
        child.kill()
        child.wait()
    assert source.process_stats(entry.pid, entry.create_time) is None


def test_live_host_reads_are_consistent():
    source = HostSource()
    states = source.process_states()
    assert sum(states.values()) >= 1 and states["running"] >= 1  # this test itself is running
    assert source.open_fds() > 0
    assert abs(source.boot_time() - psutil.boot_time()) < 2
    assert source.getloadavg() == pytest.approx(os.getloadavg(), abs=0.5)
