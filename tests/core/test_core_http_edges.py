"""The HTTP server at its edges: every method and malformed request answers JSON, a backlog that takes
200 simultaneous connects, a per-request deadline against slow clients, and gzip taken whole or refused."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator

import pytest

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, common_settings
from tradewatch.core.http import Response


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    config = cfg.load(
        common_settings(0), None, environ={}, overrides={"http.max_body_bytes": 1 << 20, "http.request_timeout": 1.0}
    )
    exp = Exporter("edge-exporter", config)
    exp.http.route("POST", "/echo", lambda r: Response.json(200, {"bytes": len(r.body), "sha": hash(r.body)}))
    exp.start()
    yield exp
    exp.stop()


def raw(exp: Exporter, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", exp.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW", "get"])
@pytest.mark.parametrize(("path", "allow"), [("/echo", "POST"), ("/metrics", "GET")])
def test_every_other_method_is_a_json_405_with_allow(exporter, method, path, allow):
    status, headers, body = split(
        raw(exporter, f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    )
    assert status == 405 and headers["Allow"] == allow
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error": f"method {method} not allowed"}


def test_head_is_get_without_the_body(exporter):
    for path in ("/healthz", "/readyz", "/metrics"):
        with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as s:
            s.sendall(
                f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        head, _, rest = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), path
        assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b'{"status":"ok"}'), path  # no body after HEAD


def test_a_body_sent_with_an_odd_method_is_not_read_as_the_next_request(exporter):
    smuggled = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = raw(
        exporter,
        b"PATCH /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
        + smuggled
        + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert reply.count(b"HTTP/1.1 ") == 2 and b"no such path" not in reply
    assert reply.startswith(b"HTTP/1.1 405") and b'{"status":"ok"}' in reply


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(120)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nX-Long: " + b"y" * 70000 + b"\r\n\r\n", 431),
        (b'GET / HTTP/9"x\r\n\r\n', 400),
    ],
    ids=["uri-414", "headers-431", "header-line-431", "version-400"],
)
def test_malformed_requests_answer_json(exporter, request_bytes, status):
    got, headers, body = split(raw(exporter, request_bytes))
    assert got == status and headers["Content-Type"] == "application/json"
    assert json.loads(body)["status"] == status


def test_200_simultaneous_connects_are_all_answered(exporter):
    """The standard library's backlog of 5 let 114 of 200 such connects fail here (130 resets elsewhere)."""
    n = 200
    barrier = threading.Barrier(n)
    failures: list[str] = []
    answered: list[int] = []

    def one() -> None:
        barrier.wait()
        try:
            reply = raw(exporter, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
            answered.append(split(reply)[0])
        except OSError as exc:
            failures.append(type(exc).__name__)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and answered == [200] * n


def _trickle(exporter: Exporter, head: bytes, drip: bytes, every: float = 0.2) -> float:
    """Send ``head``, then one byte of ``drip`` every ``every`` s; seconds until the server hangs up."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as s:
        s.sendall(head)
        try:
            for byte in drip:
                s.sendall(bytes([byte]))
                time.sleep(every)
                s.setblocking(False)
                try:
                    if s.recv(1024) == b"":
                        break
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
        except (BrokenPipeError, ConnectionResetError):
            pass
    return time.monotonic() - started


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_slow_client_is_cut_off_at_the_request_deadline(exporter, phase):
    """http.request_timeout=1 s: a client trickling a byte every 0.2 s (each recv well inside the 30 s
    idle timeout) is disconnected after about a second instead of holding a thread for ever."""
    if phase == "headers":
        held = _trickle(exporter, b"POST /echo HTTP/1.1\r\n", b"X-Slow: " + b"z" * 100)
    else:
        held = _trickle(exporter, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", b"z" * 100)
    assert held < 4.0
    assert raw(exporter, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_keep_alive_requests_each_get_their_own_deadline(exporter):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=10)
    try:
        for _ in range(3):  # 1.8 s on one connection (request deadline 1 s), each request quick
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            assert response.status == 200 and response.read() == b'{"status":"ok"}'
            time.sleep(0.6)
    finally:
        conn.close()


def post(exporter: Exporter, body: bytes, encoding: str) -> tuple[int, dict]:
    reply = raw(
        exporter,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Encoding: %s\r\n"
        b"Content-Length: %d\r\n\r\n" % (encoding.encode(), len(body)) + body,
    )
    status, _, payload = split(reply)
    return status, json.loads(payload)


def test_gzip_with_several_members_is_taken_whole(exporter):
    a, b = b'{"type":"a"}\n' * 50, b'{"type":"b"}\n' * 70
    status, payload = post(exporter, gzip.compress(a) + gzip.compress(b), "gzip")
    assert status == 200 and payload == {"bytes": len(a + b), "sha": hash(a + b)}


@pytest.mark.parametrize(
    ("name", "body", "encoding"),
    [
        ("trailing garbage", gzip.compress(b"x" * 100) + b"garbage", "gzip"),
        ("missing CRC and size", gzip.compress(b"x" * 100)[:-8], "gzip"),
        ("truncated deflate", zlib.compress(b"x" * 100)[:-4], "deflate"),
        ("deflate then garbage", zlib.compress(b"x" * 100) + b"\0\0", "deflate"),
        ("second member broken", gzip.compress(b"x" * 100) + gzip.compress(b"y" * 100)[:-3], "gzip"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_damaged_compressed_bodies_are_400_never_a_partial_body(exporter, name, body, encoding):
    status, payload = post(exporter, body, encoding)
    assert status == 400, name
    assert "truncated" in payload["error"] or "trailing" in payload["error"], payload


def test_decompressed_members_together_obey_the_limit(exporter):
    member = gzip.compress(b"\0" * 600_000)
    status, payload = post(exporter, member + member, "gzip")
    assert status == 413 and "exceeds the limit" in payload["error"]
