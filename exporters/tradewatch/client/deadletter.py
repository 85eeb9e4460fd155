"""The client's dead-letter file: events the exporter refused for good, one JSON record a line.

A record says what was refused and why, so an operator can fix and resend it::

    {"time": "2026-12-02T14:31:07.120533Z", "channel": "trading", "status": 422,
     "reason": "negative_quantity", "message": "quantity must be > 0", "attempts": 1,
     "event": {"type": "order_submitted", ...}}

``event`` is the event exactly as it was sent; a line that is not JSON (a damaged spool line) is kept
as text in ``raw`` instead. ``status`` is the HTTP status of the answer that settled it (200 with a
per-item rejection, 4xx for the whole request, or the 5xx that repeated ``attempts`` times for this
one event alone). Records are appended and fdatasync'd before the client counts the event as settled.

The file is ``<dead_letter_dir>/<channel>.jsonl``. It stops growing at ``max_bytes``: further
records are counted (``dead_letter_failed``) and logged, never written, so disk use stays bounded.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import orjson

from tradewatch.client.events import now_ts
from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.client")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def record(line: bytes, *, channel: str, status: int, reason: str, message: str, attempts: int) -> bytes:
    """One dead-letter line (with its newline) for an event line as it was sent."""
    out: dict[str, Any] = {
        "time": now_ts(),
        "channel": channel,
        "status": status,
        "reason": reason,
        "message": message[:500],
        "attempts": attempts,
    }
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        out["raw"] = line.decode("utf-8", "backslashreplace")
    else:
        out["event"] = orjson.Fragment(line)  # byte for byte what the exporter was sent
    return orjson.dumps(out) + b"\n"


class DeadLetter:
    def __init__(self, directory: str | os.PathLike[str], channel: str, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = Path(directory) / f"{channel}.jsonl"
        self.channel = channel
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None

    def write(self, lines: list[bytes]) -> int:
        """Append ready records; returns how many were written (0 on a disk error or at the cap)."""
        data = b"".join(lines)
        with self._lock:
            try:
                if self._fd is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                if os.fstat(self._fd).st_size + len(data) > self.max_bytes:
                    log.error(
                        "dead-letter file is full; refused events are only counted and logged",
                        path=str(self.path),
                        max_bytes=self.max_bytes,
                        events=len(lines),
                    )
                    return 0
                start = os.lseek(self._fd, 0, os.SEEK_END)
                try:
                    written = 0
                    while written < len(data):
                        written += os.write(self._fd, data[written:])
                    os.fdatasync(self._fd)
                except OSError:
                    os.ftruncate(self._fd, start)  # no torn record in front of the next one
                    raise
            except OSError as exc:
                log.error("cannot write the dead-letter file", path=str(self.path), error=str(exc), events=len(lines))
                return 0
        return len(lines)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
