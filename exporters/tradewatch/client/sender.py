"""One destination (an exporter's ``POST /v1/events``): a bounded buffer, a sender thread, a spool.

The trading loop only ever serialises the event and appends it to an in-memory buffer under a lock
(a few microseconds). The sender thread batches, POSTs over a keep-alive session, retries with
exponential backoff and full jitter on connection errors, 5xx, 429 and auth/routing errors
(401/403/404/408: a misconfiguration must not lose events), and splits a batch the exporter finds
too large (413). Per-item rejections (400/422 bodies, or a 2xx listing ``rejected`` items) are
final: logged and counted, never retried.

Ordering: while the spool holds anything, new events go behind it on disk, and a batch that ran out
of retries is spooled in its own earlier-named segment (see :mod:`tradewatch.client.spool`), so the
exporter receives events in emit order. When the buffer is full the caller moves the buffer and the
new event to the spool itself (one buffered write, no fsync; the sender thread fsyncs right after).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests

from tradewatch.client.spool import Spool, fsync_all
from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.client")

RETRY_STATUS = frozenset({401, 403, 404, 408, 429})
MAX_LOGGED_REJECTIONS = 10  # per response, so a bad batch cannot flood the logs


@dataclass(frozen=True)
class ClientStats:
    """Counters since the client started (events unless the name says otherwise)."""

    emitted: int = 0  # handed to the client (plus undelivered spool lines found at start-up)
    accepted: int = 0  # acknowledged by the exporter as new
    duplicates: int = 0  # acknowledged as already seen (a replay after a lost response)
    rejected: int = 0  # refused by the exporter as invalid; final
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    dropped: int = 0  # lost: only without a spool directory (buffer full, or closed while undelivered)
    spooled: int = 0  # written to the spool
    replayed: int = 0  # delivered from the spool
    overflowed: int = 0  # written to the spool by the caller because the buffer was full
    retries: int = 0  # failed POST attempts (connection errors, 5xx, 429, 401/403/404/408)
    batches: int = 0  # POSTs answered with a verdict
    buffered: int = 0  # in memory now
    spool_pending: int = 0  # on disk, undelivered, now
    last_error: str | None = None

    @property
    def delivered(self) -> int:
        return self.accepted + self.duplicates + self.rejected

    def __add__(self, other: ClientStats) -> ClientStats:
        reasons = Counter(self.rejected_reasons)
        reasons.update(other.rejected_reasons)
        values: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "rejected_reasons":
                values[name] = dict(reasons)
            elif name == "last_error":
                values[name] = other.last_error or self.last_error
            else:
                values[name] = getattr(self, name) + getattr(other, name)
        return ClientStats(**values)


class _Outcome:
    DONE = 0  # every event got a final verdict
    RETRY = 1  # nothing final; try again later
    SPLIT = 2  # too large for the exporter: send it in halves


@dataclass(frozen=True)
class SendOptions:
    """How a destination batches and retries (TradeWatchClient's keyword arguments)."""

    batch_size: int = 500
    flush_interval: float = 0.5
    max_queue: int = 10_000
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 10.0


class Channel:
    def __init__(self, name: str, url: str, options: SendOptions, *, token: str | None = None,
                 spool_dir: str | None = None, session: requests.Session | None = None):
        if options.batch_size < 1 or options.max_queue < options.batch_size:
            raise ValueError("batch_size must be >= 1 and max_queue >= batch_size")
        self.name = name
        self.url = url.rstrip("/") + "/v1/events" if not url.rstrip("/").endswith("/v1/events") else url
        self.batch_size = options.batch_size
        self.flush_interval = options.flush_interval
        self.max_queue = options.max_queue
        self.max_retries = options.max_retries
        self.backoff_base = options.backoff_base
        self.backoff_max = options.backoff_max
        self.timeout = (min(3.05, options.timeout), options.timeout)
        self._session = session or requests.Session()
        # NDJSON rather than a JSON array: a damaged line (say, in a spool a crash tore) is rejected
        # on its own instead of failing the whole batch.
        self._session.headers["Content-Type"] = "application/x-ndjson"
        self._session.headers["User-Agent"] = "tradewatch-client"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._spool = Spool(spool_dir, name) if spool_dir else None
        self._cond = threading.Condition()
        self._buffer: deque[tuple[int, bytes]] = deque()
        self._interrupt = threading.Event()
        self._seq = 0
        self._closing = False
        self._closed = False
        self._flush_target = 0
        self._replay_failures = 0
        self._next_replay = 0.0
        self._replay_chunk = options.batch_size
        self._rng = random.Random()
        # counters (mutated under _cond, or by the sender thread alone for its own fields)
        self._c: Counter[str] = Counter()
        self._reasons: Counter[str] = Counter()
        self._last_error: str | None = None
        self._settled = 0  # delivered + dropped: flush() waits for this to catch up with emitted
        if self._spool is not None:
            self._c["emitted"] += self._spool.pending
        self._thread = threading.Thread(target=self._run, name=f"tradewatch-client-{name}", daemon=True)
        self._thread.start()

    # -- caller side ----------------------------------------------------------------------------
    def put(self, line: bytes) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("TradeWatch client is closed")
            seq = self._seq
            self._seq += 1
            self._c["emitted"] += 1
            buffer = self._buffer
            if len(buffer) < self.max_queue:
                buffer.append((seq, line))
                if len(buffer) == self.batch_size:
                    self._cond.notify()
                return
            if self._spool is not None:
                items = [*buffer, (seq, line)]
                try:
                    self._spool.append(items)
                except OSError as exc:  # disk full or gone: lose this one event, loudly, not the buffer
                    self._last_error = f"spool write failed: {exc}"
                else:
                    buffer.clear()
                    self._c["spooled"] += len(items)
                    self._c["overflowed"] += 1
                    self._cond.notify()  # the sender fsyncs
                    return
            self._c["dropped"] += 1
            self._settled += 1
            dropped = self._c["dropped"]
        if dropped == 1 or dropped % 1000 == 0:
            log.error("event dropped: client buffer full and no spool_dir configured",
                      channel=self.name, dropped_total=dropped)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything emitted so far is delivered (or rejected); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._c["emitted"]
            self._flush_target = max(self._flush_target, target)
            self._next_replay = 0.0
            self._replay_failures = 0
            self._cond.notify_all()
            self._interrupt.set()
            while self._settled < target:
                if not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))
            return True

    def close(self, timeout: float = 5.0) -> bool:
        """Flush for up to ``timeout`` seconds, then spool (or count as dropped) what is left."""
        if self._closed:
            return True
        delivered = self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._interrupt.set()
        self._thread.join(max(timeout, 1.0) + 5.0)
        self._closed = True
        self._session.close()
        return delivered

    def stats(self) -> ClientStats:
        with self._cond:
            c = self._c
            return ClientStats(
                emitted=c["emitted"], accepted=c["accepted"], duplicates=c["duplicates"],
                rejected=c["rejected"], rejected_reasons=dict(self._reasons), dropped=c["dropped"],
                spooled=c["spooled"], replayed=c["replayed"], overflowed=c["overflowed"],
                retries=c["retries"], batches=c["batches"], buffered=len(self._buffer),
                spool_pending=self._spool.pending if self._spool else 0, last_error=self._last_error,
            )

    # -- sender thread --------------------------------------------------------------------------
    def _urgent(self) -> bool:
        return self._settled < self._flush_target

    def _run(self) -> None:
        try:
            while self._step():
                pass
        except Exception:  # never let the thread die silently: events would pile up unseen
            log.exception("client sender thread crashed", channel=self.name)
            raise

    def _step(self) -> bool:
        spool = self._spool
        with self._cond:
            full = len(self._buffer) >= self.batch_size or (self._urgent() and self._buffer)
            if not self._closing and not full:
                wait = self.flush_interval
                if spool is not None and not spool.empty:
                    wait = min(wait, max(0.0, self._next_replay - time.monotonic()))
                if wait > 0:
                    self._cond.wait(wait)
            closing = self._closing
            take = len(self._buffer) if closing else min(self.batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(take)]
            if batch and spool is not None and (closing or not spool.empty) and self._to_spool(batch):
                batch = []  # kept in emit order, behind what is already on disk
            fds = spool.dirty_fds() if spool is not None else []
        if fds:
            fsync_all(fds)
            with self._cond:
                spool.release_closed()  # type: ignore[union-attr]
        if closing:
            return self._finish(batch)
        if batch:
            self._deliver(batch)
        if spool is not None and not spool.empty and time.monotonic() >= self._next_replay:
            self._replay_once()
        return True

    def _to_spool(self, batch: list[tuple[int, bytes]]) -> bool:
        """Append under the lock; on a disk error keep the batch in memory and say so."""
        try:
            self._spool.append(batch)  # type: ignore[union-attr]
        except OSError as exc:
            self._last_error = f"spool write failed: {exc}"
            log.error("cannot write the client spool; keeping events in memory", channel=self.name,
                      error=str(exc), events=len(batch))
            return False
        self._c["spooled"] += len(batch)
        return True

    def _finish(self, batch: list[tuple[int, bytes]]) -> bool:
        self._drop(batch)
        with self._cond:
            if self._spool is not None:
                self._spool.close()
            self._cond.notify_all()
        return False

    def _drop(self, batch: list[tuple[int, bytes]]) -> None:
        """Without a spool, what is still in memory at close is lost, and said so."""
        if not batch:
            return
        with self._cond:
            self._c["dropped"] += len(batch)
            self._settled += len(batch)
            self._cond.notify_all()
        log.error("client closed with undelivered events and no spool_dir", channel=self.name,
                  dropped=len(batch))

    def _deliver(self, batch: list[tuple[int, bytes]]) -> None:
        lines = [line for _, line in batch]
        attempt = 0
        while True:
            outcome = self._post(lines)
            if outcome == _Outcome.DONE:
                return
            if outcome == _Outcome.SPLIT:
                half = len(batch) // 2
                self._deliver(batch[:half])
                self._deliver(batch[half:])
                return
            attempt += 1
            if self._spool is not None and (attempt > self.max_retries or self._closing):
                with self._cond:
                    spooled = self._to_spool(batch)
                    if spooled:
                        self._replay_failures = 1
                        self._next_replay = time.monotonic() + self._backoff(1)
                if spooled:
                    log.warning("exporter unreachable; events spooled to disk", channel=self.name,
                                events=len(batch), error=self._last_error)
                    return
                if self._closing:
                    self._drop(batch)
                    return
            if self._spool is None and self._closing:
                self._drop(batch)
                return
            self._sleep(self._backoff(attempt))

    def _replay_once(self) -> None:
        spool = self._spool
        assert spool is not None
        with self._cond:
            lines, offset = spool.read(self._replay_chunk)
        # Settled only once committed: flush() must not return while the lines are still on disk.
        outcome = self._post(lines, settle=False) if lines else _Outcome.DONE
        if outcome == _Outcome.SPLIT:
            self._replay_chunk = max(1, len(lines) // 2)
            return
        if outcome != _Outcome.DONE:
            self._replay_failures += 1
            self._next_replay = time.monotonic() + self._backoff(self._replay_failures)
            return
        with self._cond:
            spool.commit(len(lines), offset)
            self._c["replayed"] += len(lines)
            self._settled += len(lines)
            self._cond.notify_all()
            if self._replay_failures:
                log.info("exporter reachable again; replaying spool", channel=self.name,
                         pending=spool.pending)
            self._replay_failures = 0
            self._next_replay = 0.0
            self._replay_chunk = self.batch_size

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads many clients restarting against one exporter.
        cap = min(self.backoff_max, self.backoff_base * (2 ** min(attempt - 1, 30)))
        return self._rng.uniform(cap / 2, cap)

    def _sleep(self, seconds: float) -> None:
        self._interrupt.wait(seconds)
        self._interrupt.clear()

    def _post(self, lines: list[bytes], *, settle: bool = True) -> int:
        """POST one batch; account for the verdicts. 413 splits the batch in two."""
        body = b"\n".join(lines) + b"\n"
        try:
            response = self._session.post(self.url, data=body, timeout=self.timeout)
        except requests.RequestException as exc:
            return self._retry(f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if status == 413 and len(lines) > 1:
            return _Outcome.SPLIT
        if status >= 500 or status in RETRY_STATUS:
            if status in (401, 403):
                log.error("authentication failure: the exporter refused the client's token",
                          channel=self.name, status=status, url=self.url)
            retry_after = response.headers.get("Retry-After")
            if retry_after and retry_after.isdigit():
                self._next_replay = max(self._next_replay, time.monotonic() + min(float(retry_after),
                                                                                  self.backoff_max))
            return self._retry(f"HTTP {status} from {self.url}")
        self._verdict(status, response.content, lines, settle)
        return _Outcome.DONE

    def _retry(self, error: str) -> int:
        with self._cond:
            self._c["retries"] += 1
            self._last_error = error
        return _Outcome.RETRY

    def _verdict(self, status: int, content: bytes, lines: list[bytes], settle: bool) -> None:
        try:
            body = orjson.loads(content) if content else {}
        except orjson.JSONDecodeError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        rejected = body.get("rejected") if isinstance(body.get("rejected"), list) else []
        if status >= 400 and not rejected:
            # A 4xx with no per-item detail (e.g. 413 for one event): the whole batch is refused.
            reason = str(body.get("error") or f"http_{status}")[:64]
            rejected = [{"index": i, "reason": reason if status != 413 else "too_large"}
                        for i in range(len(lines))]
        n_rejected = len(rejected)
        duplicates = int(body.get("duplicates", 0) or 0) if status < 400 else 0
        accepted = max(0, len(lines) - n_rejected - duplicates)
        with self._cond:
            self._c["batches"] += 1
            self._c["accepted"] += accepted
            self._c["duplicates"] += duplicates
            self._c["rejected"] += n_rejected
            for item in rejected:
                self._reasons[str(item.get("reason", "unknown"))[:64]] += 1
            if settle:
                self._settled += len(lines)
                self._cond.notify_all()
        for item in rejected[:MAX_LOGGED_REJECTIONS]:
            self._log_rejection(item, lines)
        if n_rejected > MAX_LOGGED_REJECTIONS:
            log.warning("more events rejected by the exporter", channel=self.name,
                        not_logged=n_rejected - MAX_LOGGED_REJECTIONS)

    def _log_rejection(self, item: dict[str, Any], lines: list[bytes]) -> None:
        index = item.get("index")
        fields: dict[str, Any] = {}
        if isinstance(index, int) and 0 <= index < len(lines):
            try:
                event = orjson.loads(lines[index])
                fields = {"event_type": event.get("type"), "event_id": event.get("event_id")}
            except (orjson.JSONDecodeError, AttributeError):
                pass
        log.warning("event rejected by the exporter", channel=self.name, reason=item.get("reason"),
                    message=str(item.get("message", ""))[:200], index=index, **fields)
