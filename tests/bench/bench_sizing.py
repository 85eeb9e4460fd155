"""Sizing: the figures of docs/operations.md's sizing table, measured on this machine.

1. Series per trading system at the default caps: real system, trading and model exporters on
   loopback, fed by ``tradewatch simulate`` (scenario normal, --speed 60) for ``WARM`` seconds;
   series = sample lines of each /metrics body.
2. A real Prometheus (the ``prometheus`` on PATH, Debian's 2.42) with the native config and every
   shipped rule file at the shipped intervals scrapes them for ``BENCH_SIZING_SECONDS`` (default
   180) and remote-writes to a sink in this process that counts the bytes it is sent: head series,
   samples/s appended (scrapes + rules), RSS, remote_write bytes/s. A TSDB snapshot (admin API)
   cuts the head into a compressed block: bytes/sample, and disk/day = samples/s x 86400 x that.
3. The caps pushed to their limits: a fresh trading exporter gets events with more symbols,
   strategies, accounts and venues than its caps allow (the rest fold into __overflow__); its
   series count and a second Prometheus's RSS over it give the single machine's ceiling.

Extrapolations (a day, a memory limit) are linear in series and samples/s: said so in the table.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "trading"))

from trading_fixtures import event_stream  # noqa: E402

from tradewatch.devstack import render  # noqa: E402
from tradewatch.devstack.procs import Managed, free_port  # noqa: E402

TRADEWATCH = str(Path(sys.executable).with_name("tradewatch"))
RUN_SECONDS = int(os.environ.get("BENCH_SIZING_SECONDS", "180"))
WARM = 45
CAPS = {"symbols": 150, "strategies": 30, "accounts": 70, "venues": 70}


class Sink(BaseHTTPRequestHandler):
    """A remote_write receiver that only counts bytes (Prometheus sends snappy protobuf)."""

    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with Sink.lock:
            Sink.received += len(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def series_count(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def query(port: int, expr: str) -> float:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as resp:
        result = json.load(resp)["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def exporter(tmp: Path, kind: str, **env: str) -> tuple[Managed, int]:
    port = free_port()
    environ = {"TRADEWATCH_JOURNAL_PATH": str(tmp / f"{kind}-journal"), "TRADEWATCH_LOG_LEVEL": "warning", **env}
    proc = Managed(
        kind,
        [TRADEWATCH, f"{kind}-exporter", "--port", str(port)],
        tmp / f"{kind}.log",
        f"http://127.0.0.1:{port}/metrics",
        env=environ,
    ).start()
    proc.wait_ready()
    return proc, port


def prometheus(tmp: Path, name: str, ports: dict[str, int], sink_port: int) -> tuple[Managed, int]:
    port = free_port()
    home = tmp / name
    (home / "rules").mkdir(parents=True)
    for domain, text in render.render_rule_sources().items():
        (home / "rules" / f"{domain}.yml").write_text(text)
    ports = {"alertmanager": free_port(), **ports, "prometheus": port}
    doc = render.render_prometheus("native", render.NativeOptions(ports=ports))
    doc["remote_write"] = [{"url": f"http://127.0.0.1:{sink_port}/api/v1/write"}]
    (home / "prometheus.yml").write_text(yaml.safe_dump(doc))
    proc = Managed(
        name,
        [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-admin-api",
        ],
        tmp / f"{name}.log",
        f"http://127.0.0.1:{port}/-/ready",
        cwd=home,
    ).start()
    proc.wait_ready()
    return proc, port


def measure(port: int, seconds: int) -> dict[str, float]:
    window = f"[{min(seconds - 30, 120)}s]"
    bytes_before, t_before = Sink.received, time.monotonic()
    time.sleep(seconds)
    out = {
        "head series": query(port, "prometheus_tsdb_head_series"),
        "samples/s": query(port, f"rate(prometheus_tsdb_head_samples_appended_total{window})"),
        "RSS MiB": query(port, 'process_resident_memory_bytes{job="prometheus"}') / 2**20,
        "remote_write KiB/s": (Sink.received - bytes_before) / (time.monotonic() - t_before) / 1024,
        "trading scrape ms": 1000 * query(port, 'max(scrape_duration_seconds{job="trading-exporter"})'),
    }
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/admin/tsdb/snapshot", method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        snap = json.load(resp)["data"]["name"]
    return out | {"snapshot": snap}


def block_bytes_per_sample(data: Path, snap: str) -> float:
    total_bytes = total_samples = 0
    for meta in (data / "snapshots" / snap).glob("*/meta.json"):
        total_samples += json.loads(meta.read_text())["stats"]["numSamples"]
        total_bytes += sum(f.stat().st_size for f in meta.parent.rglob("*") if f.is_file())
    return total_bytes / total_samples if total_samples else float("nan")


def capped_events(n: int) -> list[bytes]:
    """event_stream's mix with the free-form labels spread past every cap."""
    chunks, chunk = [], []
    for i, ev in enumerate(event_stream(n, symbols=CAPS["symbols"])):
        if "strategy" in ev:
            ev["strategy"] = f"strat{i % CAPS['strategies']}"
        if "venue" in ev:
            ev["venue"] = f"venue{i % CAPS['venues']}"
        if "account" in ev:
            ev["account"] = f"acct{i % CAPS['accounts']}"
        chunk.append(ev)
        if len(chunk) == 500:
            chunks.append(orjson.dumps(chunk))
            chunk = []
    return chunks + ([orjson.dumps(chunk)] if chunk else [])


def post(port: int, bodies: list[bytes]) -> None:
    for body in bodies:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/events", body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()


def main() -> None:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    procs: list[Managed] = []
    with tempfile.TemporaryDirectory(prefix="tw-sizing-") as name:
        tmp = Path(name)
        try:
            ports = {}
            for kind in ("system", "trading", "model"):
                proc, ports[f"{kind}-exporter"] = exporter(tmp, kind)
                procs.append(proc)
            url = "http://127.0.0.1:{}"
            sim = Managed(
                "simulate",
                [
                    TRADEWATCH,
                    "simulate",
                    "--speed",
                    "60",
                    "--trading-url",
                    url.format(ports["trading-exporter"]),
                    "--model-url",
                    url.format(ports["model-exporter"]),
                    "--spool-dir",
                    str(tmp / "spool"),
                ],
                tmp / "simulate.log",
            ).start()
            procs.append(sim)
            prom, prom_port = prometheus(tmp, "prometheus", ports, sink.server_port)
            procs.append(prom)
            time.sleep(WARM)
            print("series per exporter at default caps (after a simulated 45 min):")
            for kind in ("system", "trading", "model"):
                print(f"  {kind:8} {series_count(ports[f'{kind}-exporter']):6d}")
            stats = measure(prom_port, RUN_SECONDS)
            bps = block_bytes_per_sample(tmp / "prometheus" / "data", stats.pop("snapshot"))
            print(f"Prometheus 2.42 over {RUN_SECONDS} s at the shipped intervals, all rules loaded:")
            for key, value in stats.items():
                print(f"  {key:20} {value:10.1f}")
            print(f"  {'block bytes/sample':20} {bps:10.2f}")
            per_day = stats["samples/s"] * 86400 * bps / 2**20
            print(f"  {'disk/day MiB (extr.)':20} {per_day:10.1f}")
            for proc in reversed(procs):
                proc.stop()
            procs.clear()

            capped, cap_port = exporter(tmp, "trading", TRADEWATCH_JOURNAL_PATH=str(tmp / "capped-journal"))
            procs.append(capped)
            post(cap_port, capped_events(200_000))
            print(f"trading exporter with every cap overrun {CAPS}: {series_count(cap_port)} series")
            # Nothing listens on the other jobs' ports: only the capped exporter is scraped.
            idle = {k: free_port() for k in ("system-exporter", "model-exporter", "alertmanager")}
            targets = {**idle, "trading-exporter": cap_port}
            prom2, prom2_port = prometheus(tmp, "prometheus-capped", targets, sink.server_port)
            procs.append(prom2)
            capped_stats = measure(prom2_port, max(RUN_SECONDS // 2, 60))
            capped_stats.pop("snapshot")
            print("Prometheus over that one exporter:")
            for key, value in capped_stats.items():
                print(f"  {key:20} {value:10.1f}")
        finally:
            for proc in reversed(procs):
                proc.stop()
            sink.shutdown()


if __name__ == "__main__":
    main()
