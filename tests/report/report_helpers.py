"""Helpers of the report tests (a module with a unique name: ``conftest`` is ambiguous across
test directories)."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import requests
from tests.conftest import require_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BackfilledPrometheus:
    url: str
    expected: dict[str, float]


def start_prometheus(data_dir: Path, work: Path) -> tuple[subprocess.Popen, str]:
    prometheus = require_binary("prometheus")
    port = free_port()
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n", encoding="utf-8")
    log = open(work / "prometheus.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}")
        try:
            if requests.get(url + "/-/ready", timeout=1).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("prometheus did not become ready")


@dataclass
class Inbox:
    host: str
    port: int
    envelopes: list = field(default_factory=list)

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]

    def wait(self, n: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages()
