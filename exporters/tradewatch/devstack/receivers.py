"""Local stand-ins for the outside world: a Slack-compatible incoming webhook and an SMTP server.

Both record what they receive, with the arrival time, so tests and the alert-latency benchmark
can assert on real notifications sent by a real Alertmanager. The Slack stand-in is also the dev
stack's web page: ``GET /`` lists the messages received (time, severity, body) and ``GET /docs/...``
serves the repository's docs/, so the runbook links in the alerts resolve.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

# The shipped Slack title reads "[FIRING:1] Name (critical, team trading)" (alertmanager/templates).
_TITLE_SEVERITY = re.compile(r"\((critical|warning|info)\b")
_COLOR_SEVERITY = {"danger": "critical", "warning": "warning", "good": "resolved"}


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

    @property
    def title(self) -> str:
        atts = self.payload.get("attachments") or [{}]
        return str(atts[0].get("title") or self.payload.get("text") or "").strip()

    @property
    def body(self) -> str:
        """The message text without the title (attachment texts, else the top-level text)."""
        texts = [str(a.get("text", "")) for a in self.payload.get("attachments") or [] if a.get("text")]
        return "\n".join(texts).strip() or str(self.payload.get("text", "")).strip()

    @property
    def severity(self) -> str:
        m = _TITLE_SEVERITY.search(self.title)
        if m:
            return m.group(1)
        atts = self.payload.get("attachments") or [{}]
        return _COLOR_SEVERITY.get(str(atts[0].get("color", "")), "")

    @property
    def time_text(self) -> str:
        return datetime.fromtimestamp(self.received, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
                    raise TimeoutError(f"nothing matched within {timeout:.0f}s; received {len(self._items)}: {seen}")
                self._cond.wait(min(left, 0.5))

    def _describe(self, item: Any) -> str:
        return repr(item)[:200]


def send(handler: BaseHTTPRequestHandler, code: int, kind: str, data: bytes) -> None:
    """One whole answer from a stand-in's request handler."""
    handler.send_response(code)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _HttpRecorder(_Recorder):
    """A recorder behind a threaded HTTP server on loopback (``url``, ``port``, start/stop)."""

    def _serve(self, handler: type[BaseHTTPRequestHandler], host: str, port: int, name: str) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SlackReceiver(_HttpRecorder):
    """HTTP server accepting Slack incoming-webhook posts (JSON) on any path; answers ``ok``.

    ``GET /`` is a page of the messages received, newest first; with ``docs_dir``, ``GET /docs/<path>``
    serves that directory (Markdown as plain text, which every browser shows)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, docs_dir: Path | None = None):
        super().__init__()
        recorder = self
        docs = docs_dir.resolve() if docs_dir else None

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                    if not isinstance(payload, dict):
                        raise ValueError("not an object")
                except ValueError:
                    self._send(400, "text/plain", b"invalid_payload")
                    return
                recorder._add(SlackPost(self.path, payload))
                self._send(200, "text/plain", b"ok")

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                if path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", recorder.page().encode())
                elif docs is not None and path.startswith("/docs/"):
                    self._serve_doc(urllib.parse.unquote(path.removeprefix("/docs/")))
                else:
                    self._send(404, "text/plain", b"not found: GET / lists the messages received\n")

            def _serve_doc(self, rel: str) -> None:
                assert docs is not None
                target = (docs / rel).resolve()
                if target.is_relative_to(docs) and target.is_dir():
                    links = "".join(
                        f"<li><a href='{urllib.parse.quote(p.name)}{'/' if p.is_dir() else ''}'>"
                        f"{html.escape(p.name)}</a></li>"
                        for p in sorted(target.iterdir())
                    )
                    self._send(200, "text/html; charset=utf-8", f"<!DOCTYPE html><ul>{links}</ul>".encode())
                    return
                if not target.is_relative_to(docs) or not target.is_file():
                    self._send(404, "text/plain", f"no such document: {rel}\n".encode())
                    return
                kind = (
                    "text/html"
                    if target.suffix == ".html"
                    else ("image/png" if target.suffix == ".png" else "text/plain")
                )
                self._send(200, kind + ("; charset=utf-8" if kind.startswith("text/") else ""), target.read_bytes())

            def _send(self, code: int, kind: str, data: bytes) -> None:
                send(self, code, kind, data)

            def log_message(self, *args: Any) -> None:
                pass

        self._serve(Handler, host, port, "slack-receiver")

    def page(self) -> str:
        """The HTML page of every message received, newest first."""
        rows = []
        for post in reversed(self.messages):
            rows.append(
                f"<tr class='{html.escape(post.severity)}'><td>{html.escape(post.time_text)}</td>"
                f"<td>{html.escape(post.severity or '-')}</td><td><b>{html.escape(post.title)}</b>"
                f"<pre>{html.escape(post.body)}</pre></td></tr>"
            )
        table = (
            ("<table><tr><th>received</th><th>severity</th><th>message</th></tr>" + "".join(rows) + "</table>")
            if rows
            else "<p>No message received yet.</p>"
        )
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='5'>"
            "<title>TradeWatch dev: Slack stand-in</title><style>body{font-family:sans-serif;margin:2em}"
            "td,th{border-bottom:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}"
            "pre{white-space:pre-wrap;margin:.3em 0}.critical td:nth-child(2){color:#c00;font-weight:bold}"
            ".warning td:nth-child(2){color:#b60}</style></head><body>"
            f"<h1>Slack stand-in: {len(self.messages)} message(s)</h1>"
            "<p>What Alertmanager posted to Slack, newest first (refreshes every 5 s). Runbooks: "
            "<a href='/docs/runbooks/'>/docs/runbooks/&lt;Alert&gt;.md</a></p>"
            f"{table}</body></html>"
        )

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
                msg = email.message_from_bytes(
                    envelope.original_content or envelope.content, policy=email.policy.default
                )
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
