"""The production data source of the system collectors: psutil plus a few cheap procfs reads.

Every collector receives a source object through its constructor; in production that is a
:class:`HostSource`, in tests a fixture object with the same methods. Only the calls the
collectors make are exposed here, so a fixture never has to imitate all of psutil. Answers keep
psutil's shapes and field names; where psutil reads more than a scrape needs (swap reads
/proc/meminfo and /proc/vmstat, its counters keep wrap-around bookkeeping that 64-bit kernels
do not need), the procfs file is parsed here directly, in psutil's units.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import psutil

# /proc/<pid>/stat state letters -> label values (psutil's names, with underscores).
PROC_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk_sleep",
    "Z": "zombie",
    "T": "stopped",
    "t": "tracing_stop",
    "X": "dead",
    "x": "dead",
    "I": "idle",
    "P": "parked",
    "W": "waking",
    "K": "wake_kill",
}
# Always exported (0 when absent) so that alerts like `zombie > 0` never see a missing series.
BASE_STATES = ("running", "sleeping", "disk_sleep", "zombie", "stopped", "idle")


@dataclass(frozen=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in mount fields as \040-style escapes.
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field) if "\\" in field else field


def parse_mounts(text: str) -> list[Mount]:
    """Parse /proc/<pid>/mounts (fstab format: device, mount point, type, options, 0, 0)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            out.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
    return out


CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's block size


def _read(path: str, chunk: int = 16384) -> bytes:
    """A whole procfs file in few syscalls, without Python's file-object layers."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, chunk)
        if len(data) < chunk:
            return data
        parts = [data]
        while part := os.read(fd, chunk):
            parts.append(part)
        return b"".join(parts)
    finally:
        os.close(fd)


def parse_meminfo(data: bytes) -> dict[str, int]:
    """/proc/meminfo as {field: bytes}."""
    out = {}
    for line in data.splitlines():
        name, _, rest = line.partition(b":")
        fields = rest.split()
        if fields:
            out[name.decode()] = int(fields[0]) * (1024 if len(fields) > 1 else 1)
    return out


def parse_net_dev(data: bytes) -> dict[str, SimpleNamespace]:
    """/proc/net/dev as psutil's pernic counters."""
    out = {}
    for line in data.splitlines()[2:]:
        name, _, rest = line.rpartition(b":")
        f = rest.split()
        if len(f) < 12:
            continue
        out[name.strip().decode()] = SimpleNamespace(
            bytes_recv=int(f[0]),
            packets_recv=int(f[1]),
            errin=int(f[2]),
            dropin=int(f[3]),
            bytes_sent=int(f[8]),
            packets_sent=int(f[9]),
            errout=int(f[10]),
            dropout=int(f[11]),
        )
    return out


def parse_diskstats(data: bytes) -> dict[str, SimpleNamespace]:
    """/proc/diskstats as psutil's perdisk counters (bytes, milliseconds)."""
    out = {}
    for line in data.splitlines():
        f = line.split()
        if len(f) >= 14:
            reads, rsect, writes, wsect, busy = int(f[3]), int(f[5]), int(f[7]), int(f[9]), int(f[12])
        elif len(f) == 7:  # partition line of old kernels
            reads, rsect, writes, wsect, busy = int(f[3]), int(f[4]), int(f[5]), int(f[6]), 0
        else:
            continue
        out[f[2].decode()] = SimpleNamespace(
            read_count=reads,
            write_count=writes,
            read_bytes=rsect * SECTOR_BYTES,
            write_bytes=wsect * SECTOR_BYTES,
            busy_time=busy,
        )
    return out


@dataclass(frozen=True)
class ProcessStats:
    """What the components collector reads for one process."""

    pid: int
    cpu_user: float
    cpu_system: float
    rss: int
    threads: int
    fds: int | None  # None when not permitted (another user's process)
    create_time: float


@dataclass(frozen=True)
class ProcessEntry:
    pid: int
    name: str
    cmdline: str
    create_time: float


class HostSource:
    """psutil and procfs, rooted at ``procfs`` (the host's /proc mounted into a container)."""

    def __init__(self, procfs: str = "/proc", rootfs: str = ""):
        self.procfs = procfs.rstrip("/") or "/proc"
        self.rootfs = rootfs.rstrip("/")
        # psutil reads every /proc path through this global; set it once, before any call.
        psutil.PROCFS_PATH = self.procfs
        # /proc/net is /proc/self/net: in a container that is the container's network namespace,
        # so read the host's through PID 1 when the host is mounted in.
        self._net_dev = f"{self.procfs}/1/net/dev" if self.rootfs else f"{self.procfs}/net/dev"
        self._boot_time: float | None = None
        self._ticks = os.sysconf("SC_CLK_TCK")

    # ------------------------------------------------------------------ host-wide
    def cpu_times(self) -> Any:
        """The aggregate line of /proc/stat in seconds, with psutil's field names."""
        line = _read(f"{self.procfs}/stat", 4096).split(b"\n", 1)[0].split()
        if line[0] != b"cpu":
            raise OSError(f"{self.procfs}/stat: first line is not the cpu total")
        values = [int(v) / self._ticks for v in line[1:]]
        return SimpleNamespace(**dict(zip(CPU_FIELDS, values, strict=False)))

    def cpu_count(self) -> int | None:
        return psutil.cpu_count(logical=True)

    def getloadavg(self) -> tuple[float, float, float]:
        with open(f"{self.procfs}/loadavg", "rb") as f:
            fields = f.read().split()
        return float(fields[0]), float(fields[1]), float(fields[2])

    def virtual_memory(self) -> Any:
        info = parse_meminfo(_read(f"{self.procfs}/meminfo"))
        if "MemAvailable" not in info:  # kernels before 3.14: psutil estimates it
            return psutil.virtual_memory()
        total, available = info["MemTotal"], min(info["MemAvailable"], info["MemTotal"])
        return SimpleNamespace(total=total, available=available, used=total - available)  # psutil's used

    def swap_memory(self) -> Any:
        info = parse_meminfo(_read(f"{self.procfs}/meminfo"))
        total, free = info.get("SwapTotal", 0), info.get("SwapFree", 0)
        return SimpleNamespace(total=total, free=free, used=total - free)

    def disk_partitions(self) -> list[Mount]:
        """The mount table; PID 1's when the host root is mounted in (a container's own is useless)."""
        path = f"{self.procfs}/1/mounts" if self.rootfs else f"{self.procfs}/self/mounts"
        with open(path, "rb") as f:
            return parse_mounts(f.read().decode("utf-8", "surrogateescape"))

    def statvfs(self, mountpoint: str) -> os.statvfs_result:
        return os.statvfs(self.rootfs + mountpoint if self.rootfs else mountpoint)

    def disk_io_counters(self) -> dict[str, Any]:
        return parse_diskstats(_read(f"{self.procfs}/diskstats"))

    def net_io_counters(self) -> dict[str, Any]:
        return parse_net_dev(_read(self._net_dev))

    def boot_time(self) -> float:
        # Fixed for the life of the host; psutil would re-read all of /proc/stat each time.
        if self._boot_time is None:
            self._boot_time = psutil.boot_time()
        return self._boot_time

    def open_fds(self) -> int:
        """File handles allocated system-wide (first field of /proc/sys/fs/file-nr)."""
        with open(f"{self.procfs}/sys/fs/file-nr", "rb") as f:
            return int(f.read().split()[0])

    def process_states(self) -> dict[str, int]:
        """Count processes by state from /proc/<pid>/stat: one small read per process.

        psutil would build a Process object and parse every field; the state letter is all we
        need, and it follows the last ')' (the command name may itself contain parentheses).
        os.open/os.read skip the file-object layers, a third of the cost per process.
        """
        counts = dict.fromkeys(BASE_STATES, 0)
        procfs = self.procfs
        for name in os.listdir(procfs):
            if not name.isdigit():
                continue
            try:
                fd = os.open(f"{procfs}/{name}/stat", os.O_RDONLY)
            except OSError:
                continue  # exited between listing and opening
            try:
                data = os.read(fd, 512)
            except OSError:
                continue
            finally:
                os.close(fd)
            pos = data.rfind(b")")
            if pos < 0 or pos + 2 >= len(data):
                continue
            state = PROC_STATES.get(chr(data[pos + 2]), "other")
            counts[state] = counts.get(state, 0) + 1
        return counts

    def check_procfs(self) -> tuple[bool, str]:
        """Readiness: the host's procfs must be readable for the host metrics to mean anything."""
        try:
            with open(f"{self.procfs}/stat", "rb") as f:
                if not f.read(4).startswith(b"cpu"):
                    return False, f"{self.procfs}/stat does not look like procfs"
        except OSError as exc:
            return False, f"cannot read {self.procfs}/stat: {exc.strerror or exc}"
        return True, ""

    # ------------------------------------------------------------------ processes
    def scan_processes(self) -> Iterator[ProcessEntry]:
        """Every process with name and command line; the expensive call, made only on rescans."""
        for proc in psutil.process_iter(["name", "cmdline", "create_time"]):
            info = proc.info
            cmdline = info.get("cmdline") or []
            yield ProcessEntry(proc.pid, info.get("name") or "", " ".join(cmdline), info.get("create_time") or 0.0)

    def process_stats(self, pid: int, create_time: float) -> ProcessStats | None:
        """Stats of a process seen by a scan; None once it has exited or its PID was reused.

        A fresh Process object per call: psutil caches create_time inside the object, so a
        long-lived one could not notice PID reuse.
        """
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - create_time) > 0.01:
                return None
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    return None
                cpu = proc.cpu_times()
                rss = proc.memory_info().rss
                threads = proc.num_threads()
                try:
                    fds: int | None = proc.num_fds()
                except psutil.AccessDenied:
                    fds = None
            return ProcessStats(pid, cpu.user, cpu.system, rss, threads, fds, create_time)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
