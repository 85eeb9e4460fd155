"""Fixtures for the report tests: a real Prometheus serving a backfilled trading day, and a real
SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import backfill
from report_helpers import BackfilledPrometheus, Inbox, free_port, require_binary, start_prometheus


@pytest.fixture(scope="session")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    promtool = require_binary("promtool")
    require_binary("prometheus")
    work = tmp_path_factory.mktemp("prom-backfill")
    om = work / "day.om"
    expected = backfill.write(om)
    data = work / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
        check=True,
        capture_output=True,
    )
    proc, url = start_prometheus(data, work)
    try:
        yield BackfilledPrometheus(url, expected)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    inbox = Inbox("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            inbox.envelopes.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
