"""Dependency probes: TCP connect and HTTP checks of the database, exchange APIs and the like.

Each probe runs on its own :class:`~tradewatch.core.app.Periodic` thread with a timeout, so a
hanging dependency never slows a scrape; the collector only reads the last results.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.system.probes")


@dataclass(frozen=True)
class Probe:
    name: str
    kind: str  # tcp | http
    target: str  # host:port for tcp, URL for http
    interval: float = 15.0
    timeout: float = 5.0
    expect_status: tuple[int, ...] = ()  # empty: any 2xx
    required: bool = False

    @classmethod
    def of(cls, record: dict[str, Any]) -> Probe:
        return cls(
            record["name"],
            record["kind"],
            record["target"],
            record["interval"],
            record["timeout"],
            tuple(record.get("expect_status") or ()),
            bool(record.get("required")),
        )


@dataclass(frozen=True)
class Result:
    success: bool
    duration: float
    timestamp: float
    status_code: int = 0
    error: str = ""


@dataclass
class ProbeState:
    probe: Probe
    last: Result | None = None
    last_success: float | None = None
    runs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def split_host_port(target: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); raises ValueError on anything else."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {target!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def probe_tcp(probe: Probe) -> tuple[bool, int, str]:
    host, port = split_host_port(probe.target)
    with socket.create_connection((host, port), timeout=probe.timeout):
        pass
    return True, 0, ""


def probe_http(probe: Probe) -> tuple[bool, int, str]:
    import requests  # only HTTP probes need it (a few MB of RSS)

    # A probe measures direct reachability: proxies from the environment are not used, and the
    # body is never read (stream=True returns after the headers).
    with requests.Session() as session:
        session.trust_env = False
        with session.get(
            probe.target,
            timeout=probe.timeout,
            stream=True,
            allow_redirects=False,
            headers={"User-Agent": "tradewatch-probe"},
        ) as response:
            status = response.status_code
    ok = status in probe.expect_status if probe.expect_status else 200 <= status < 300
    return ok, status, "" if ok else f"unexpected HTTP status {status}"


CHECKS: dict[str, Callable[[Probe], tuple[bool, int, str]]] = {"tcp": probe_tcp, "http": probe_http}


class ProbeRunner:
    """Runs one probe and keeps its last result; ``run_once`` is what the Periodic thread calls."""

    def __init__(
        self,
        probe: Probe,
        *,
        on_result: Callable[[Probe, Result], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.state = ProbeState(probe)
        self.on_result = on_result
        self.clock = clock

    @property
    def probe(self) -> Probe:
        return self.state.probe

    def run_once(self) -> Result:
        probe = self.probe
        started = time.perf_counter()
        try:
            ok, status, error = CHECKS[probe.kind](probe)
        except (OSError, ValueError) as exc:  # requests' exceptions are OSErrors too
            ok, status, error = False, 0, f"{exc.__class__.__name__}: {exc}"
        duration = time.perf_counter() - started
        if ok and duration > probe.timeout:
            # connect and read timeouts apply separately; the probe's budget is for the whole run
            ok, error = False, f"took {duration:.3f}s, longer than the {probe.timeout}s timeout"
        result = Result(ok, duration, self.clock(), status, error)
        with self.state.lock:
            previous = self.state.last
            self.state.last = result
            self.state.runs += 1
            if ok:
                self.state.last_success = result.timestamp
        if previous is None or previous.success != ok:
            if ok:
                log.info("probe succeeded", probe=probe.name, kind=probe.kind, seconds=round(duration, 4))
            else:
                log.warning("probe failed", probe=probe.name, kind=probe.kind, error=error)
        if self.on_result:
            self.on_result(probe, result)
        return result

    def snapshot(self) -> tuple[Result | None, float | None]:
        with self.state.lock:
            return self.state.last, self.state.last_success


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."


class ProbesCollector:
    """Reads the last result of every probe; probes that have not run yet are left out."""

    def __init__(self, runners: Iterable[ProbeRunner]):
        self.runners = list(runners)

    def collect(self) -> Iterable[Metric]:
        success = GaugeMetricFamily(
            "tradewatch_probe_success",
            "1 if the last run of the probe (tcp, http) succeeded.",
            labels=["probe", "kind"],
        )
        duration = GaugeMetricFamily(
            "tradewatch_probe_duration_seconds", "Duration of the last probe run.", labels=["probe", "kind"]
        )
        last_ok = GaugeMetricFamily(
            "tradewatch_probe_last_success_timestamp_seconds",
            "Unix time of the last successful run.",
            labels=["probe", "kind"],
        )
        status = GaugeMetricFamily(
            "tradewatch_probe_http_status_code",
            "HTTP status of the last run of an HTTP probe (0 when no response).",
            labels=["probe"],
        )
        for runner in self.runners:
            last, last_success = runner.snapshot()
            if last is None:
                continue
            probe = runner.probe
            labels = [probe.name, probe.kind]
            success.add_metric(labels, 1.0 if last.success else 0.0)
            duration.add_metric(labels, last.duration)
            if last_success is not None:
                last_ok.add_metric(labels, last_success)
            if probe.kind == "http":
                status.add_metric([probe.name], float(last.status_code))
        return [success, duration, last_ok, status]
