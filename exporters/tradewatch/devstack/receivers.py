"""Local stand-ins for the outside world: a Slack-compatible incoming webhook and an SMTP server.

Both record what they receive, with the arrival time, so tests and the alert-latency benchmark
can assert on real notifications sent by a real Alertmanager.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SlackPost:
    path: str
    payload: dict[str, Any]
    received: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        """Everything a person would read: top-level text plus every attachment's title and text."""
        parts = [str(self.payload.get("text", ""))]
        for att in self.payload.get("attachments") or []:
            parts += [str(att.get(k, "")) for k in ("title", "title_link", "text")]
        return "\n".join(parts)


class _Recorder:
    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def _add(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    @property
    def messages(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float) -> Any:
        """The first recorded item matching ``predicate``; TimeoutError naming what arrived instead."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self._items:
                    if predicate(item):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [self._describe(i) for i in self._items][-10:]
                    raise TimeoutError(f"nothing matched within {timeout:.0f}s; received "
                                       f"{len(self._items)}: {seen}")
                self._cond.wait(min(left, 0.5))

    def _describe(self, item: Any) -> str:
        return repr(item)[:200]


class SlackReceiver(_Recorder):
    """HTTP server accepting Slack incoming-webhook posts (JSON) on any path; answers ``ok``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(b"invalid_payload")
                    return
                recorder._add(SlackPost(self.path, payload))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-receiver", daemon=True)

    def start(self) -> SlackReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _describe(self, item: SlackPost) -> str:
        atts = item.payload.get("attachments") or [{}]
        return f"{item.path}: {atts[0].get('title', item.payload.get('text', ''))}"


@dataclass
class Mail:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    received: float = field(default_factory=time.time)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part else ""


class MailCatcher(_Recorder):
    """An aiosmtpd SMTP server on loopback that keeps every message."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__()
        from aiosmtpd.controller import Controller

        from tradewatch.devstack.procs import free_port

        recorder = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
                recorder._add(Mail(envelope.mail_from, list(envelope.rcpt_tos), msg))
                return "250 OK"

        self.host = host
        self.port = port or free_port()
        self._controller = Controller(Handler(), hostname=host, port=self.port)

    @property
    def smarthost(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def _describe(self, item: Mail) -> str:
        return f"{item.envelope_to}: {item.subject}"
