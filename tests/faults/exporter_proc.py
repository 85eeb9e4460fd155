"""A real exporter process for fault tests: started on a journal, scraped, killed with SIGKILL, restarted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExporterProc:
    """``tradewatch <command>`` on ``journal``; stderr goes to a file (a full pipe would block it)."""

    def __init__(self, journal: Path, command: str = "trading-exporter", log: Path | None = None, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or journal.parent / f"{journal.name}-{command}.log"
        environ = {
            **os.environ,
            "TRADEWATCH_JOURNAL_PATH": str(journal),
            "TRADEWATCH_HTTP_PORT": str(self.port),
            "TRADEWATCH_LOG_LEVEL": "warning",
            **env,
        }
        with open(self.log, "ab") as err:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "tradewatch.cli", command], env=environ, stdout=err, stderr=err
            )
        self.session = requests.Session()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise AssertionError(f"exporter exited {self.p.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if self.session.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("exporter did not start")

    def post(self, events: list[dict[str, Any]], timeout: float = 30) -> requests.Response:
        return self.session.post(
            self.url + "/v1/events",
            data=orjson.dumps(events),
            timeout=timeout,
            headers={"Content-Type": "application/json"},
        )

    def counter(self, name: str) -> float:
        """The sum of a counter over its labels (``name`` without ``_total``)."""
        text = self.session.get(self.url + "/metrics", timeout=10).text
        return sum(
            s.value
            for fam in text_string_to_metric_families(text)
            if fam.name == name
            for s in fam.samples
            if s.name == name + "_total"
        )

    def rss(self) -> int:
        return psutil.Process(self.p.pid).memory_info().rss

    def kill9(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.session.close()


def trading_events(start: int, n: int, run: str = "r") -> list[dict[str, Any]]:
    """``n`` valid trading events with unique ids: heartbeats and market data, stamped now."""
    now = round(time.time(), 3)
    out = []
    for i in range(start, start + n):
        if i % 2:
            out.append(
                {
                    "type": "heartbeat",
                    "ts": now,
                    "event_id": f"{run}-{i}",
                    "component": f"c{i % 7}",
                    "status": "healthy",
                }
            )
        else:
            out.append(
                {
                    "type": "market_data",
                    "ts": now,
                    "event_id": f"{run}-{i}",
                    "symbol": f"S{i % 5}",
                    "exchange_ts": now,
                    "kind": "tick",
                    "price": 100.0 + i % 13,
                }
            )
    return out


def model_events(start: int, n: int, run: str = "r") -> list[dict[str, Any]]:
    """``n`` valid model-exporter predictions with unique ids, stamped now."""
    now = round(time.time(), 3)
    return [
        {
            "type": "prediction",
            "ts": now,
            "event_id": f"{run}-{i}",
            "model": "clf",
            "model_version": "1",
            "prediction_id": f"{run}-p{i}",
            "features": {"x": float(i % 17), "regime": f"r{i % 3}"},
            "predicted": ("up", "down")[i % 2],
            "confidence": 0.5 + (i % 5) / 10,
            "latency_seconds": 0.001,
        }
        for i in range(start, start + n)
    ]
