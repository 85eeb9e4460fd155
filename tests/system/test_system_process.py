"""A real `tradewatch system-exporter` process: HTTP, promtool, readiness, watched processes, SIGTERM."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import localservers
import pytest
from hostfixture import FIXTURES, require_binary

from tradewatch.system import settings

http_target = localservers.http_target
OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


@dataclass
class Running:
    proc: subprocess.Popen
    port: int
    log: Path

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def post(self, path: str) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=b"x", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def metrics(self) -> str:
        status, _, body = self.get("/metrics")
        assert status == 200
        return body.decode()


def start(tmp: Path, config: str, env: dict[str, str] | None = None) -> Running:
    port = localservers.free_port()
    path = tmp / "system.yml"
    path.write_text(config)
    log = tmp / "exporter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradewatch", "system-exporter", "--config", str(path), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    running = Running(proc, port, log)
    wait_for(lambda: _answers(running), 30, f"exporter did not start; log:\n{_tail(log)}")
    return running


def _answers(running: Running) -> bool:
    assert running.proc.poll() is None, f"exporter exited early; log:\n{_tail(running.log)}"
    try:
        return running.get("/healthz")[0] == 200
    except OSError:
        return False


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def wait_for(check: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(message)


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, value = line.rsplit(" ", 1)
            got = dict(re.findall(r'(\w+)="([^"]*)"', series))
            if series.split("{")[0] == name and all(got.get(k) == v for k, v in labels.items()):
                return float(value)
    return None


def stop(running: Running) -> None:
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait(10)


@pytest.fixture(scope="module")
def db() -> Iterator[localservers.Listener]:
    listener = localservers.Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def watched() -> Iterator[tuple[subprocess.Popen, str]]:
    marker = f"tw-watched-{uuid.uuid4().hex[:8]}"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
    yield child, marker
    child.kill()
    child.wait()


@pytest.fixture(scope="module")
def exporter(tmp_path_factory, db, watched, http_target) -> Iterator[Running]:
    _, marker = watched
    config = f"""
processes: {{scan_interval: 1s}}
components:
  watch:
    - {{component: watched, cmdline: '{marker}'}}
    - {{component: absent, name: no-such-process-{marker}}}
probes:
  - {{name: db, kind: tcp, target: "{db.target}", interval: 200ms, timeout: 150ms, required: true}}
  - {{name: api, kind: http, target: "{http_target}/ok", interval: 1s, timeout: 500ms}}
"""
    running = start(tmp_path_factory.mktemp("system"), config)
    yield running
    stop(running)


def test_metrics_are_served_and_every_collector_succeeds(exporter):
    wait_for(
        lambda: sample(exporter.metrics(), "tradewatch_probe_success", probe="api") == 1,
        10,
        "the http probe did not report",
    )
    status, headers, body = exporter.get("/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for collector in settings.COLLECTORS:
        assert sample(text, "tradewatch_scrape_collector_success", collector=collector) == 1, collector
    assert sample(text, "tradewatch_host_cpus") == os.cpu_count()
    assert sample(text, "tradewatch_host_filesystem_size_bytes", mountpoint="/") > 0
    assert sample(text, "tradewatch_component_up", component="watched") == 1
    assert sample(text, "tradewatch_component_processes", component="watched") == 1
    assert sample(text, "tradewatch_component_resident_memory_bytes", component="watched") > 1_000_000
    assert sample(text, "tradewatch_component_up", component="absent") == 0
    assert sample(text, "tradewatch_probe_http_status_code", probe="api") == 200
    assert sample(text, "tradewatch_build_info", exporter="system-exporter") == 1


def test_real_output_passes_promtool(exporter):
    promtool = require_binary("promtool")
    body = exporter.get("/metrics")[2]
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_openmetrics_negotiation_and_gzip(exporter):
    status, headers, body = exporter.get("/metrics", Accept=OPENMETRICS)
    assert status == 200 and headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")
    assert b"tradewatch_host_cpu_seconds_total{mode=" in body
    status, headers, body = exporter.get("/metrics", **{"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert b"tradewatch_host_memory_total_bytes" in gzip.decompress(body)


def test_index_health_and_unknown_paths(exporter):
    status, headers, body = exporter.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for link in (b'href="/metrics"', b'href="/healthz"', b'href="/readyz"'):
        assert link in body
    assert exporter.get("/healthz")[0] == 200
    status, _, body = exporter.get("/nope")
    assert status == 404 and json.loads(body)["error"]
    assert exporter.post("/metrics") == 405


def test_readyz_turns_503_while_a_required_probe_fails_and_back(exporter, db):
    def ready() -> int:
        return exporter.get("/readyz")[0]

    wait_for(lambda: ready() == 200, 10, "not ready while the required probe's target listens")
    db.close()
    wait_for(lambda: ready() == 503, 10, "still ready after the required probe's target went away")
    _, headers, body = exporter.get("/readyz")
    assert headers["Content-Type"] == "application/json"
    reasons = json.loads(body)["reasons"]
    assert list(reasons) == ["probe:db"] and "refused" in reasons["probe:db"].lower()
    assert sample(exporter.metrics(), "tradewatch_probe_success", probe="db", kind="tcp") == 0
    db.open()
    wait_for(lambda: ready() == 200, 10, "not ready again after the target came back")
    assert sample(exporter.metrics(), "tradewatch_probe_success", probe="db", kind="tcp") == 1


def test_watched_process_exit_shows_component_down(exporter, watched):
    child, _ = watched
    assert sample(exporter.metrics(), "tradewatch_component_up", component="watched") == 1
    child.kill()
    child.wait()
    wait_for(
        lambda: sample(exporter.metrics(), "tradewatch_component_up", component="watched") == 0,
        10,
        "component still up after its process exited",
    )


def test_unreadable_procfs_fails_readiness_not_the_scrape_then_sigterm_stops_quickly(tmp_path):
    procfs = tmp_path / "proc"
    shutil.copytree(FIXTURES / "procfs", procfs)
    running = start(tmp_path, "{}\n", env={"TRADEWATCH_HOST_PROCFS_PATH": str(procfs)})
    try:
        assert running.get("/readyz")[0] == 200
        (procfs / "stat").rename(procfs / "stat.gone")
        status, _, body = running.get("/readyz")
        assert status == 503 and "procfs" in json.loads(body)["reasons"]
        text = running.metrics()  # collectors fail, the scrape does not
        assert sample(text, "tradewatch_scrape_collector_success", collector="cpu") == 0
        # errors_total is rendered before the collectors run: the failure shows from the next scrape
        assert sample(running.metrics(), "tradewatch_errors_total", kind="collector") >= 1
        (procfs / "stat.gone").rename(procfs / "stat")
        assert running.get("/readyz")[0] == 200
        assert sample(running.metrics(), "tradewatch_host_processes", state="zombie") == 1  # the fake's

        started = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        code = running.proc.wait(timeout=10)
        assert code == 0 and time.monotonic() - started < 5.0
        assert '"event":"exporter stopped"' in running.log.read_text()
    finally:
        stop(running)
