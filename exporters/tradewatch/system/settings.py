"""Settings of the system exporter and the function that builds it from them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, Periodic, common_settings
from tradewatch.system.components import ComponentsCollector, Rule
from tradewatch.system.cpu import CpuCollector
from tradewatch.system.diskio import DiskIOCollector
from tradewatch.system.filesystem import FilesystemCollector
from tradewatch.system.filters import NameFilter
from tradewatch.system.memory import MemoryCollector
from tradewatch.system.network import NetworkCollector
from tradewatch.system.probes import Probe, ProbeRunner, ProbesCollector, Result, split_host_port
from tradewatch.system.processes import ProcessesCollector
from tradewatch.system.source import HostSource

NAME = "system-exporter"
DEFAULT_PORT = 9811
COLLECTORS = ("cpu", "memory", "filesystem", "diskio", "network", "processes", "components", "probes")

# Defaults in the spirit of node_exporter's: pseudo and container-layer filesystems, and
# partitions, RAM and loop devices (their I/O is already counted on the whole disk). Compiled
# here because defaults are used as given, not passed through the setting's parser.
DEFAULT_FSTYPES_EXCLUDE = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue"
    r"|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs|tmpfs)$"
)
DEFAULT_MOUNTPOINTS_EXCLUDE = re.compile(
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
DEFAULT_DEVICES_EXCLUDE = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
# Per-container virtual interfaces come and go with every container: unbounded label values.
DEFAULT_INTERFACES_EXCLUDE = re.compile(r"^(veth|cali|lxc)[0-9A-Za-z_.-]*$")

LABEL_VALUE = r"[A-Za-z0-9_.:-]{1,64}"


def _component_check(record: dict[str, Any]) -> None:
    if not record["name"] and record["cmdline"] is None:
        raise cfg.Invalid("give name (exact process name) or cmdline (regular expression), or both")


COMPONENT = cfg.Record(
    {
        "component": (cfg.string(allow_empty=False, pattern=LABEL_VALUE), None, True),
        "name": (cfg.string(), "", False),
        "cmdline": (cfg.optional_regex(), None, False),
    },
    check=_component_check,
)


def _probe_check(record: dict[str, Any]) -> None:
    if record["timeout"] > record["interval"]:
        raise cfg.Invalid(f"timeout ({record['timeout']}s) must not exceed interval ({record['interval']}s)")
    target = record["target"]
    if record["kind"] == "tcp":
        try:
            split_host_port(target)
        except ValueError as exc:
            raise cfg.Invalid(f"target: {exc}") from None
    else:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise cfg.Invalid(f"target: expected an http:// or https:// URL, got {target!r}")


PROBE = cfg.Record(
    {
        "name": (cfg.string(allow_empty=False, pattern=LABEL_VALUE), None, True),
        "kind": (cfg.choice("tcp", "http"), None, True),
        "target": (cfg.string(allow_empty=False), None, True),
        "interval": (cfg.duration(0.1, 86400), 15.0, False),
        "timeout": (cfg.duration(0.01, 600), 5.0, False),
        "expect_status": (cfg.list_of(cfg.integer(100, 599)), [], False),
        "required": (cfg.boolean(), False, False),
    },
    check=_probe_check,
)


def _unique(item: cfg.Record, key: str) -> cfg.Parser:
    """A list of records whose ``key`` values must be distinct (they become label values)."""
    inner = cfg.list_of(item)

    def parse(value: Any) -> list[dict[str, Any]]:
        out = inner(value)
        seen: set[str] = set()
        for i, record in enumerate(out):
            if record[key] in seen:
                raise cfg.Invalid(f"item {i}: duplicate {key} {record[key]!r}")
            seen.add(record[key])
        return out

    return parse


def settings() -> list[cfg.Setting]:
    return [
        *common_settings(DEFAULT_PORT),
        cfg.Setting(
            "host.procfs_path",
            cfg.string(allow_empty=False),
            "/proc",
            "Where the host's procfs is mounted (/host/proc in a container).",
        ),
        cfg.Setting(
            "host.rootfs_path",
            cfg.string(),
            "",
            "Where the host's root filesystem is mounted (/host/root in a container); empty on the "
            "host. When set, mounts are read from PID 1's mount table.",
        ),
        cfg.Setting(
            "collectors.disabled",
            cfg.csv_list(cfg.choice(*COLLECTORS)),
            [],
            f"Collectors to turn off; any of {', '.join(COLLECTORS)}.",
        ),
        cfg.Setting(
            "filesystem.fstypes_exclude",
            cfg.optional_regex(),
            DEFAULT_FSTYPES_EXCLUDE,
            "Filesystem types to leave out (regex; empty keeps all).",
        ),
        cfg.Setting(
            "filesystem.mountpoints_exclude",
            cfg.optional_regex(),
            DEFAULT_MOUNTPOINTS_EXCLUDE,
            "Mount points to leave out (regex; empty keeps all).",
        ),
        cfg.Setting(
            "diskio.devices_include", cfg.optional_regex(), None, "Only these block devices (regex; empty: all)."
        ),
        cfg.Setting(
            "diskio.devices_exclude",
            cfg.optional_regex(),
            DEFAULT_DEVICES_EXCLUDE,
            "Block devices to leave out (regex; empty keeps all).",
        ),
        cfg.Setting(
            "network.interfaces_include",
            cfg.optional_regex(),
            None,
            "Only these network interfaces (regex; empty: all).",
        ),
        cfg.Setting(
            "network.interfaces_exclude",
            cfg.optional_regex(),
            DEFAULT_INTERFACES_EXCLUDE,
            "Network interfaces to leave out (regex; empty keeps all).",
        ),
        cfg.Setting(
            "processes.scan_interval",
            cfg.duration(1, 3600),
            15.0,
            "How often processes are counted by state (a read per process, off the scrape path).",
        ),
        cfg.Setting(
            "components.watch",
            cfg.list_of(COMPONENT),
            [],
            "Watched processes: list of {component, name, cmdline} (name exact, cmdline a regex; "
            "several entries may share a component).",
        ),
        cfg.Setting(
            "components.rescan_interval",
            cfg.duration(1, 3600),
            60.0,
            "Full process scan at least this often to find new processes of a component.",
        ),
        cfg.Setting(
            "probes",
            _unique(PROBE, "name"),
            [],
            "Dependency probes: list of {name, kind: tcp|http, target, interval, timeout, "
            "expect_status, required}. A failing required probe makes /readyz answer 503.",
        ),
    ]


def build(config: cfg.Config, source: Any = None) -> Exporter:
    """The system exporter, wired but not started (``run()`` or ``start()`` it)."""
    source = source or HostSource(config["host.procfs_path"], config["host.rootfs_path"])
    exporter = Exporter(NAME, config)
    disabled = set(config["collectors.disabled"])
    runners = _probe_runners(config, exporter)
    processes = ProcessesCollector(source)
    collectors: dict[str, Any] = {
        "cpu": lambda: CpuCollector(source),
        "memory": lambda: MemoryCollector(source),
        "filesystem": lambda: FilesystemCollector(
            source,
            NameFilter(exclude=config["filesystem.mountpoints_exclude"]),
            NameFilter(exclude=config["filesystem.fstypes_exclude"]),
        ),
        "diskio": lambda: DiskIOCollector(
            source, NameFilter(config["diskio.devices_include"], config["diskio.devices_exclude"])
        ),
        "network": lambda: NetworkCollector(
            source, NameFilter(config["network.interfaces_include"], config["network.interfaces_exclude"])
        ),
        "processes": lambda: processes,
        "components": lambda: ComponentsCollector(
            source, [Rule.of(r) for r in config["components.watch"]], config["components.rescan_interval"]
        ),
        "probes": lambda: ProbesCollector(runners),
    }
    for name, make in collectors.items():
        if name not in disabled:
            exporter.add_collector(name, make())
    if "processes" not in disabled:
        exporter.add_task(
            Periodic(
                "process-states",
                config["processes.scan_interval"],
                processes.refresh,
                on_error=lambda _exc: exporter.errors.labels("collector").inc(),
            )
        )
    if hasattr(source, "check_procfs"):
        exporter.readiness.add_check("procfs", source.check_procfs)
    if "probes" not in disabled:
        for runner in runners:
            exporter.add_task(
                Periodic(
                    f"probe-{runner.probe.name}",
                    runner.probe.interval,
                    runner.run_once,
                    on_error=lambda _exc: exporter.errors.labels("probe").inc(),
                )
            )
    return exporter


def _probe_runners(config: cfg.Config, exporter: Exporter) -> list[ProbeRunner]:
    def on_result(probe: Probe, result: Result) -> None:
        if probe.required:
            exporter.readiness.set(f"probe:{probe.name}", result.success, result.error)

    runners = []
    for record in config["probes"]:
        probe = Probe.of(record)
        if probe.required:
            exporter.readiness.set(f"probe:{probe.name}", False, "not run yet")
        runners.append(ProbeRunner(probe, on_result=on_result))
    return runners
