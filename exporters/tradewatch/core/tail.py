"""Follow a JSONL file that a trading system writes and feed its lines to an :class:`EventIngestor`.

    tailer = Tailer("/var/log/bot/events.jsonl", ingestor, offset_file="data/events.offset")
    tailer.start()          # own thread; tailer.stop() at shutdown (tests call run_once())

- Partial last line: kept in a buffer until its newline arrives.
- Truncation (file shorter than our position): start again at offset 0.
- Rotation (the path now names another inode): read the old file to its end (its unterminated
  last line counts as a line: the writer has moved on), then follow the new file from offset 0.
- Resume: the offset file records ``{"dev", "inode", "offset", "head"}`` after the lines before
  ``offset`` were journaled (``head``: a digest of the file's first bytes); at start-up the tailer
  continues there if it is the same file (same inode, same first bytes, long enough). A crash
  between journaling and saving the offset re-reads a few lines, and deduplication by event_id
  drops them. Another inode (rotated while we were down) or other first bytes (truncated and
  rewritten while we were down) means start at 0.
- Bad lines are rejected and counted by the ingestor like HTTP input (``source=tail``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import orjson

from tradewatch.core.body import decode_one
from tradewatch.core.ingest import EventIngestor, Unavailable
from tradewatch.core.journal import atomic_write
from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.tail")

HEAD_BYTES = 256


class Tailer:
    def __init__(
        self,
        path: str | os.PathLike[str],
        ingestor: EventIngestor,
        *,
        offset_file: str | os.PathLike[str] | None = None,
        poll_interval: float = 0.25,
        chunk_bytes: int = 1 << 20,
        max_line_bytes: int = 1 << 20,
    ):
        self.path = Path(path)
        self.ingestor = ingestor
        self.offset_file = Path(offset_file) if offset_file else None
        self.poll_interval = poll_interval
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self.offset = 0  # bytes of the current file already journaled (start of the pending buffer)
        self.lines = 0
        self._file: Any = None
        self._ident: tuple[int, int] | None = None  # (dev, inode) of the open file
        self._pending = b""
        self._head, self._head_len = "", 0  # fingerprint of the file's first bytes, stored with the offset
        self._skipping = False  # inside an over-long line: drop bytes until its newline
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ offsets
    def _load_offset(self) -> dict[str, Any] | None:
        if not self.offset_file:
            return None
        try:
            data = orjson.loads(self.offset_file.read_bytes())
            return {
                "dev": int(data["dev"]),
                "inode": int(data["inode"]),
                "offset": int(data["offset"]),
                "head": str(data.get("head", "")),
                "head_len": int(data.get("head_len", 0)),
            }
        except FileNotFoundError:
            return None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("offset file unreadable; starting at the beginning", file=str(self.offset_file))
            return None

    @staticmethod
    def _fingerprint(fd: int, n: int) -> str:
        """BLAKE2b of the file's first ``n`` bytes (the offset file stores ``n`` with it)."""
        return hashlib.blake2b(os.pread(fd, n, 0), digest_size=16).hexdigest()

    def _save_offset(self) -> None:
        if self.offset_file and self._ident:
            self.offset_file.parent.mkdir(parents=True, exist_ok=True)
            # No fsync needed: losing the latest offset only re-reads lines that dedupe drops.
            n = min(HEAD_BYTES, self.offset)
            if n != self._head_len and self._file is not None:
                self._head, self._head_len = self._fingerprint(self._file.fileno(), n), n
            state = {
                "dev": self._ident[0],
                "inode": self._ident[1],
                "offset": self.offset,
                "head": self._head,
                "head_len": self._head_len,
                "path": str(self.path),
            }
            atomic_write(self.offset_file, orjson.dumps(state), fsync=False)

    # ------------------------------------------------------------------ reading
    def _open(self, resume: bool) -> bool:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 (kept open across polls)
        except FileNotFoundError:
            return False
        st = os.fstat(f.fileno())
        self._file = f
        self._ident = (st.st_dev, st.st_ino)
        self._pending = b""
        self._skipping = False
        self.offset = 0
        self._head, self._head_len = "", 0
        stored = self._load_offset() if resume else None
        if stored and (stored["dev"], stored["inode"]) == self._ident and stored["offset"] <= st.st_size:
            # Same inode and long enough; the fingerprint of its first bytes tells a file truncated and
            # rewritten while we were down (same inode, other content) from the one we were reading.
            if stored["head"] == self._fingerprint(f.fileno(), stored["head_len"]):
                self.offset = stored["offset"]
                self._head, self._head_len = stored["head"], stored["head_len"]
            else:
                log.warning("tailed file was rewritten while stopped; starting at the beginning", path=str(self.path))
        f.seek(self.offset)
        log.info("tailing file", path=str(self.path), offset=self.offset)
        return True

    def run_once(self) -> int:
        """Read what is new, ingest complete lines; returns lines handled (0 when idle)."""
        if self._file is None and not self._open(resume=True):
            return 0
        chunk = self._file.read(self.chunk_bytes)
        if chunk:
            return self._consume(chunk, final=False)
        st = os.fstat(self._file.fileno())
        if st.st_size < self.offset + len(self._pending):
            log.warning("file truncated; starting again at offset 0", path=str(self.path))
            self._file.seek(0)
            self.offset = 0
            self._pending = b""
            self._skipping = False
            self._save_offset()
            return 0
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return 0  # rotated away and not yet recreated: keep the old file
        if (current.st_dev, current.st_ino) != self._ident:
            handled = 0
            while True:  # drain what the writer added before it switched files
                chunk = self._file.read(self.chunk_bytes)
                if not chunk:
                    break
                handled += self._consume(chunk, final=False)
            handled += self._consume(b"", final=True)
            log.info("file rotated; following the new one", path=str(self.path), lines=self.lines)
            self._file.close()
            self._file = None
            self._open(resume=False)
            self._save_offset()
            return handled or 1
        return 0

    def _consume(self, chunk: bytes, *, final: bool) -> int:
        """Ingest the complete lines of pending + chunk; returns a positive number when it made progress."""
        data = self._pending + chunk
        self._pending = b""
        if self._skipping:  # the rest of an over-long line, already rejected
            nl = data.find(b"\n")
            if nl < 0:
                self.offset += len(data)
                return 1 if data else 0
            self.offset += nl + 1
            data = data[nl + 1 :]
            self._skipping = False
        end = len(data) if final else data.rfind(b"\n") + 1
        if end == 0:
            if len(data) > self.max_line_bytes:
                self._too_long(len(data))
                self.offset += len(data)
                self._skipping = True
            else:
                self._pending = data
            return 1 if chunk else 0
        complete, rest = data[:end], data[end:]
        items: list[Any] = []
        for line in complete.split(b"\n"):
            if not line.strip():
                continue
            if len(line) > self.max_line_bytes:
                self._too_long(len(line))
                continue
            items.append(decode_one(line))
        if items:
            while True:
                try:
                    self._ingest(items)
                    break
                except Unavailable:
                    # Journal full or unwritable: hold the position and retry, never skip lines.
                    if self._stop.wait(1.0):
                        self._pending = data
                        return 0
        self._pending = rest
        self.offset += end
        self.lines += len(items)
        self._save_offset()
        return len(items) or 1

    def _ingest(self, items: list[Any]) -> None:
        """Ingest a chunk's lines; a line that makes ingest fail (a bug) is rejected alone, never the chunk."""
        ingest = self.ingestor.ingest
        step = self.ingestor.max_items or len(items)
        for start in range(0, len(items), step):
            part = items[start : start + step]
            try:
                ingest(part, source="tail")
            except Unavailable:
                raise
            except Exception as exc:
                self.ingestor._error("tail")
                log.error("ingest failed on a tailed chunk; retrying line by line", error=str(exc), exc_info=True)
                for item in part:
                    try:
                        ingest([item], source="tail")
                    except Unavailable:
                        raise
                    except Exception:
                        self.ingestor.reject("invalid_value", "line could not be ingested", source="tail")

    def _too_long(self, size: int) -> None:
        self.ingestor.reject("too_large", f"line of {size} bytes exceeds {self.max_line_bytes}", source="tail")

    # ------------------------------------------------------------------ thread
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception as exc:  # keep following; a bug here must not stop ingestion for good
                self.ingestor._error("tail")
                log.error("tail iteration failed", error=str(exc), exc_info=True)
                handled = 0
            if not handled:
                self._stop.wait(self.poll_interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tail", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread and self._thread.is_alive():
            self._thread.join(timeout)
        if self._file is not None:
            self._file.close()
            self._file = None
