"""The exporter HTTP server: body limits, compressed bodies, routing errors, handler failures."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import zlib
from collections.abc import Iterator

import pytest
from prometheus_client.core import GaugeMetricFamily

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, common_settings
from tradewatch.core.http import HTTPError, Request, Response

LIMIT = 4096


class _Gauges:
    def collect(self):
        g = GaugeMetricFamily("demo_temperature_celsius", "A gauge.", labels=["room"])
        g.add_metric(['say "hi"\\n'], 21.5)
        return [g]


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    config = cfg.load(common_settings(0), None, environ={}, overrides={"http.max_body_bytes": LIMIT})
    exp = Exporter("test-exporter", config)
    exp.add_collector("demo", _Gauges())

    def echo(request: Request) -> Response:
        return Response.json(200, {"bytes": len(request.body)})

    def refuse(request: Request) -> Response:
        raise HTTPError(422, "nothing valid", rejected=[{"index": 0}])

    def crash(request: Request) -> Response:
        raise RuntimeError("bug with password=hunter2")

    exp.http.route("POST", "/echo", echo, describe="echo")
    exp.http.route("POST", "/refuse", refuse)
    exp.http.route("GET", "/crash", crash)
    exp.start()
    yield exp
    exp.stop()


def request(exp: Exporter, method: str, path: str, body: bytes | None = None, **headers: str):
    conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        conn.close()


def test_body_larger_than_the_limit_is_413_without_reading_it(exporter):
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        chunks = []
        while chunk := s.recv(65536):  # the server closes the connection after a 413
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
    assert reply.startswith("HTTP/1.1 413")
    assert '"limit_bytes":4096' in reply and "Connection: close" in reply


def test_gzip_and_deflate_request_bodies_are_decoded(exporter):
    payload = b'{"type":"heartbeat"}' * 10
    for encoding, compress in (("gzip", gzip.compress), ("deflate", zlib.compress)):
        status, _, body = request(exporter, "POST", "/echo", compress(payload), **{"Content-Encoding": encoding})
        assert status == 200 and json.loads(body)["bytes"] == len(payload), encoding


def test_compressed_body_expanding_past_the_limit_is_413(exporter):
    bomb = gzip.compress(b"\0" * (LIMIT * 50))
    assert len(bomb) < LIMIT
    status, _, body = request(exporter, "POST", "/echo", bomb, **{"Content-Encoding": "gzip"})
    assert status == 413 and "decompressed body exceeds" in json.loads(body)["error"]


def test_bad_encodings(exporter):
    assert request(exporter, "POST", "/echo", b"xx", **{"Content-Encoding": "br"})[0] == 415
    assert request(exporter, "POST", "/echo", b"not gzip", **{"Content-Encoding": "gzip"})[0] == 400


def test_404_405_and_route_errors(exporter):
    status, _, body = request(exporter, "GET", "/nope")
    assert status == 404 and json.loads(body) == {"error": "no such path /nope"}
    status, headers, _ = request(exporter, "GET", "/echo")
    assert status == 405 and headers["Allow"] == "POST"
    status, headers, _ = request(exporter, "POST", "/metrics", b"")
    assert status == 405 and headers["Allow"] == "GET"
    status, _, body = request(exporter, "POST", "/refuse", b"{}")
    assert status == 422 and json.loads(body) == {"error": "nothing valid", "rejected": [{"index": 0}]}


def test_handler_crash_is_a_counted_json_500(exporter):
    def errors() -> float:
        return exporter.registry.get_sample_value("tradewatch_errors_total", {"kind": "http_handler"}) or 0.0

    before = errors()
    status, _, body = request(exporter, "GET", "/crash")
    assert status == 500 and "hunter2" not in body.decode()
    assert json.loads(body)["error"].startswith("internal error")
    assert errors() == before + 1


def test_client_resetting_mid_body_is_not_an_error(exporter, capfd):
    """A client that hangs up before its body arrives is routine: no 500, no count, no traceback."""
    import struct
    import time

    def errors() -> float:
        return exporter.registry.get_sample_value("tradewatch_errors_total", {"kind": "http_handler"}) or 0.0

    before = errors()
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", exporter.port), timeout=5)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
        sock.close()
    time.sleep(0.3)
    assert request(exporter, "GET", "/healthz")[0] == 200
    assert errors() == before
    assert "Traceback" not in capfd.readouterr().err


def test_keep_alive_serves_several_requests_on_one_connection(exporter):
    conn = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}
    finally:
        conn.close()


def test_metrics_formats_and_label_escaping(exporter):
    status, headers, body = request(exporter, "GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b'demo_temperature_celsius{room="say \\"hi\\"\\\\n"} 21.5' in body
    status, headers, body = request(exporter, "GET", "/metrics", Accept="application/openmetrics-text;version=1.0.0")
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n") and b"demo_temperature_celsius{" in body
    _, _, index = request(exporter, "GET", "/")
    assert b'href="/echo"' in index
