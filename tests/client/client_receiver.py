"""A real HTTP receiver on loopback that speaks the exporters' ingest protocol, with knobs for the
failures the client must survive (down, 5xx, 429, 401, 413, slow, per-item rejections)."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.connections: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def drop_connections(self) -> None:
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connections.clear()


class Receiver:
    """POST /v1/events: dedupes event_id, records first-seen order, answers like the exporters."""

    def __init__(self, port: int | None = None, token: str | None = None):
        self.port = port or free_port()
        self.token = token
        self.events: list[dict[str, Any]] = []  # accepted, first-seen order
        self.seen: set[str] = set()
        self.requests: list[int] = []  # events per request, every answered request
        self.attempts: list[float] = []  # monotonic arrival time of every POST, failed ones too
        self.fail_next: list[tuple[int, dict[str, str]]] = []  # (status, headers) queued failures
        self.max_events: int | None = None  # above this per request: 413
        self.delay = 0.0
        self.reject_symbol = "BAD"
        # A request holding an event with this symbol is answered 500 as a whole, the way an exporter
        # bug answers one poisonous event (today: a model token count of 2**64).
        self.poison_symbol = "POISON"
        self.poisoned = 0  # requests answered 500 for it
        self.max_reported: int | None = None  # name at most this many rejections, then rejected_total
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload, headers = receiver.handle(self.path, self.headers, body)
                data = orjson.dumps(payload)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()  # like a dead process: keep-alive sockets go too
            self._server = None

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.attempts.append(time.monotonic())
        if self.delay:
            time.sleep(self.delay)
        if path != "/v1/events":
            return 404, {"error": "not found"}, {}
        if self.token and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}, {}
        with self.lock:
            if self.fail_next:
                status, extra = self.fail_next.pop(0)
                return status, {"error": f"injected {status}"}, extra
        assert headers.get("Content-Type") == "application/x-ndjson"
        items = []
        for line in body.splitlines():
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                items.append({"event_id": None, "symbol": self.reject_symbol})  # rejected on its own
        if self.max_events is not None and len(items) > self.max_events:
            return 413, {"error": "request too large", "reason": "too_many_items"}, {}
        if any(isinstance(e, dict) and e.get("symbol") == self.poison_symbol for e in items):
            with self.lock:
                self.poisoned += 1
            return 500, {"error": "internal server error"}, {}
        accepted = duplicates = 0
        rejected = []
        with self.lock:
            self.requests.append(len(items))
            for i, event in enumerate(items):
                if event.get("symbol") == self.reject_symbol:
                    rejected.append({"index": i, "reason": "invalid_value", "message": "bad symbol"})
                elif event["event_id"] in self.seen:
                    duplicates += 1
                else:
                    self.seen.add(event["event_id"])
                    self.events.append(event)
                    accepted += 1
        body_out: dict[str, Any] = {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}
        if self.max_reported is not None and len(rejected) > self.max_reported:
            body_out["rejected"] = rejected[: self.max_reported]
            body_out["rejected_total"] = len(rejected)
        status = 422 if rejected and not accepted and not duplicates else 202
        return status, body_out, {}


def log_lines(stream: io.BytesIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@contextlib.contextmanager
def captured_logs(service: str = "test", level: str = "debug") -> Iterator[io.BytesIO]:
    """The project's JSON logging into a buffer; the previous configuration is restored after."""
    import structlog

    from tradewatch.core import logging as core_logging
    from tradewatch.core import redact

    root = logging.getLogger()
    saved = (structlog.get_config(), root.handlers[:], root.level, core_logging._service, redact.get_redactor())
    stream = io.BytesIO()
    core_logging.setup(service, level, stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved[0])
        root.handlers[:] = saved[1]
        root.setLevel(saved[2])
        core_logging._service = saved[3]
        redact.set_redactor(saved[4])
