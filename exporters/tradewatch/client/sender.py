"""One destination (an exporter's ``POST /v1/events``): a bounded buffer, a sender thread, a spool.

The trading loop only ever serialises the event and appends it to an in-memory buffer under a lock
(a few microseconds; in durable mode it appends it to the spool and fdatasyncs instead). The sender
thread batches, POSTs over a keep-alive session, retries with exponential backoff and full jitter
on connection errors, 502/503/504, 429 and auth/routing errors (401/403/404/408: a misconfiguration
must not lose events).

One bad event never holds up the others: a batch answered 413 or with another 5xx (500: the
exporter failed on something in it) is split in halves, first half first, until the failure is
narrowed to single events; one that still gets a 5xx ``poison_retries`` times alone is refused for
good. Refusals are final and go to the dead-letter file (:mod:`tradewatch.client.deadletter`) with
the reason: per-item rejections (a 2xx/400/422 body listing ``rejected`` items), a 4xx for the
whole request, and those repeated 5xx. Everything before and after them is delivered in emit order.

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

from tradewatch.client import deadletter
from tradewatch.client.deadletter import DeadLetter
from tradewatch.client.spool import Spool, fsync_all
from tradewatch.core.logging import get_logger

log = get_logger("tradewatch.client")

RETRY_STATUS = frozenset({401, 403, 404, 408, 429})
# The exporter (or a proxy in front of it) is down or busy: never the events' fault, so never split.
UNAVAILABLE_STATUS = frozenset({502, 503, 504})
MAX_BATCH = 1000  # the exporters list up to 1000 rejected items per answer (core.ingest.MAX_REPORTED)
MAX_LOGGED_REJECTIONS = 10  # per response, so a bad batch cannot flood the logs


@dataclass(frozen=True)
class ClientStats:
    """Counters since the client started (events unless the name says otherwise)."""

    emitted: int = 0  # handed to the client (plus undelivered spool lines found at start-up)
    accepted: int = 0  # acknowledged by the exporter as new
    duplicates: int = 0  # acknowledged as already seen (a replay after a lost response)
    rejected: int = 0  # refused by the exporter (4xx, per item, or a 5xx repeated alone); final
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    dead_lettered: int = 0  # refused events written to the dead-letter file
    dead_letter_failed: int = 0  # refused events the dead-letter file could not take (logged only)
    splits: int = 0  # batches split in halves to isolate a failing event (413 or 5xx)
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
    RETRY = 1  # the exporter is unreachable or unavailable; nothing final, try again later
    SPLIT = 2  # too large for the exporter: send it in halves
    FAILED = 3  # a 5xx that may be caused by the content: split, or refuse a single event at last


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
    poison_retries: int = 3  # a 5xx this many times for one event alone: dead-lettered
    durable: bool = False  # emit() returns once the event is in the spool and fdatasync'd


class Channel:
    def __init__(
        self,
        name: str,
        url: str,
        options: SendOptions,
        *,
        token: str | None = None,
        spool_dir: str | None = None,
        dead_letter_dir: str | None = None,
        session: requests.Session | None = None,
    ):
        if options.batch_size < 1 or options.max_queue < options.batch_size:
            raise ValueError("batch_size must be >= 1 and max_queue >= batch_size")
        if options.batch_size > MAX_BATCH:
            raise ValueError(
                f"batch_size must be <= {MAX_BATCH} (the exporter names at most {MAX_BATCH} rejected events per answer)"
            )
        if options.poison_retries < 1:
            raise ValueError("poison_retries must be >= 1")
        if options.durable and not spool_dir:
            raise ValueError("durable=True needs a spool_dir: events are written there before emit returns")
        self.name = name
        self.url = url.rstrip("/") + "/v1/events" if not url.rstrip("/").endswith("/v1/events") else url
        self.batch_size = options.batch_size
        self.flush_interval = options.flush_interval
        self.max_queue = options.max_queue
        self.max_retries = options.max_retries
        self.backoff_base = options.backoff_base
        self.backoff_max = options.backoff_max
        self.timeout = (min(3.05, options.timeout), options.timeout)
        self.poison_retries = options.poison_retries
        self.durable = options.durable
        self._session = session or requests.Session()
        # NDJSON rather than a JSON array: a damaged line (say, in a spool a crash tore) is rejected
        # on its own instead of failing the whole batch.
        self._session.headers["Content-Type"] = "application/x-ndjson"
        self._session.headers["User-Agent"] = "tradewatch-client"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        # Durable mode: smaller segments, kept open when caught up (no file churn per emit), so a
        # crash re-sends at most one segment of already delivered events (duplicates, ignored).
        self._spool = (
            Spool(spool_dir, name, max_segment_bytes=1024 * 1024, durable=True)
            if options.durable
            else Spool(spool_dir, name)
            if spool_dir
            else None
        )
        self.dead_letter = DeadLetter(dead_letter_dir, name) if dead_letter_dir else None
        self._cond = threading.Condition()
        self._buffer: deque[tuple[int, bytes]] = deque()
        self._interrupt = threading.Event()
        self._seq = 0
        self._closing = False
        self._closed = False
        self._flush_target = 0
        self._replay_failures = 0
        self._next_replay = 0.0
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
            if self.durable:
                self._put_durable(seq, line)
                return
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
            log.error(
                "event dropped: client buffer full and no spool_dir configured",
                channel=self.name,
                dropped_total=dropped,
            )

    def _put_durable(self, seq: int, line: bytes) -> None:
        """Under the lock: on disk and fdatasync'd before emit() returns; a disk error raises."""
        spool = self._spool
        assert spool is not None
        spool.append([(seq, line)])  # OSError propagates: the caller must know the event is not kept
        spool.sync()
        self._c["emitted"] += 1
        self._c["spooled"] += 1
        if spool.pending >= self.batch_size or spool.pending == 1:
            self._cond.notify()

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
                emitted=c["emitted"],
                accepted=c["accepted"],
                duplicates=c["duplicates"],
                rejected=c["rejected"],
                rejected_reasons=dict(self._reasons),
                dropped=c["dropped"],
                dead_lettered=c["dead_lettered"],
                dead_letter_failed=c["dead_letter_failed"],
                splits=c["splits"],
                spooled=c["spooled"],
                replayed=c["replayed"],
                overflowed=c["overflowed"],
                retries=c["retries"],
                batches=c["batches"],
                buffered=len(self._buffer),
                spool_pending=self._spool.pending if self._spool else 0,
                last_error=self._last_error,
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
            log.error(
                "cannot write the client spool; keeping events in memory",
                channel=self.name,
                error=str(exc),
                events=len(batch),
            )
            return False
        self._c["spooled"] += len(batch)
        return True

    def _finish(self, batch: list[tuple[int, bytes]]) -> bool:
        self._drop(batch)
        with self._cond:
            if self._spool is not None:
                self._spool.close()
            self._cond.notify_all()
        if self.dead_letter is not None:
            self.dead_letter.close()
        return False

    def _drop(self, batch: list[tuple[int, bytes]]) -> None:
        """Without a spool, what is still in memory at close is lost, and said so."""
        if not batch:
            return
        with self._cond:
            self._c["dropped"] += len(batch)
            self._settled += len(batch)
            self._cond.notify_all()
        log.error("client closed with undelivered events and no spool_dir", channel=self.name, dropped=len(batch))

    def _deliver(self, batch: list[tuple[int, bytes]]) -> None:
        lines = [line for _, line in batch]
        limit = self.max_retries + 1 if self._spool is not None else None
        done = self._transmit(lines, settle=True, attempts=limit)
        rest = batch[done:]
        if not rest:
            return
        if self._spool is None:  # only when closing: no spool to keep them
            self._drop(rest)
            return
        with self._cond:
            spooled = self._to_spool(rest)
            if spooled:
                self._replay_failures = 1
                self._next_replay = time.monotonic() + self._backoff(1)
        if spooled:
            log.warning(
                "exporter unreachable; events spooled to disk",
                channel=self.name,
                events=len(rest),
                error=self._last_error,
            )
        elif self._closing:
            self._drop(rest)
        else:
            self._deliver(rest)  # the spool disk failed too: keep trying from memory

    def _replay_once(self) -> None:
        spool = self._spool
        assert spool is not None
        with self._cond:
            lines, offsets = spool.read(self.batch_size)
        # Settled only once committed: flush() must not return while the lines are still on disk.
        done = self._transmit(lines, settle=False, attempts=1) if lines else 0
        if done:
            with self._cond:
                spool.commit(done, offsets[done - 1])
                self._c["replayed"] += done
                self._settled += done
                self._cond.notify_all()
        if done < len(lines):
            self._replay_failures += 1
            self._next_replay = time.monotonic() + self._backoff(self._replay_failures)
            return
        if lines and self._replay_failures:
            log.info("exporter reachable again; replaying spool", channel=self.name, pending=spool.pending)
        self._replay_failures = 0
        self._next_replay = 0.0

    def _transmit(self, lines: list[bytes], *, settle: bool, attempts: int | None) -> int:
        """Deliver ``lines`` in order; returns how many leading lines got a final verdict.

        Stops early (returning fewer) once the exporter was unavailable ``attempts`` times in a row
        (None: until the client closes). A batch that fails with 413 or a content 5xx is split in
        halves, the first half sent first, so what reaches the exporter keeps emit order.
        """
        chunks: deque[tuple[int, int]] = deque([(0, len(lines))])  # [lo, hi) ranges still to send
        done = 0
        unavailable = failed_alone = 0
        self._counted_ahead = 0
        while chunks:
            lo, hi = chunks[0]
            outcome, resolved = self._post(lines[lo:hi], settle=settle, attempts=failed_alone + 1)
            if outcome == _Outcome.DONE:
                unavailable = failed_alone = 0
                if lo + resolved < hi:  # the answer named only the first rejections: ask about the rest
                    chunks[0] = (lo + resolved, hi)
                    continue
                else:
                    chunks.popleft()
                done = lo + resolved
                continue
            if outcome in (_Outcome.SPLIT, _Outcome.FAILED) and hi - lo > 1:
                mid = (lo + hi) // 2
                chunks[0] = (mid, hi)
                chunks.appendleft((lo, mid))
                with self._cond:
                    self._c["splits"] += 1
                continue
            if outcome == _Outcome.FAILED:
                failed_alone += 1
                if failed_alone >= self.poison_retries:
                    self._refuse_poison(lines[lo], failed_alone, settle)
                    chunks.popleft()
                    done = hi
                    failed_alone = 0
                    continue
            else:
                unavailable += 1
                if (attempts is not None and unavailable >= attempts) or self._closing:
                    return done
            if self._closing and attempts is not None:
                return done
            self._sleep(self._backoff(max(unavailable, failed_alone)))
        return done

    def _refuse_poison(self, line: bytes, attempts: int, settle: bool) -> None:
        status, message = self._last_failure
        log.error(
            "event dead-lettered: the exporter failed on it alone, repeatedly",
            channel=self.name,
            status=status,
            attempts=attempts,
            **_event_fields(line),
        )
        self._settle_refused([(line, "server_error", message)], status, settle, attempts=attempts)

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads many clients restarting against one exporter.
        cap = min(self.backoff_max, self.backoff_base * (2 ** min(attempt - 1, 30)))
        return self._rng.uniform(cap / 2, cap)

    def _sleep(self, seconds: float) -> None:
        self._interrupt.wait(seconds)
        self._interrupt.clear()

    def _post(self, lines: list[bytes], *, settle: bool = True, attempts: int = 1) -> tuple[int, int]:
        """POST one batch; account for the verdicts. Returns (outcome, lines settled)."""
        body = b"\n".join(lines) + b"\n"
        try:
            response = self._session.post(self.url, data=body, timeout=self.timeout)
        except requests.RequestException as exc:
            return self._retry(f"{type(exc).__name__}: {exc}"), 0
        status = response.status_code
        if status == 413 and len(lines) > 1:
            return _Outcome.SPLIT, 0
        if status in UNAVAILABLE_STATUS or status in RETRY_STATUS:
            if status in (401, 403):
                log.error(
                    "authentication failure: the exporter refused the client's token",
                    channel=self.name,
                    status=status,
                    url=self.url,
                )
            retry_after = response.headers.get("Retry-After")
            if retry_after and retry_after.isdigit():
                self._next_replay = max(self._next_replay, time.monotonic() + min(float(retry_after), self.backoff_max))
            return self._retry(f"HTTP {status} from {self.url}"), 0
        if status >= 500:
            self._last_failure = (status, _error_text(response.content) or f"HTTP {status}")
            self._retry(f"HTTP {status} from {self.url} ({len(lines)} events)")
            return _Outcome.FAILED, 0
        return _Outcome.DONE, self._verdict(status, response.content, lines, settle, attempts)

    _last_failure: tuple[int, str] = (500, "")
    # Events of a resent tail already counted as accepted by the answer before (they come back as
    # duplicates); sender thread only.
    _counted_ahead = 0

    def _retry(self, error: str) -> int:
        with self._cond:
            self._c["retries"] += 1
            self._last_error = error
        return _Outcome.RETRY

    def _verdict(self, status: int, content: bytes, lines: list[bytes], settle: bool, attempts: int) -> int:
        """Count a 2xx/4xx answer and dead-letter what it refused; returns the lines it settled."""
        try:
            body = orjson.loads(content) if content else {}
        except orjson.JSONDecodeError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        listed = body.get("rejected") if isinstance(body.get("rejected"), list) else []
        refused: dict[int, tuple[str, str]] = {}
        for item in listed:
            index = item.get("index") if isinstance(item, dict) else None
            if isinstance(index, int) and 0 <= index < len(lines):
                refused[index] = (str(item.get("reason", "unknown"))[:64], str(item.get("message", ""))[:500])
        resolved = len(lines)
        total = body.get("rejected_total")
        ahead, self._counted_ahead = self._counted_ahead, 0
        if isinstance(total, int) and total > len(refused) and refused:
            # The answer names only the first rejections: everything after the last one named is
            # sent again (the accepted come back as duplicates, the refused get named).
            resolved = max(refused) + 1
            self._counted_ahead = len(lines) - resolved - (total - len(refused))
        if status >= 400 and not refused:
            # A 4xx with no per-item detail (e.g. 413 for one event): the whole request is refused.
            reason = str(body.get("reason") or body.get("error") or f"http_{status}")[:64]
            if status == 413 and not body.get("reason"):
                reason = "too_large"
            message = _error_text(content) or f"HTTP {status}"
            refused = dict.fromkeys(range(len(lines)), (reason, message))
        n_refused = len(refused)
        duplicates = int(body.get("duplicates", 0) or 0) if status < 400 else 0
        accepted = int(body.get("accepted", 0) or 0) if status < 400 else 0
        if resolved < len(lines):  # the exporter's totals cover the tail too: take them as they are
            accepted = max(0, min(accepted, len(lines) - n_refused))
        else:
            duplicates = max(0, min(duplicates - ahead, resolved - n_refused))
            accepted = resolved - n_refused - duplicates - ahead
        with self._cond:
            self._c["batches"] += 1
            self._c["accepted"] += accepted
            self._c["duplicates"] += duplicates
            if settle:
                self._settled += resolved - n_refused
                self._cond.notify_all()
        if refused:
            items = [(lines[i], reason, message) for i, (reason, message) in sorted(refused.items())]
            for line, reason, message in items[:MAX_LOGGED_REJECTIONS]:
                log.warning(
                    "event rejected by the exporter",
                    channel=self.name,
                    reason=reason,
                    message=message[:200],
                    status=status,
                    **_event_fields(line),
                )
            if n_refused > MAX_LOGGED_REJECTIONS:
                log.warning(
                    "more events rejected by the exporter",
                    channel=self.name,
                    not_logged=n_refused - MAX_LOGGED_REJECTIONS,
                )
            self._settle_refused(items, status, settle, attempts=attempts)
        return resolved

    def _settle_refused(self, items: list[tuple[bytes, str, str]], status: int, settle: bool, *, attempts: int) -> None:
        """Refused for good: to the dead-letter file (fdatasync'd), counted, then settled."""
        written = 0
        if self.dead_letter is not None:
            written = self.dead_letter.write(
                [
                    deadletter.record(
                        line, channel=self.name, status=status, reason=reason, message=message, attempts=attempts
                    )
                    for line, reason, message in items
                ]
            )
        with self._cond:
            self._c["rejected"] += len(items)
            self._c["dead_lettered"] += written
            self._c["dead_letter_failed"] += len(items) - written if self.dead_letter is not None else 0
            for _, reason, _ in items:
                self._reasons[reason] += 1
            if settle:
                self._settled += len(items)
                self._cond.notify_all()


def _event_fields(line: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(line)
        return {"event_type": event.get("type"), "event_id": event.get("event_id")}
    except (orjson.JSONDecodeError, AttributeError):
        return {}


def _error_text(content: bytes) -> str:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content[:200].decode("utf-8", "replace")
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or "")[:500]
    return ""
