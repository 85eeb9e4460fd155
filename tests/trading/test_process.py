"""The real ``tradewatch trading-exporter`` process: kill -9 mid-ingest, snapshots, promtool."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import requests
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import require_binary
from trading_fixtures import event_stream, fold, metric_values

TRADEWATCH = str(Path(sys.executable).with_name("tradewatch"))
WALL_CLOCK = ("tradewatch_market_data_age_seconds", "tradewatch_heartbeat_age_seconds")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, journal: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "TRADEWATCH_JOURNAL_PATH": str(journal),
            "TRADEWATCH_LOG_LEVEL": "warning",
            **env,
        }
        self.p = subprocess.Popen(
            [TRADEWATCH, "trading-exporter", "--port", str(self.port)],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise AssertionError(f"exporter exited: {self.p.stderr.read().decode()}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("exporter did not become ready")

    def scrape(self) -> dict:
        out = {}
        text = requests.get(self.url + "/metrics", timeout=5).text
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            self.p.wait(10)


def accepted(m: dict) -> float:
    return sum(v for (n, _), v in m.items() if n == "tradewatch_events_accepted_total")


def trading_series(m: dict) -> dict:
    """The trading collector's samples, minus the wall-clock ages."""
    prefixes = ("tradewatch_trading_", "tradewatch_market_data_", "tradewatch_heartbeat_")
    return {k: v for k, v in m.items() if k[0].startswith(prefixes) and k[0] not in WALL_CLOCK}


def test_kill_9_mid_ingest_loses_no_acknowledged_event(tmp_path):
    journal = tmp_path / "journal"
    events = list(event_stream(30_000, symbols=12))
    batches = [events[i : i + 500] for i in range(0, len(events), 500)]
    session = requests.Session()

    # A first life that ends cleanly (snapshot), so the crash below replays snapshot + journal tail.
    proc = Proc(journal)
    for batch in batches[:4]:
        assert session.post(proc.url + "/v1/events", data=orjson.dumps(batch), timeout=10).status_code == 200
    proc.stop()
    assert (journal / "snapshot.json").exists()

    proc = Proc(journal)
    acked = 4
    inflight: list[int] = []
    stop = threading.Event()

    def sender() -> None:
        nonlocal acked
        s = requests.Session()
        for i in range(4, len(batches)):
            inflight[:] = [i]
            try:
                r = s.post(proc.url + "/v1/events", data=orjson.dumps(batches[i]), timeout=10)
            except requests.RequestException:
                return
            assert r.status_code == 200 and r.json()["accepted"] == len(batches[i])
            acked = i + 1
            inflight.clear()
            if stop.is_set():
                return

    thread = threading.Thread(target=sender)
    thread.start()
    while acked < 20 and thread.is_alive():
        time.sleep(0.001)
    os.kill(proc.p.pid, signal.SIGKILL)  # mid-ingest: the sender is posting continuously
    proc.p.wait(10)
    stop.set()
    thread.join(10)
    assert acked < len(batches), "the kill should land before every batch was sent"

    proc = Proc(journal)
    try:
        after = proc.scrape()
        acknowledged = acked * 500
        # The in-flight batch was journaled entirely or not at all; it was never acknowledged.
        assert accepted(after) in (acknowledged, acknowledged + 500 * len(inflight))
        # A client retries what was not acknowledged: duplicates are dropped, so totals become exact.
        for i in inflight:
            r = session.post(proc.url + "/v1/events", data=orjson.dumps(batches[i]), timeout=10).json()
            assert r["accepted"] + r["duplicates"] == 500
        total = acked + len(inflight)
        m = proc.scrape()
        assert accepted(m) == total * 500
        expected = trading_series(metric_values(fold(events[: total * 500])))
        got = trading_series(m)
        assert got.keys() == expected.keys()
        diffs = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
        assert not diffs  # exact: equity, HWM, drawdown, realized P&L, every counter and histogram
        assert m[("tradewatch_trading_high_water_mark", (("account", "main"),))] > 0
    finally:
        proc.stop()


def test_snapshot_start_up_replays_nothing(tmp_path):
    journal = tmp_path / "journal"
    events = list(event_stream(5000))
    proc = Proc(journal, TRADEWATCH_JOURNAL_FSYNC="interval")
    r = requests.post(proc.url + "/v1/events", data=orjson.dumps(events), timeout=10)
    assert r.json()["accepted"] == 5000
    before = trading_series(proc.scrape())
    proc.stop()
    proc = Proc(journal)
    try:
        m = proc.scrape()
        assert m[("tradewatch_journal_replayed_events", ())] == 0
        assert m[("tradewatch_journal_events", ())] == 0
        assert accepted(m) == 5000
        assert trading_series(m) == before
    finally:
        proc.stop()


def test_promtool_accepts_the_real_exposition(tmp_path):
    promtool = require_binary("promtool")
    proc = Proc(tmp_path / "journal", TRADEWATCH_JOURNAL_FSYNC="always")  # fsync per event: keep it small
    try:
        r = requests.post(proc.url + "/v1/events", data=orjson.dumps(list(event_stream(300))), timeout=30)
        assert r.json()["accepted"] == 300
        requests.post(proc.url + "/v1/events", data=b"{bad", timeout=10)
        text = requests.get(proc.url + "/metrics", timeout=5).content
    finally:
        proc.stop()
    assert b"tradewatch_trading_equity" in text and b"tradewatch_events_rejected_total" in text
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_print_settings_and_bad_config():
    out = subprocess.run(
        [TRADEWATCH, "trading-exporter", "--print-settings"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0
    for key in ("journal.fsync", "ingest.token_file", "session.timezone", "analytics.periods_per_year"):
        assert f"`{key}`" in out.stdout
    bad = subprocess.run(
        [TRADEWATCH, "trading-exporter", "--check-config"],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            **os.environ,
            "TRADEWATCH_SESSION_TIMEZONE": "Mars/Olympus",
            "TRADEWATCH_JOURNAL_FSYNC": "sometimes",
        },
    )
    assert bad.returncode == 2
    assert "session.timezone" in bad.stderr and "journal.fsync" in bad.stderr


def test_tail_mode_of_the_real_process(tmp_path):
    src = tmp_path / "bot-events.jsonl"
    events = list(event_stream(200))
    src.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events[:150]) + b"not json\n")
    proc = Proc(tmp_path / "journal", TRADEWATCH_TAIL_FILE=str(src), TRADEWATCH_TAIL_POLL_INTERVAL="0.05")
    try:
        with open(src, "ab") as f:
            f.write(b"".join(orjson.dumps(e) + b"\n" for e in events[150:]))
        deadline = time.monotonic() + 10
        while accepted(m := proc.scrape()) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert accepted(m) == 200
        assert m[("tradewatch_events_rejected_total", (("reason", "invalid_json"),))] == 1
        assert trading_series(m) == trading_series(metric_values(fold(events)))
    finally:
        proc.stop()
    assert (tmp_path / "journal" / "tail.offset").exists()
