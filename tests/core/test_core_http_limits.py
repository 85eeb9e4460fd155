"""http.max_connections on real sockets: a flood of idle connections holds no more than the limit of
threads, the rest are refused cheaply (503 + Retry-After, or closed when they say nothing), and
/metrics, /readyz and /healthz still answer past the limit."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from coretools import json_logs
from prometheus_client.parser import text_string_to_metric_families

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, common_settings
from tradewatch.core.connlimit import RESERVED_CONNECTIONS, TRIAGE_SECONDS, classify
from tradewatch.core.http import Response

LIMIT = 16


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    config = cfg.load(common_settings(0), None, environ={"TRADEWATCH_HTTP_MAX_CONNECTIONS": str(LIMIT)})
    exp = Exporter("limit-exporter", config)
    exp.http.route("POST", "/echo", lambda r: Response.json(200, {"bytes": len(r.body)}))
    exp.start()
    yield exp
    exp.stop()


def connect(exp: Exporter) -> socket.socket:
    return socket.create_connection(("127.0.0.1", exp.port), timeout=10)


def ask(exp: Exporter, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(exp) as s:
        s.sendall(request)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), dict(line.split(": ", 1) for line in lines[1:]), body


def get(exp: Exporter, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return ask(exp, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def refused(exp: Exporter) -> dict[str, float]:
    _, _, body = get(exp, "/metrics")
    return {
        s.labels["reason"]: s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
        if s.name == "tradewatch_http_connections_refused_total"
    }


def test_classify_reads_only_the_request_line_start():
    assert classify(b"GET /metrics HTTP/1.1\r\n") == "probe"
    assert classify(b"HEAD /readyz?x=1 HTTP/1.1") == "probe"
    assert classify(b"GET /healthz ") == "probe"
    assert classify(b"GET /met") == classify(b"G") == classify(b"GET /metrics") == "more"
    assert classify(b"GET /metricsx HTTP/1.1") == classify(b"POST /v1/events") == "other"
    assert classify(b"GET / HTTP/1.1") == classify(b"\x16\x03\x01") == "other"


def test_a_flood_of_idle_connections_is_bounded_and_prometheus_still_scrapes(exporter):
    threads_before = threading.active_count()
    flood = [connect(exporter) for _ in range(400)]
    try:
        wait_for(lambda: exporter.http.connections.open["general"] == LIMIT)
        peak_threads = threading.active_count()
        # Scrapes, probes and HEAD past the limit: served on the reserved places.
        status, headers, body = get(exporter, "/metrics")
        assert status == 200 and b"tradewatch_http_open_connections" in body
        assert headers["Connection"] == "close"
        assert get(exporter, "/readyz")[0] == 200 and get(exporter, "/healthz", "HEAD")[0] == 200
        # Anything else: a cheap 503 that says when to come back.
        status, headers, body = ask(exporter, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        assert status == 503 and headers["Retry-After"] == "1" and headers["Connection"] == "close"
        assert json.loads(body)["reason"] == "overloaded"
        counts = refused(exporter)
        assert counts["busy"] == 1
        # 400 - LIMIT wait in triage, which holds LIMIT of them: the oldest made room for the rest.
        assert counts["evicted"] + counts["silent"] >= 400 - 2 * LIMIT  # (silent: had it taken over 2 s)
        assert peak_threads - threads_before <= LIMIT + 2  # one per served connection, plus triage
    finally:
        for s in flood:
            s.close()
    wait_for(lambda: exporter.http.connections.open == {"general": 0, "reserved": 0})
    again = b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    assert ask(exporter, again)[0] == 200


def test_past_the_limit_silence_is_closed_and_a_split_probe_line_still_served(exporter):
    flood = [connect(exporter) for _ in range(LIMIT)]
    try:
        wait_for(lambda: exporter.http.connections.open["general"] == LIMIT)
        silent, trickle, split = connect(exporter), connect(exporter), connect(exporter)
        trickle.sendall(b"GET /met")  # could still be a scrape: waits, then is closed like silence
        split.sendall(b"GET /metr")
        time.sleep(0.3)
        split.sendall(b"ics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert split.recv(12) == b"HTTP/1.1 200"
        started = time.monotonic()
        assert silent.recv(10) == b"" and trickle.recv(10) == b""  # closed by the server, no answer
        assert time.monotonic() - started < TRIAGE_SECONDS + 1
        assert refused(exporter)["silent"] == 2
        for s in (silent, trickle, split):
            s.close()
    finally:
        for s in flood:
            s.close()


def test_the_reserved_places_are_bounded_too(exporter):
    flood = [connect(exporter) for _ in range(LIMIT)]
    probes = []
    try:
        wait_for(lambda: exporter.http.connections.open["general"] == LIMIT)
        for _ in range(RESERVED_CONNECTIONS):  # scrapes that send their line but not the end of headers
            s = connect(exporter)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            probes.append(s)
        wait_for(lambda: exporter.http.connections.open["reserved"] == RESERVED_CONNECTIONS)
        with json_logs(level="warning") as logs:
            for _ in range(3):
                status, headers, _ = get(exporter, "/readyz")
                assert status == 503 and headers["Retry-After"] == "1"
        # Logged, but a flood is one warning per 10 s, not a line per connection.
        (line,) = [x for x in logs.lines() if x["event"] == "connections refused past http.max_connections"]
        assert line["open"] == {"general": LIMIT, "reserved": RESERVED_CONNECTIONS}
    finally:
        for s in flood + probes:
            s.close()


@pytest.mark.parametrize("value", ["0", "-3", "lots", "1.5"])
def test_max_connections_is_validated_at_start_up(value):
    with pytest.raises(cfg.ConfigError, match=r"http\.max_connections"):
        cfg.load(common_settings(0), None, environ={"TRADEWATCH_HTTP_MAX_CONNECTIONS": value})


def test_check_config_shows_max_connections():
    out = subprocess.run(
        [sys.executable, "-m", "tradewatch", "system-exporter", "--check-config"],
        capture_output=True,
        text=True,
        env={"TRADEWATCH_HTTP_MAX_CONNECTIONS": "64", "PATH": ""},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["http.max_connections"] == 64
