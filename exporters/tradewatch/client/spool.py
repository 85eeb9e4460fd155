"""The client's on-disk spool: append-only JSONL segment files, replayed in order.

Each event carries a sequence number assigned when the trading system emitted it. Segments are
named ``<name>-<run>-<first sequence>.jsonl`` and replayed in name order, so the replay order is the emit
order even when an older in-flight batch is spooled after newer events overflowed to disk (that
batch gets its own, earlier-named segment). A segment is deleted once every line in it has been
delivered; a crash mid-segment replays it from the start, which is harmless because the exporter
ignores duplicate ``event_id``s.

Durable mode (the client's ``durable=True``): :meth:`sync` is called by the emitting thread after
each append, a new segment's directory entry is fsync'd too, and the segment being appended to is
kept (not deleted) when the replay catches up with it, so a steady stream does not create and delete
a file per event; it is deleted once full and delivered, or at close.

Not thread-safe on its own: the owner serialises :meth:`append`, :meth:`read` and :meth:`commit`
under one lock and calls :meth:`sync` (the slow fsync) from a single thread without that lock.
"""

from __future__ import annotations

import bisect
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.client.spool")

SUFFIX = ".jsonl"


class SpoolLocked(RuntimeError):
    """Another process already uses this spool directory."""


@dataclass
class _Segment:
    name: str
    path: Path
    lines: int
    size: int
    last_seq: int
    read_offset: int = 0
    read_lines: int = 0
    fd: int | None = None  # write handle, only while we may still append or need an fsync
    writable: bool = False
    dirty: bool = False


class Spool:
    def __init__(
        self,
        directory: str | os.PathLike[str],
        name: str = "events",
        max_segment_bytes: int = 8 * 1024 * 1024,
        durable: bool = False,
    ):
        self.directory = Path(directory)
        self.name = name  # several spools (trading, model) share a directory by file name prefix
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_segment_bytes = max_segment_bytes
        self.durable = durable
        self._lock_fd = os.open(self.directory / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise SpoolLocked(f"spool directory {self.directory} is in use by another client") from None
        self._segments: list[_Segment] = []  # sorted by name = replay order
        self._open: _Segment | None = None  # the segment new events are appended to
        self.pending = 0  # events on disk not yet delivered
        self.corrupt_lines = 0
        last_run = 0
        for path in sorted(self.directory.glob(f"{name}-*{SUFFIX}")):
            segment = self._load(path)
            if segment is None:
                continue
            self._segments.append(segment)
            self.pending += segment.lines
            try:
                last_run = max(last_run, int(path.stem.split("-")[-2]))
            except ValueError:
                pass
        self._run = max(time.time_ns(), last_run + 1)
        if self.pending:
            log.info(
                "spool holds undelivered events from an earlier run",
                directory=str(self.directory),
                events=self.pending,
                segments=len(self._segments),
            )

    def _load(self, path: Path) -> _Segment | None:
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            # A crash cut the last write short: keep the complete lines, drop the torn one.
            cut = data.rfind(b"\n") + 1
            self.corrupt_lines += 1
            log.warning(
                "spool segment ends with a partial line; dropping it", path=str(path), dropped_bytes=len(data) - cut
            )
            with open(path, "r+b") as fh:
                fh.truncate(cut)
            data = data[:cut]
        if not data:
            path.unlink(missing_ok=True)
            return None
        lines = sum(1 for line in data.split(b"\n") if line.strip())  # blank lines are skipped
        return _Segment(path.name, path, lines, len(data), last_seq=-1)

    @property
    def empty(self) -> bool:
        return self.pending == 0

    @property
    def size_bytes(self) -> int:
        return sum(s.size - s.read_offset for s in self._segments)

    def append(self, items: list[tuple[int, bytes]]) -> None:
        """Write ``(sequence, json line)`` pairs; the caller holds the owner's lock."""
        if not items:
            return
        first_seq, last_seq = items[0][0], items[-1][0]
        data = b"".join(line + b"\n" for _, line in items)
        target = self._open
        if target is None or first_seq <= target.last_seq or target.size >= self.max_segment_bytes:
            filename = f"{self.name}-{self._run:020d}-{first_seq:012d}{SUFFIX}"
            path = self.directory / filename
            target = _Segment(filename, path, 0, 0, last_seq=-1, writable=True)
            target.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            if self.durable:
                _fsync_dir(self.directory)  # the new file's name survives a power cut too
            bisect.insort(self._segments, target, key=lambda s: s.name)
            if self._open is None or first_seq > self._open.last_seq:
                previous = self._open
                self._open = target
                if previous is not None:
                    previous.writable = False
                    if previous.read_offset >= previous.size:  # kept while open; delivered: gone
                        self._retire(previous)
            else:
                target.writable = False  # an older in-flight batch: a closed segment of its own
        written = 0
        while written < len(data):
            written += os.write(target.fd, data[written:])  # type: ignore[arg-type]
        target.size += len(data)
        target.lines += len(items)
        target.last_seq = max(target.last_seq, last_seq)
        target.dirty = True
        self.pending += len(items)

    def sync(self) -> None:
        """fdatasync what was appended (durable mode: the emitting thread, under the owner's lock)."""
        for segment in self._segments:
            if segment.dirty and segment.fd is not None:
                os.fdatasync(segment.fd)
                segment.dirty = False

    def dirty_fds(self) -> list[int]:
        """File descriptors with unsynced writes; call under the lock, fsync them without it."""
        out = []
        for segment in self._segments:
            if segment.dirty and segment.fd is not None:
                segment.dirty = False
                out.append(segment.fd)
        return out

    def release_closed(self) -> None:
        """Close write handles of segments that take no more appends (under the lock, after sync)."""
        for segment in self._segments:
            if segment.fd is not None and not segment.writable and not segment.dirty:
                os.close(segment.fd)
                segment.fd = None

    def read(self, max_events: int) -> tuple[list[bytes], list[int]]:
        """Up to ``max_events`` undelivered lines of the first segment, and the offset after each."""
        segment = next((s for s in self._segments if s.read_offset < s.size), None)
        if segment is None:
            return [], []
        lines: list[bytes] = []
        ends: list[int] = []
        offset = segment.read_offset
        with open(segment.path, "rb") as fh:
            fh.seek(offset)
            while len(lines) < max_events and offset < segment.size:
                line = fh.readline()
                if not line:
                    break
                offset += len(line)
                line = line.rstrip(b"\n")
                if line.strip():
                    lines.append(line)
                    ends.append(offset)
                elif ends:
                    ends[-1] = offset  # a blank line is consumed with the line before it
        if lines and offset >= segment.size:
            ends[-1] = offset
        return lines, ends

    def commit(self, count: int, offset: int) -> None:
        """Mark the first ``count`` lines returned by :meth:`read` delivered (``offset``: the end
        of the last of them); delete the segment when it is done."""
        segment = next(s for s in self._segments if s.read_offset < s.size)
        segment.read_offset = offset
        segment.read_lines += count
        self.pending -= count
        if segment.read_offset >= segment.size:
            self.pending -= segment.lines - segment.read_lines  # nothing, unless lines were miscounted
            segment.read_lines = segment.lines
            if not (self.durable and segment is self._open and segment.writable):
                self._retire(segment)
        self.pending = max(self.pending, 0)

    def _retire(self, segment: _Segment) -> None:
        self._segments.remove(segment)
        if segment.fd is not None:
            os.close(segment.fd)
            segment.fd = None
        if self._open is segment:
            self._open = None
        segment.path.unlink(missing_ok=True)

    def close(self) -> None:
        for segment in [s for s in self._segments if s.read_offset >= s.size]:
            self._retire(segment)
        for segment in self._segments:
            if segment.fd is not None:
                os.fsync(segment.fd)
                os.close(segment.fd)
                segment.fd = None
        self._open = None
        os.close(self._lock_fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.fsync(fd)
        except OSError as exc:  # the spool is best effort durability, never a crash of the sender
            log.error("spool fsync failed", error=str(exc))
