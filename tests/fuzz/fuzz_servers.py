"""A real exporter process on loopback for the fuzz suite, with the helpers its checks need."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

TRADEWATCH = str(Path(sys.executable).with_name("tradewatch"))
# Series that follow the wall clock or the process, not the folded events.
VOLATILE = (
    "_age_seconds",
    "process_",
    "python_",
    "tradewatch_scrape",
    "tradewatch_collector_",
    "tradewatch_journal_",
    "tradewatch_exporter_",
    "tradewatch_build_info",
    "tradewatch_up",
    "tradewatch_last_event",
    "tradewatch_events_duplicate",
    "tradewatch_events_rejected",
    "tradewatch_errors_",  # process lifetime (kind="journal" from 0: its _created is the start time)
    "tradewatch_http_",
    "tradewatch_model_drift",
    "tradewatch_model_dataset",
    "tradewatch_model_feature",
    # outputs of the periodic drift task, like drift itself: when it last ran is not folded state
    "tradewatch_model_multivariate",
    "tradewatch_model_retrain",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Exporter:
    """``tradewatch <name>-exporter`` on 127.0.0.1 with its own journal; stderr kept in a file."""

    def __init__(self, name: str, journal: Path, **env: str):
        self.name = name
        self.journal = journal
        self.env = env
        self.log_path = journal.parent / f"{name}-{journal.name}.log"  # JSON logs (stdout) and stderr
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "TRADEWATCH_JOURNAL_PATH": str(self.journal),
            "TRADEWATCH_LOG_LEVEL": "warning",
            **self.env,
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [TRADEWATCH, f"{self.name}-exporter", "--port", str(self.port)],
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exporter exited: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"{self.name} exporter did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss(self) -> int:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = requests.get(self.url + "/metrics", timeout=10).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        }

    def total(self, name: str, **labels: str) -> float:
        return sum(
            v
            for (n, lab), v in self.samples().items()
            if n == name and all(dict(lab).get(k) == x for k, x in labels.items())
        )

    def state(self) -> dict[Any, float]:
        """The folded state as exported: every series that does not follow the clock."""
        return {k: v for k, v in self.samples().items() if not any(p in k[0] for p in VOLATILE)}

    def post(self, body: bytes, content_type: str = "application/json", **headers: str) -> requests.Response:
        return requests.post(
            self.url + "/v1/events", data=body, timeout=30, headers={"Content-Type": content_type, **headers}
        )
