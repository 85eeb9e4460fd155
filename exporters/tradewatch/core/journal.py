"""Append-only JSONL journal of accepted events, with atomic snapshots.

Layout of the journal directory::

    snapshot.json            {"format": 1, "covers": G, "created": t, "data": <caller's snapshot>}
    journal-00000001.jsonl   one normalized event per line (orjson), appended with one write()
    journal-00000002.jsonl   ...

A snapshot *covers* every journal file whose generation is <= ``covers``. Taking one opens the next
generation first, writes ``snapshot.json.tmp``, fsyncs it, renames it over ``snapshot.json``,
fsyncs the directory, then deletes the covered files, so a crash at any step leaves either the old
snapshot plus all its files or the new snapshot (files it covers are skipped and removed).
Start-up = load the snapshot, then replay the files after it in order.

A crash in the middle of a write leaves a last line without its newline (or unparseable): replay
truncates the file at the end of the last complete line. Events in that torn line were never
acknowledged, because acknowledgement happens only after the write returns (and, per the fsync
policy, after fsync).

A write or fsync that *fails* (ENOSPC, EIO) while the process lives on is undone at once: the file
is truncated back to its size before the batch, so the next batch never lands after a fragment
(replay would skip the merged line as corrupt and lose an acknowledged event). When even the
truncation fails, the journal refuses every append until a later attempt (or :meth:`Journal.probe`)
manages it.

fsync policies: ``always`` (fsync after every event), ``batch`` (one write + fsync per append
call, i.e. per ingest request: the default), ``interval`` (fsync at most every ``interval``
seconds) and ``never`` (the kernel decides). With every policy the data reaches the kernel before
the acknowledgement, so ``kill -9`` of the exporter loses nothing; fsync guards against power loss.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.journal")

FSYNC_POLICIES = ("always", "batch", "interval", "never")
SNAPSHOT = "snapshot.json"
_FILE = re.compile(r"^journal-(\d{8})\.jsonl$")
_CHUNK = 4 * 1024 * 1024


# JSON has no inf/NaN and orjson writes them as null: a fold that summed two finite -1e308 would
# come back from its snapshot with None where a float was. Non-finite floats are written as this
# one-key object instead (no fold snapshot has such a key) and turned back into floats on load.
_NONFINITE = "__float__"
_SPECIAL = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def _encode_nonfinite(value: Any) -> Any:
    cls = value.__class__
    if cls is dict:
        return {k: _encode_nonfinite(v) for k, v in value.items()}
    if cls is list or cls is tuple:
        return [_encode_nonfinite(v) for v in value]
    if isinstance(value, float):  # numpy's float64 too
        if math.isfinite(value):
            return value
        return {_NONFINITE: "nan" if value != value else ("inf" if value > 0 else "-inf")}
    if cls is np.ndarray and value.dtype.kind == "f" and not np.isfinite(value).all():
        return _encode_nonfinite(value.tolist())
    return value


def _decode_nonfinite(value: Any) -> Any:
    cls = value.__class__
    if cls is dict:
        if len(value) == 1 and _NONFINITE in value:
            return _SPECIAL[value[_NONFINITE]]
        return {k: _decode_nonfinite(v) for k, v in value.items()}
    if cls is list:
        return [_decode_nonfinite(v) for v in value]
    return value


class JournalError(OSError):
    """The journal cannot be read or written (disk full, permissions, corrupt snapshot)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename (readers never see half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a disk-full half file must not keep the space
        raise
    if fsync:
        _fsync_dir(path.parent)


class Journal:
    """The files of one exporter's journal. Not thread-safe: the ingestor holds its lock."""

    def __init__(self, directory: str | os.PathLike[str], fsync: str = "batch", interval: float = 1.0):
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync policy must be one of {', '.join(FSYNC_POLICIES)}, got {fsync!r}")
        self.directory = Path(directory)
        self.fsync_policy = fsync
        self.interval = interval
        self.generation = 0
        self.events = 0  # events in the journal files since the snapshot
        self.replay_seconds = 0.0
        self.replayed = 0
        self.corrupt_lines = 0
        self._fd: int | None = None
        self._bytes = 0  # journal bytes since the snapshot
        self._snapshot_bytes = 0
        self._last_fsync = time.monotonic()
        self._dirty = False
        self._offset = 0  # size of the current journal file (what a failed append is cut back to)
        self._torn: int | None = None  # a failed append left bytes past this offset: cut them first

    # ------------------------------------------------------------------ start-up
    def _generations(self) -> list[int]:
        out = []
        for entry in self.directory.iterdir():
            m = _FILE.match(entry.name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def _path(self, generation: int) -> Path:
        return self.directory / f"journal-{generation:08d}.jsonl"

    def load_snapshot(self) -> Any:
        """The caller's snapshot data, or None when there is none."""
        path = self.directory / SNAPSHOT
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            doc = orjson.loads(raw)
            covers = int(doc["covers"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # Renamed into place only after fsync, so this is real corruption: refuse to guess.
            raise JournalError(
                f"snapshot {path} is unreadable ({exc}); move it away to rebuild "
                "from the journal files, if they are complete"
            ) from None
        self.generation = covers
        self._snapshot_bytes = len(raw)
        return _decode_nonfinite(doc.get("data"))

    def replay(self, apply_batch: Callable[[list[Any]], None]) -> int:
        """Feed the journaled events after the snapshot, in order and in lists, to ``apply_batch``.

        Call :meth:`load_snapshot` first. Opens the journal for appending; returns the events replayed.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        covered = self.generation
        count = 0
        generations = self._generations()
        for gen in generations:
            if gen <= covered:
                self._path(gen).unlink(missing_ok=True)  # left over from a crash during compaction
        pending = [g for g in generations if g > covered]
        for i, gen in enumerate(pending):
            n, size = self._replay_file(self._path(gen), apply_batch, last=i == len(pending) - 1)
            count += n
            self._bytes += size
        self.generation = pending[-1] if pending else covered + 1
        self.events = count
        self.replayed = count
        self._open(self.generation)
        self.replay_seconds = time.perf_counter() - started
        return count

    def _replay_file(self, path: Path, apply_batch: Callable[[list[Any]], None], *, last: bool) -> tuple[int, int]:
        count = 0
        loads = orjson.loads
        good_end = 0  # offset just past the last complete line
        with open(path, "rb") as f:
            tail = b""
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                events = []
                append = events.append
                for line in lines:
                    try:
                        append(loads(line))
                    except orjson.JSONDecodeError:
                        if line:
                            self.corrupt_lines += 1
                            log.error("corrupt journal line skipped", file=path.name, near_offset=good_end)
                good_end += sum(map(len, lines)) + len(lines)
                count += len(events)
                apply_batch(events)
        size = good_end + len(tail)
        if tail:
            # A write cut short by a crash: never acknowledged, so drop it.
            if last:
                log.warning("truncating torn last journal line", file=path.name, bytes=len(tail))
                with open(path, "r+b") as f:
                    f.truncate(good_end)
                    os.fsync(f.fileno())
                size = good_end
            else:
                self.corrupt_lines += 1
                log.error("torn line in a closed journal file skipped", file=path.name)
        return count, size

    def _open(self, generation: int) -> None:
        self._fd = os.open(self._path(generation), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._offset = os.fstat(self._fd).st_size
        self._torn = None

    # ------------------------------------------------------------------ writing
    def append(self, lines: list[bytes]) -> None:
        """Append complete lines (each ending in a newline); durable per the fsync policy on return.

        Raises OSError when a write or fsync fails; the file is then as it was before the call.
        """
        if self._fd is None:
            raise JournalError("journal is not open (call replay() first)")
        if not lines:
            return
        self._cut_torn()
        before = self._offset
        try:
            if self.fsync_policy == "always":
                for line in lines:
                    self._write(line)
                    self._sync(self._fd)
            else:
                self._write(b"".join(lines))
                if self.fsync_policy == "batch":
                    self._sync(self._fd)
                elif self.fsync_policy == "interval":
                    self._dirty = True
                    self.flush_if_due()
        except OSError:
            self._roll_back(before)
            raise
        self.events += len(lines)

    def probe(self, size: int = 64 * 1024) -> None:
        """Check that the journal takes ``size`` more bytes now: append blank lines (replay skips them),
        fsync, cut them off again. Raises OSError when it cannot (the file is left as it was)."""
        if self._fd is None:
            raise JournalError("journal is not open (call replay() first)")
        self._cut_torn()
        before = self._offset
        try:
            self._write(b"\n" * max(1, size))
            self._sync(self._fd)
        finally:
            self._roll_back(before)
        if self._torn is not None:
            raise JournalError(f"cannot truncate {self._path(self.generation)} back to {before} bytes")

    def _roll_back(self, offset: int) -> None:
        written = self._offset - offset
        try:
            os.ftruncate(self._fd, offset)  # type: ignore[arg-type]
        except OSError as exc:
            self._torn = offset
            log.error(
                "cannot cut a failed journal write back; appends refused until it can",
                file=self._path(self.generation).name,
                offset=offset,
                error=str(exc),
            )
        else:
            self._torn = None
        self._bytes -= written
        self._offset = offset

    def _cut_torn(self) -> None:
        if self._torn is not None:
            os.ftruncate(self._fd, self._torn)  # type: ignore[arg-type]
            self._torn = None

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._write_some(self._fd, view)  # type: ignore[arg-type]
            self._bytes += written
            self._offset += written
            view = view[written:]

    # The two system calls a journal write makes; the fault-injection tests override them.
    _write_some = staticmethod(os.write)
    _sync = staticmethod(os.fsync)

    def flush_if_due(self) -> None:
        """For the interval policy: fsync when the interval has passed (call it periodically too)."""
        if self._dirty and self._fd is not None and time.monotonic() - self._last_fsync >= self.interval:
            self._sync(self._fd)
            self._dirty = False
            self._last_fsync = time.monotonic()

    def snapshot(self, data: Any) -> None:
        """Persist ``data`` as covering everything journaled so far; start a new journal file."""
        if self._fd is None:
            raise JournalError("journal is not open (call replay() first)")
        covered = self.generation
        self._cut_torn()
        self._sync(self._fd)
        new_gen = covered + 1
        new_fd = os.open(self._path(new_gen), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            payload = orjson.dumps(
                {"format": 1, "covers": covered, "created": time.time(), "data": _encode_nonfinite(data)},
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
            atomic_write(self.directory / SNAPSHOT, payload)
        except BaseException:
            os.close(new_fd)
            self._path(new_gen).unlink(missing_ok=True)
            raise
        os.close(self._fd)
        self._fd = new_fd
        self.generation = new_gen
        for gen in self._generations():
            if gen <= covered:
                self._path(gen).unlink(missing_ok=True)
        self._snapshot_bytes = len(payload)
        self._bytes = 0
        self._offset = 0
        self.events = 0
        self._dirty = False

    # ------------------------------------------------------------------ state
    def size_bytes(self) -> int:
        return self._bytes + self._snapshot_bytes

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None
