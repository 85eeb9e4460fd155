"""The real exporter on a full disk: 503 with a reason, /readyz not ready with the reason, back by
itself when space returns, and nothing acknowledged lost across a kill -9."""

from __future__ import annotations

import time

import pytest
from tests.faults.conftest import TinyFS
from tests.faults.exporter_proc import ExporterProc, trading_events


@pytest.mark.parametrize("fsync", ["batch", "always"])
def test_exporter_through_a_full_disk(tiny_fs: TinyFS, fsync):
    journal = tiny_fs.mount / "journal"
    env = {"TRADEWATCH_JOURNAL_FSYNC": fsync, "TRADEWATCH_JOURNAL_SNAPSHOT_EVERY": "0"}
    proc = ExporterProc(journal, log=tiny_fs.mount.parent / "exporter.log", **env)
    acked: list[dict] = []
    try:
        for i in range(5):
            batch = trading_events(i * 100, 100, run="d")
            assert proc.post(batch).status_code == 200
            acked.extend(batch)
        tiny_fs.fill()
        refused = None
        for i in range(5, 40):
            batch = trading_events(i * 100, 100, run="d")
            response = proc.post(batch)
            if response.status_code == 503:
                refused = batch
                break
            assert response.status_code == 200
            acked.extend(batch)
        assert refused is not None, "the disk never filled"
        body = response.json()
        assert body["reason"] == "journal_unavailable" and body["retry"] is True
        assert "No space left on device" in body["error"] and response.headers["Retry-After"]
        ready = proc.session.get(proc.url + "/readyz", timeout=5)
        assert ready.status_code == 503
        assert "No space left on device" in ready.json()["reasons"]["journal"]
        assert proc.post(refused).status_code == 503  # still full: still refused, still nothing kept
        tiny_fs.free()
        deadline = time.monotonic() + 10
        while proc.session.get(proc.url + "/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "readiness did not come back after space returned"
            time.sleep(0.2)
        response = proc.post(refused)
        assert response.status_code == 200 and response.json()["accepted"] == 100
        acked.extend(refused)
    finally:
        proc.kill9()
    proc = ExporterProc(journal, log=tiny_fs.mount.parent / "exporter.log", **env)
    try:
        assert proc.counter("tradewatch_events_accepted") == len(acked)
        body = proc.post(acked).json()
        assert body["accepted"] == 0 and body["duplicates"] == len(acked)
    finally:
        proc.stop()
