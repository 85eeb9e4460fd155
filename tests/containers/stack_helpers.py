"""Helpers of the container tier's stack tests (the fixture is in conftest.py)."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "containers"))
import compose  # noqa: E402

# Every service whose image can exist here (Mailpit as a stand-in); Grafana, Loki and Alloy cannot.
SERVICES = ["mailpit", "alertmanager", "prometheus", "system-exporter", "trading-exporter", "model-exporter",
            "simulator", "report-scheduler", "runbooks"]  # fmt: skip
PROJECT = "twci"
PORT_VARS = ["PROMETHEUS_PORT", "ALERTMANAGER_PORT", "MAILPIT_UI_PORT", "MAILPIT_SMTP_PORT",
             "SYSTEM_EXPORTER_PORT", "TRADING_EXPORTER_PORT", "MODEL_EXPORTER_PORT", "RUNBOOKS_PORT"]  # fmt: skip


def secret_env(directory: Path, given: dict[str, str] | None = None) -> dict[str, str]:
    """The ``*_FILE`` variable of every secret in docker-compose.yml, pointing into ``directory``:
    the contents in ``given`` (by secret name), an empty file ("not configured") for the others."""
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {}
    for name, spec in doc["secrets"].items():
        var = re.fullmatch(r"\$\{(\w+):-[^}]*\}", spec["file"])
        assert var, f"secret {name}: file is not ${{VAR:-default}}: {spec['file']}"
        path = directory / name
        path.write_text((given or {}).get(name, ""))
        path.chmod(0o644)  # readable by the containers' non-root users
        env[var.group(1)] = str(path)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """The running project: its compose Project, published ports and helpers."""

    def __init__(self, project: compose.Project, env: dict[str, str], started: dict[str, float], t0: float):
        self.project, self.env, self.started, self.t0 = project, env, started, t0
        self.client = project.client

    def url(self, port_var: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.env[port_var]}{path}"

    def get_json(self, port_var: str, path: str) -> Any:
        import requests

        r = requests.get(self.url(port_var, path), timeout=10)
        r.raise_for_status()
        return r.json()

    def post_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        import requests

        r = requests.post(self.url("TRADING_EXPORTER_PORT", "/v1/events"), json=events, timeout=10,
                          headers={"Authorization": f"Bearer {self.env['TRADEWATCH_INGEST_TOKEN']}"})  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()

    def slack_messages(self) -> list[dict[str, Any]]:
        out = self.client.containers.get(f"{PROJECT}-slack-standin").exec_run(
            ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/messages"])  # fmt: skip
        return json.loads(out.output)["messages"]

    def mails(self) -> list[dict[str, Any]]:
        return self.get_json("MAILPIT_UI_PORT", "/api/v1/messages")["messages"]


def eventually(check: Any, timeout: float, what: str, interval: float = 2.0) -> Any:
    """Poll ``check()`` until it returns something truthy; fail with ``what`` and the last error."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as exc:  # the service may not answer yet
            last = exc
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout:.0f}s (last: {last!r})")
