"""Scrape cost of the system exporter next to Debian's prometheus-node-exporter, same host, same run.

Both run as real processes on free loopback ports and are scraped alternately over one
keep-alive connection each, with the headers Prometheus sends (OpenMetrics preferred, gzip).
CPU is the utime+stime delta of the process from /proc/<pid>/stat over the timed scrapes, so
background threads count too. Targets (issue 2): p99 at most half of node_exporter's, CPU per
series no higher, RSS under 40 MB.
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRAPES = int(os.environ.get("BENCH_SCRAPES", "300"))
WARMUP = 20
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    data = Path(f"/proc/{pid}/stat").read_bytes()
    fields = data[data.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Target:
    # A plain class: tests/bench/run.py loads this file without registering it in sys.modules,
    # which dataclasses need.
    def __init__(self, name: str, proc: subprocess.Popen, port: int):
        self.name = name
        self.proc = proc
        self.port = port
        self.latencies: list[float] = []
        self.conn: http.client.HTTPConnection | None = None
        self.series = 0
        self.body_bytes = 0
        self.cpu = 0.0
        self.rss = 0

    def scrape(self) -> bytes:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.conn.request("GET", "/metrics", headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"})
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return body


def wait_ready(target: Target, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.proc.poll() is not None:
            raise RuntimeError(f"{target.name} exited with status {target.proc.returncode}")
        try:
            target.scrape()
            return
        except OSError:
            target.conn = None
            time.sleep(0.1)
    raise RuntimeError(f"{target.name} did not answer within {timeout}s")


def count_series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def start_targets() -> list[Target]:
    targets = []
    port = free_port()
    env = dict(os.environ, TRADEWATCH_LOG_LEVEL="warning")
    # BENCH_SYSTEM_ARGV replaces "-m tradewatch" (e.g. a script that imports only the system
    # exporter, to tell its own cost from what other subcommands' imports add).
    launcher = os.environ.get("BENCH_SYSTEM_ARGV", "-m tradewatch").split()
    proc = subprocess.Popen(
        [sys.executable, *launcher, "system-exporter", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    targets.append(Target("tradewatch system-exporter", proc, port))
    if shutil.which(NODE_EXPORTER) or Path(NODE_EXPORTER).exists():
        port = free_port()
        proc = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        targets.append(Target("prometheus-node-exporter", proc, port))
    else:
        print(f"({NODE_EXPORTER} not installed: system exporter measured alone)")
    return targets


def measure(targets: list[Target]) -> None:
    for t in targets:
        wait_ready(t)
        for _ in range(WARMUP):
            t.scrape()
    cpu_start = {t.name: cpu_seconds(t.proc.pid) for t in targets}
    for _ in range(SCRAPES):
        # Alternate so that both see the same background load on this 2-core host.
        for t in targets:
            started = time.perf_counter()
            body = t.scrape()
            t.latencies.append(time.perf_counter() - started)
    for t in targets:
        t.cpu = cpu_seconds(t.proc.pid) - cpu_start[t.name]
        t.rss = rss_bytes(t.proc.pid)
        t.series = count_series(body if t is targets[-1] else t.scrape())
        t.body_bytes = len(t.scrape())


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def report(targets: list[Target]) -> None:
    header = (
        f"{'exporter':<28} {'series':>7} {'median ms':>10} {'p99 ms':>8} {'CPU ms/scrape':>14} "
        f"{'CPU us/series':>14} {'RSS MB':>7}"
    )
    print(f"{SCRAPES} scrapes each, alternating, keep-alive, OpenMetrics + gzip")
    print(header)
    print("-" * len(header))
    rows = {}
    for t in targets:
        per_scrape = t.cpu / SCRAPES
        row = {
            "series": t.series,
            "median": statistics.median(t.latencies) * 1000,
            "p99": p99(t.latencies) * 1000,
            "cpu_ms": per_scrape * 1000,
            "cpu_us_series": per_scrape / max(t.series, 1) * 1e6,
            "rss_mb": t.rss / 1e6,
        }
        rows[t.name] = row
        print(
            f"{t.name:<28} {row['series']:>7} {row['median']:>10.2f} {row['p99']:>8.2f} "
            f"{row['cpu_ms']:>14.3f} {row['cpu_us_series']:>14.2f} {row['rss_mb']:>7.1f}"
        )
    ours = rows["tradewatch system-exporter"]
    print(f"RSS under 40 MB: {'yes' if ours['rss_mb'] < 40 else 'NO'} ({ours['rss_mb']:.1f} MB)")
    node = rows.get("prometheus-node-exporter")
    if node:
        print(
            f"p99 at most half of node_exporter's: {'yes' if ours['p99'] <= node['p99'] / 2 else 'NO'} "
            f"({ours['p99']:.2f} vs {node['p99']:.2f} ms)"
        )
        print(
            f"CPU per series no higher than node_exporter's: "
            f"{'yes' if ours['cpu_us_series'] <= node['cpu_us_series'] else 'NO'} "
            f"({ours['cpu_us_series']:.2f} vs {node['cpu_us_series']:.2f} us)"
        )


def main() -> None:
    targets = start_targets()
    try:
        measure(targets)
        report(targets)
    finally:
        for t in targets:
            if t.conn is not None:
                t.conn.close()
            t.proc.terminate()
        for t in targets:
            try:
                t.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                t.proc.kill()


if __name__ == "__main__":
    main()
