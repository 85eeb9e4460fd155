"""The exporters' HTTP server: /metrics, /healthz, /readyz, an index page, and extra routes.

A threading server from the standard library is enough: scrapes and ingest batches are few and
large. It speaks HTTP/1.1 keep-alive so a client sending many batches reuses its connection.
A thread per connection, at most ``http.max_connections`` of them; past that, probes of /metrics,
/readyz and /healthz still get an answer and the rest a 503 (:mod:`tradewatch.core.connlimit`).
Every handler error becomes a JSON 500 that is logged and counted; bad input is the route's
business and gets a 4xx from it.
"""

from __future__ import annotations

import gzip
import html
import io
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from prometheus_client.registry import CollectorRegistry

from tradewatch.core import exposition
from tradewatch.core.connlimit import (
    DEFAULT_MAX_CONNECTIONS,
    RESERVED_TIMEOUT,
    ConnectionLimits,
    Triage,
    refuse_busy,
)
from tradewatch.core.correlation import from_headers
from tradewatch.core.health import Readiness, SelfMetrics
from tradewatch.core.logging import correlation, get_logger, json_bytes

log = get_logger("tradewatch.http")

DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_REQUEST_TIMEOUT = 60.0  # seconds for a whole request to arrive, once it has begun


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    client: str = ""


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> Response:
        return cls(status, json_bytes(payload, orjson.OPT_SERIALIZE_NUMPY), "application/json", headers)


Handler = Callable[[Request], Response]


class HTTPError(Exception):
    """Raised by routes for a clean 4xx/5xx with a JSON reason."""

    def __init__(self, status: int, error: str, /, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(error)
        self.status = status
        self.payload = {"error": error, **extra}  # extra may carry a machine-readable "reason"
        self.headers = headers or {}


def decode_body(raw: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding gzip/deflate without letting a small bomb expand past ``limit``.

    Every gzip member is taken (``cat a.gz b.gz`` is one valid gzip stream); a stream cut short (no
    end, no CRC) or followed by anything but another member is a 400, never a silent partial body.
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "deflate"):
        raise HTTPError(415, f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or none")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    parts: list[bytes] = []
    size = 0
    data = raw
    while True:
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, limit + 1 - size)
        except zlib.error as exc:
            raise HTTPError(400, f"body is not valid {encoding} data: {exc}") from None
        size += len(out)
        if size > limit or d.unconsumed_tail:
            raise HTTPError(413, f"decompressed body exceeds the limit of {limit} bytes")
        parts.append(out)
        if not d.eof:
            raise HTTPError(400, f"{encoding} body is truncated (no end of stream or checksum)")
        data = d.unused_data
        if not data:
            break
        if encoding != "gzip" or not data.startswith(b"\x1f\x8b"):
            raise HTTPError(400, f"{len(data)} bytes of trailing data after the {encoding} stream")
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _DeadlineReader(io.RawIOBase):
    """The receiving side of a connection. Each recv waits at most ``idle`` seconds (an idle
    keep-alive connection is closed), and once a request has begun arriving, the whole request (line,
    headers, body) must be in within ``budget`` seconds: a client trickling a byte now and then
    (slowloris) cannot hold a thread for ever."""

    def __init__(self, sock: Any, idle: float, budget: float):
        self.sock = sock
        self.idle = idle
        self.budget = budget
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        timeout = self.idle
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"request not received within {self.budget:g} s")
            timeout = min(timeout, left)
        self.sock.settimeout(timeout)
        n = self.sock.recv_into(buffer)
        if n and self.deadline is None:
            self.deadline = time.monotonic() + self.budget
        return n

    def request_read(self) -> None:
        """The request is in: the next one gets its own deadline; sending waits up to ``idle``."""
        self.deadline = None
        self.sock.settimeout(self.idle)


class _QuietServer(ThreadingHTTPServer):
    """socketserver prints a traceback to stderr for every connection error; a client that hangs up
    mid-request is routine, so those go to the debug log and anything else to the JSON log."""

    # The standard library listens with a backlog of 5: 200 simultaneous connects got 130 resets.
    # The kernel caps it at net.core.somaxconn (4096 on current kernels).
    request_queue_size = 1024
    limits: ConnectionLimits
    triage: Triage | None = None
    reserved_handler: Any = None

    def process_request(self, request: Any, client_address: Any) -> None:
        # Replaces ThreadingMixIn's thread per connection, unbounded, with a bounded one: over
        # http.max_connections, the triage thread decides (tradewatch.core.connlimit).
        if self.limits.acquire("general"):
            self._spawn(request, client_address, "general", self.RequestHandlerClass)
        elif self.triage is not None:
            self.triage.add(request, client_address)
        else:
            self.limits.refuse("busy")
            refuse_busy(request)

    def serve_reserved(self, request: Any, client_address: Any) -> None:
        self._spawn(request, client_address, "reserved", self.reserved_handler)

    def _spawn(self, request: Any, client_address: Any, pool: str, handler: Any) -> None:
        try:
            threading.Thread(target=self._serve, args=(request, client_address, pool, handler), daemon=True).start()
        except RuntimeError:  # the process cannot start another thread: as if over the limit
            self.limits.release(pool)
            self.limits.refuse("busy")
            refuse_busy(request)

    def _serve(self, request: Any, client_address: Any, pool: str, handler: Any) -> None:
        try:
            handler(request, client_address, self)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.limits.release(pool)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("client connection dropped", client=str(client_address[0]), error=str(exc))
        else:
            log.error("connection handler failed", client=str(client_address[0]), error=str(exc), exc_info=True)


class ExporterHTTPServer:
    """Serves the standard endpoints of one exporter plus the routes it adds."""

    def __init__(
        self,
        name: str,
        registry: CollectorRegistry,
        readiness: Readiness,
        self_metrics: SelfMetrics,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ):
        self.name = name
        # Registered by the exporter (tradewatch_http_* connection metrics).
        self.connections = ConnectionLimits(max_connections)
        self.request_timeout = request_timeout
        self.registry = registry
        self.readiness = readiness
        self.self_metrics = self_metrics
        self.max_body_bytes = max_body_bytes
        self.routes: dict[tuple[str, str], Handler] = {}
        self.links: list[tuple[str, str]] = [
            ("/metrics", "metrics"),
            ("/healthz", "liveness"),
            ("/readyz", "readiness"),
        ]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._inflight = 0
        self._inflight_lock = threading.Condition()
        # Called with the request path when a body is refused with 413 (ingest counts it as too_large).
        self.on_too_large: Callable[[str], None] | None = None

    # ------------------------------------------------------------------ routes
    def route(self, method: str, path: str, handler: Handler, *, describe: str | None = None) -> None:
        self.routes[(method.upper(), path)] = handler
        if describe:
            self.links.append((path, describe))

    def _dispatch(self, request: Request) -> Response:
        # HEAD is GET without the body (which _send leaves out): load balancers probe with it.
        method = "GET" if request.method == "HEAD" else request.method
        if method == "GET" and request.path == "/metrics":
            return self._metrics(request)
        if method == "GET" and request.path == "/healthz":
            return Response.json(200, {"status": "ok"})
        if method == "GET" and request.path == "/readyz":
            ok, reasons = self.readiness.status()
            if ok:
                return Response.json(200, {"status": "ready"})
            return Response.json(503, {"status": "unready", "reasons": reasons})
        if method == "GET" and request.path == "/":
            return self._index()
        handler = self.routes.get((method, request.path))
        if handler is None:
            allowed = sorted(m for (m, p) in self.routes if p == request.path)
            if allowed or request.path in ("/metrics", "/healthz", "/readyz", "/"):
                return Response.json(
                    405, {"error": f"method {request.method} not allowed"}, Allow=", ".join(allowed or ["GET"])
                )
            return Response.json(404, {"error": f"no such path {request.path}"})
        return handler(request)

    def _metrics(self, request: Request) -> Response:
        body, content_type = exposition.expose(self.registry, request.headers.get("accept", ""))
        headers = {}
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return Response(200, body, content_type, headers)

    def _index(self) -> Response:
        items = "".join(
            f'<li><a href="{html.escape(p)}">{html.escape(p)}</a> ({html.escape(d)})</li>' for p, d in self.links
        )
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>TradeWatch {html.escape(self.name)}"
            f"</title></head><body><h1>TradeWatch {html.escape(self.name)}</h1><ul>{items}</ul></body></html>"
        )
        return Response(200, page.encode(), "text/html; charset=utf-8")

    # ------------------------------------------------------------------ serving
    def start(self, address: str, port: int) -> int:
        """Bind and serve in a background thread; return the bound port."""
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (~40 ms per keep-alive request).
            disable_nagle_algorithm = True
            server_version = "TradeWatch"
            sys_version = ""
            timeout = 30  # idle keep-alive connections do not pin a thread forever
            reserved = False  # a probe served past http.max_connections: one request, short deadlines

            def log_message(self, fmt: str, *args: Any) -> None:  # access logs at debug only
                pass

            def setup(self) -> None:
                super().setup()
                self.rfile.close()  # replaced by a reader that enforces the per-request deadline
                if self.reserved:
                    idle, budget = RESERVED_TIMEOUT, min(outer.request_timeout, RESERVED_TIMEOUT)
                else:
                    idle, budget = self.timeout, outer.request_timeout
                self._reader = _DeadlineReader(self.connection, idle, budget)
                self.rfile = io.BufferedReader(self._reader)

            def __getattr__(self, name: str) -> Any:
                # Any method (PATCH, OPTIONS, TRACE, CONNECT, made-up ones) gets the routing answer,
                # a JSON 405 with Allow (or 404), not the standard library's 501 HTML page.
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # The standard library answers a malformed request (400, 414, 431, ...) with HTML.
                short = self.responses.get(code, ("Error", ""))[0]
                body = json_bytes({"error": message or short, "status": code})
                self.close_connection = True
                if self.request_version == "HTTP/0.9":  # an unparseable version: answer with a status line
                    self.request_version = "HTTP/1.0"
                try:
                    self.send_response(code, short)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _handle(self) -> None:
                if self.reserved:
                    self.close_connection = True
                outer._enter()
                try:
                    self._serve_one()
                finally:
                    outer._leave()

            def _serve_one(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                # Every log line of this request carries its correlation ID (the client's, or a new one).
                with correlation(from_headers(headers)) as cid:
                    self._serve_correlated(headers, cid)

            def _serve_correlated(self, headers: dict[str, str], cid: str) -> None:
                start = time.perf_counter()
                split = urlsplit(self.path)
                try:
                    try:
                        body = self._read_body(headers)
                    except (ConnectionError, TimeoutError) as exc:
                        # The client went away (or trickled past the deadline) before its body was in.
                        self.close_connection = True
                        log.debug("client dropped before its body arrived", path=split.path, error=str(exc))
                        return
                    except HTTPError as exc:
                        if exc.status == 413 and outer.on_too_large is not None:
                            outer.on_too_large(split.path)
                        raise
                    self._reader.request_read()
                    request = Request(
                        self.command,
                        split.path,
                        parse_qs(split.query),
                        headers,
                        body,
                        self.client_address[0] if self.client_address else "",
                    )
                    response = outer._dispatch(request)
                except HTTPError as exc:
                    response = Response.json(exc.status, exc.payload, **exc.headers)
                    if exc.status in (400, 411, 413):  # the body may not have been read: stop here
                        self.close_connection = True
                except Exception as exc:
                    outer.self_metrics.errors.labels("http_handler").inc()
                    log.error(
                        "request handler failed", path=split.path, method=self.command, error=str(exc), exc_info=True
                    )
                    response = Response.json(500, {"error": "internal error; see the exporter log"})
                response.headers.setdefault("X-Correlation-ID", cid)
                self._send(response)
                log.debug(
                    "http request",
                    method=self.command,
                    path=split.path,
                    status=response.status,
                    duration_seconds=round(time.perf_counter() - start, 6),
                )

            def _read_body(self, headers: dict[str, str]) -> bytes:
                # Whatever the method, a body is read (or refused), so it is never taken for the
                # next request on the connection.
                if "content-length" not in headers and "transfer-encoding" not in headers:
                    return b""
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    raise HTTPError(411, "chunked bodies are not accepted; send Content-Length")
                try:
                    length = int(headers.get("content-length", "0"))
                except ValueError:
                    raise HTTPError(400, "invalid Content-Length") from None
                if length < 0:
                    raise HTTPError(400, "invalid Content-Length")
                if length > outer.max_body_bytes:
                    raise HTTPError(
                        413,
                        f"body of {length} bytes exceeds the limit of {outer.max_body_bytes} bytes",
                        limit_bytes=outer.max_body_bytes,
                    )
                raw = self.rfile.read(length) if length else b""
                if len(raw) != length:
                    raise HTTPError(400, "body shorter than Content-Length")
                return decode_body(raw, headers.get("content-encoding", ""), outer.max_body_bytes)

            def _send(self, response: Response) -> None:
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type)
                    self.send_header("Content-Length", str(len(response.body)))
                    for k, v in response.headers.items():
                        self.send_header(k, v)
                    if self.close_connection:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        server = _QuietServer((address, port), _Handler)
        server.daemon_threads = True
        server.limits = self.connections
        server.reserved_handler = type("_ReservedHandler", (_Handler,), {"reserved": True})
        server.triage = Triage(self.connections, server.serve_reserved, self.connections.max["general"])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=f"{self.name}-http", daemon=True)
        self._thread.start()
        return server.server_address[1]

    def _enter(self) -> None:
        with self._inflight_lock:
            self._inflight += 1

    def _leave(self) -> None:
        with self._inflight_lock:
            self._inflight -= 1
            self._inflight_lock.notify_all()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop accepting, then wait (bounded) for requests in flight to be answered."""
        if self._server is None:
            return
        self._server.shutdown()
        if self._server.triage is not None:
            self._server.triage.stop()
        deadline = time.monotonic() + timeout
        with self._inflight_lock:
            while self._inflight > 0 and time.monotonic() < deadline:
                self._inflight_lock.wait(max(0.0, deadline - time.monotonic()))
        self._server.server_close()
        self._server = None
