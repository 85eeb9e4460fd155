"""A local stand-in for the paging and chat services Alertmanager calls: PagerDuty's Events API v2,
Opsgenie's Alert API, Telegram's Bot API, a generic webhook and a heartbeat (dead man's switch)
service. It records every request (method, path, headers, body) with its arrival time and answers
each the way the real service does, so a real Alertmanager counts its notifications as delivered.

Paths (the channel's URL in Alertmanager points at ``<url>/<channel>``):

* ``/pagerduty/v2/enqueue``: answers 202 ``{"status": "success", "dedup_key": ...}``
* ``/opsgenie/v2/alerts`` and ``/opsgenie/v2/alerts/<alias>/close``: answers 202 with a request id
* ``/telegram/bot<token>/sendMessage``: answers ``{"ok": true, "result": <message>}``
* ``/webhook/...`` and ``/heartbeat/...`` (GET or POST): answers 200 ``OK``
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tradewatch.devstack.receivers import _HttpRecorder, send

#: channel -> the path Alertmanager's config for that channel is pointed at (tests, dev stack).
API_PATHS = {
    "pagerduty": "/pagerduty/v2/enqueue",
    "opsgenie": "/opsgenie/",
    "telegram": "/telegram",
    "webhook": "/webhook/alerts",
    "heartbeat": "/heartbeat/ping",
}
_MAX_BODY = 1 << 20


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received: float = field(default_factory=time.time)

    @property
    def channel(self) -> str:
        return self.path.lstrip("/").split("/", 1)[0]

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ServiceStandIn(_HttpRecorder):
    """HTTP server on loopback recording requests for every channel (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__()
        #: channels answered with a 500 (to test how a failing service is reported)
        self.failing: set[str] = set()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._send(413, {"error": "body too large"})
                    return
                body = self.rfile.read(length)
                path = urllib.parse.urlsplit(self.path).path
                req = Request(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body)
                code, answer = recorder.answer(req)
                if code < 400:
                    recorder._add(req)
                self._send(code, answer)

            do_GET = do_POST = _handle

            def _send(self, code: int, answer: Any) -> None:
                if isinstance(answer, str):
                    send(self, code, "text/plain", answer.encode())
                else:
                    send(self, code, "application/json", json.dumps(answer).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._serve(Handler, host, port, "service-standin")

    def api_url(self, channel: str) -> str:
        return self.url + API_PATHS[channel]

    def answer(self, req: Request) -> tuple[int, Any]:
        """The real service's answer to ``req`` (status, JSON or text body)."""
        channel = req.channel
        if channel in self.failing:
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error (stand-in failing)"}
        try:
            payload = req.json if req.method == "POST" and channel in ("pagerduty", "opsgenie", "telegram") else None
        except ValueError:
            return 400, {"status": "invalid", "message": "Event object is invalid"}
        if channel == "pagerduty":
            return 202, {"status": "success", "message": "Event processed", "dedup_key": payload.get("dedup_key")}
        if channel == "opsgenie":
            return 202, {"result": "Request will be processed", "took": 0.01, "requestId": f"req-{len(self.messages)}"}
        if channel == "telegram":
            try:  # Alertmanager sends the chat id as a string; Telegram answers it as a number
                chat_id = int(payload.get("chat_id"))
            except (TypeError, ValueError):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            chat = {"id": chat_id, "type": "group", "title": "TradeWatch stand-in"}
            message = {"message_id": len(self.messages) + 1, "date": int(time.time()), "chat": chat}
            return 200, {"ok": True, "result": {**message, "text": payload.get("text", "")}}
        if channel in ("webhook", "heartbeat"):
            return 200, "OK"
        return 404, "unknown channel: /pagerduty, /opsgenie, /telegram, /webhook or /heartbeat\n"

    def of(self, channel: str) -> list[Request]:
        return [r for r in self.messages if r.channel == channel]

    def _describe(self, item: Request) -> str:
        return f"{item.method} {item.path} {item.body[:120]!r}"


#: What the dev stack writes as the stand-in's "secrets" (dummy keys; URLs point at the stand-in).
DUMMY_SECRETS = {
    "pagerduty_routing_key": "dev0standin0routing0key000000000",
    "opsgenie_api_key": "dev-standin-opsgenie-key",
    "telegram_bot_token": "100000:dev-standin-token",
    "telegram_chat_id": "-1000000000001",
}


def channel_config(
    standin: ServiceStandIn | None, directory: Path, real: dict[str, Path]
) -> tuple[dict[str, str], dict[str, str]]:
    """(secret name -> file, channel -> API URL) for a native Alertmanager: every channel the
    stand-in plays (files written in ``directory``), then the ``real`` secret files on top (those
    channels go to the real service)."""
    from tradewatch.devstack.channels import CHANNELS, read_secret

    files: dict[str, str] = {}
    urls: dict[str, str] = {}
    if standin is not None:
        values = {
            **DUMMY_SECRETS,
            "alert_webhook_url": standin.api_url("webhook"),
            "heartbeat_url": standin.api_url("heartbeat"),
        }
        for name, value in values.items():
            path = directory / name
            path.write_text(value)  # no trailing newline: Alertmanager 0.25 would keep it
            files[name] = str(path)
        urls = {c: standin.api_url(c) for c in ("pagerduty", "opsgenie", "telegram")}
    for channel in CHANNELS:
        given = [real[s] for s in channel.secrets if s in real and read_secret(real[s])]
        if channel.name != "slack" and len(given) == len(channel.secrets):
            files.update({s: str(real[s]) for s in channel.secrets})
            urls.pop(channel.name, None)
    return files, urls


def describe(req: Request) -> str:
    """One line for the dev stack's console: channel, what it is, the alert."""
    body = req.json if req.body.startswith(b"{") else {}
    if req.channel == "pagerduty":
        summary = body.get("payload", {}).get("summary", "")
        return f"{body.get('event_action')} {summary} (dedup_key {str(body.get('dedup_key'))[:12]}...)"
    if req.channel == "opsgenie":
        return f"{'close' if req.path.endswith('/close') else 'create'} {body.get('message', req.path)}"
    if req.channel == "telegram":
        return str(body.get("text", "")).splitlines()[0] if body.get("text") else req.path
    if req.channel in ("webhook", "heartbeat"):
        names = sorted({a.get("labels", {}).get("alertname", "") for a in body.get("alerts", [])})
        return f"{req.method} {body.get('status', '')} {', '.join(names)}"
    return f"{req.method} {req.path}"
