"""Stand-in receivers for the container tier (stdlib + Debian's python3-aiosmtpd).

  standins.py mailpit [readyz]   SMTP on :1025, HTTP on :8025 (GET /api/v1/messages like Mailpit's
                                 list: {"total": n, "messages": [{"Subject", "From", "To", "Text"}]},
                                 GET /readyz); `readyz` asks a running one, as `/mailpit readyz` does.
  standins.py slack              HTTP on :8080: POST any path stores the JSON body (an incoming webhook);
                                 GET /messages lists them, GET /healthz answers 200.
Memory stays bounded: the newest 1000 messages are kept.
"""

from __future__ import annotations

import collections
import email
import email.policy
import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MESSAGES: collections.deque = collections.deque(maxlen=1000)
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path in ("/readyz", "/healthz"):
            self._reply(200, {"ok": True})
        elif self.path.startswith(("/api/v1/messages", "/messages")):
            with LOCK:
                items = list(MESSAGES)
            self._reply(200, {"total": len(items), "messages": items})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._reply(400, {"error": "not JSON"})
            return
        with LOCK:
            MESSAGES.append({"path": self.path, "body": body})
        self._reply(200, {"ok": True})

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write("standin: " + fmt % args + "\n")


class Mailbox:
    async def handle_DATA(self, server, session, envelope) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        with LOCK:
            MESSAGES.append(
                {
                    "Subject": str(msg["Subject"] or ""),
                    "From": envelope.mail_from,
                    "To": list(envelope.rcpt_tos),
                    "Text": part.get_content()[:20000] if part else "",
                }
            )
        return "250 OK"


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else ""
    if mode == "mailpit" and argv[1:2] == ["readyz"]:
        urllib.request.urlopen("http://127.0.0.1:8025/readyz", timeout=3)
        return 0
    if mode == "mailpit":
        from aiosmtpd.controller import Controller

        # Like Mailpit with MP_SMTP_AUTH_ACCEPT_ANY: no authentication is required.
        smtp = Controller(Mailbox(), hostname="0.0.0.0", port=1025)
        smtp.start()
        ThreadingHTTPServer(("0.0.0.0", 8025), Handler).serve_forever()
    elif mode == "slack":
        ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
