"""``JournalWriter``: the same helpers, written as JSONL lines to a file the exporter tails.

For systems that would rather not talk HTTP from the trading process, or that want a durable local
record first: the trading exporter's tail mode follows the file (partial last lines, truncation and
rotation handled on its side). Writes are synchronous, one ``write`` per event; ``fsync`` is
``"always"`` (every event), ``"batch"`` (every ``fsync_every`` events and on flush/close, the
default) or ``"never"`` (leave it to the OS).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from tradewatch.client.events import EventHelpers, encode
from tradewatch.client.trail import Trails

FSYNC_POLICIES = ("always", "batch", "never")


class JournalWriter(EventHelpers):
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: str = "batch",
        fsync_every: int = 1000,
        strategy: str | None = None,
        account: str | None = None,
        venue: str | None = None,
        trail_sample_rate: float = 1.0,
    ):
        self.trails = Trails(trail_sample_rate)
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, got {fsync!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.defaults = {
            k: v for k, v in {"strategy": strategy, "account": account, "venue": venue}.items() if v is not None
        }
        self.fsync = fsync
        self.fsync_every = max(1, fsync_every)
        self.written = 0
        self._unsynced = 0
        self._lock = threading.Lock()
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)

    def emit(self, event: dict[str, Any]) -> str:
        line = encode(event) + b"\n"
        with self._lock:
            if self._fd is None:
                raise RuntimeError("journal writer is closed")
            # O_APPEND + one write per line: a reader never sees two events interleaved.
            written = 0
            while written < len(line):
                written += os.write(self._fd, line[written:])
            self.written += 1
            self._unsynced += 1
            if self.fsync == "always" or (self.fsync == "batch" and self._unsynced >= self.fsync_every):
                os.fsync(self._fd)
                self._unsynced = 0
        return event["event_id"]

    def flush(self, timeout: float | None = None) -> bool:
        with self._lock:
            if self._fd is not None and self._unsynced and self.fsync != "never":
                os.fsync(self._fd)
                self._unsynced = 0
        return True

    def close(self, timeout: float | None = None) -> bool:
        self.flush()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        return True

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
