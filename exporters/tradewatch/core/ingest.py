"""Lossless event ingestion shared by the trading and model exporters (no domain knowledge here).

The API, in full::

    journal  = Journal(path, fsync="batch")                  # tradewatch.core.journal
    ingestor = EventIngestor(journal, validator, fold)       # validator(raw) -> normalized dict or
                                                             #   raises validate.Invalid(reason, msg)
    ingestor.start()                                         # load snapshot + replay (before serving)
    result = ingestor.ingest(items)                          # list of decoded JSON values
    result = ingestor.ingest_body(body, content_type)        # one event / JSON array / NDJSON bytes
    mount_ingest(exporter, ingestor, token=secret)           # POST /v1/events + metrics + upkeep
    with ingestor.lock: ...                                  # read the fold consistently in collect()
    Tailer(path, ingestor, offset_file=f).start()            # tail mode (tradewatch.core.tail)

With the standard settings (journal.*, ingest.*) an exporter needs three lines::

    settings = [*common_settings(port), *ingest_settings("model-journal"), ...]
    ingestor = ingestor_from_config(config, validator, fold, errors=exporter.errors)  # replayed
    mount_ingest(exporter, ingestor, token=read_token(config))

``fold`` is any object with ``apply(event)``, ``to_snapshot()`` (orjson-serializable) and
``from_snapshot(data)``. Each accepted event is normalized by the validator, stamped with
``received_at`` (ingest wall-clock time, for "age" gauges), appended to the journal and applied to
the fold under one lock *before* the caller gets its acknowledgement. Duplicate ``event_id``s
(the last ``dedupe_window`` ids, as 64-bit digests, kept across restarts by the snapshot) are
acknowledged and ignored.
Replay at start-up feeds the journaled events to the same ``apply``, so the fold, and every count
derived from it, comes back exactly after a crash.

Metrics (docs/metrics.md, "Shared"): ``tradewatch_events_accepted_total{type}``,
``tradewatch_events_rejected_total{reason}``, ``tradewatch_events_duplicate_total``,
``tradewatch_last_event_timestamp_seconds`` and ``tradewatch_journal_*``.
"""

from __future__ import annotations

import gc
import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import methodcaller
from pathlib import Path
from typing import Any, Protocol

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tradewatch.core import config as cfg
from tradewatch.core.body import (
    DEFAULT_MAX_ITEMS,
    VALUES_PER_ITEM,
    BadItem,
    TooLarge,
    parse_body,
)
from tradewatch.core.correlation import of_item
from tradewatch.core.dedupe import DedupeWindow
from tradewatch.core.http import HTTPError, Request, Response
from tradewatch.core.journal import FSYNC_POLICIES, Journal, JournalError
from tradewatch.core.logging import get_logger
from tradewatch.core.validate import Invalid

log = get_logger("tradewatch.ingest")

MAX_REPORTED = 1000  # rejections listed one by one in a response (all are counted)
DEDUPE_KEY = "dedupe_key"  # journal-only field: DedupeWindow.digest(event_id)
_pop_key = methodcaller("pop", DEDUPE_KEY, None)


class Fold(Protocol):
    def apply(self, event: dict[str, Any]) -> None: ...
    def to_snapshot(self) -> Any: ...
    def from_snapshot(self, data: Any) -> None: ...


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    # {"index", "reason", "message"} of the first MAX_REPORTED rejections; ``reasons`` counts them all.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, index: int, reason: str, message: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append({"index": index, "reason": reason, "message": message})

    def body(self) -> dict[str, Any]:
        out = {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}
        total = sum(self.reasons.values())
        if total > len(self.rejected):  # a body of a million bad items gets a bounded answer
            out["rejected_total"] = total
        return out

    @property
    def status(self) -> int:
        """200 when anything was acknowledged; 400 when nothing parsed; otherwise 422."""
        if self.accepted or self.duplicates:
            return 200
        if self.reasons and set(self.reasons) <= {"invalid_json", "empty"}:
            return 400
        return 422


class Unavailable(Exception):
    """The journal could not be written: nothing in the request was acknowledged."""


def _short(exc: Exception) -> str:
    return str(exc).split(":", 1)[0][:80]


class RateLimitedLog:
    """Logs at most ``burst`` messages per key per ``period`` seconds, then a count of the rest."""

    def __init__(self, period: float = 10.0, burst: int = 10, clock: Callable[[], float] = time.monotonic):
        self.period = period
        self.burst = burst
        self.clock = clock
        self._windows: dict[str, list[float]] = {}  # key -> [window start, logged, suppressed]
        self._lock = threading.Lock()

    def __call__(self, key: str, text: str, /, **fields: Any) -> bool:
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window[0] >= self.period:
                if window is not None and window[2]:
                    log.warning(
                        "rejections suppressed from the log",
                        reason=key,
                        suppressed=int(window[2]),
                        period_seconds=self.period,
                    )
                window = self._windows[key] = [now, 0, 0]
            if window[1] >= self.burst:
                window[2] += 1
                return False
            window[1] += 1
        log.warning(text, reason=key, **fields)
        return True


class EventIngestor:
    """Validate, deduplicate, journal and fold events; expose the shared ingest metrics."""

    def __init__(
        self,
        journal: Journal,
        validate: Callable[[Any], dict[str, Any]],
        fold: Fold,
        *,
        dedupe_window: int = 1_000_000,
        snapshot_every: int = 500_000,
        errors: Any = None,
        clock: Callable[[], float] = time.time,
        max_items: int = DEFAULT_MAX_ITEMS,
    ):
        self.journal = journal
        self.max_items = max_items  # per request body (0: no limit); the tailer ingests in slices of it
        self.validate = validate
        self.fold = fold
        self.dedupe_window = dedupe_window
        self.snapshot_every = snapshot_every
        self.errors = errors  # the exporter's tradewatch_errors_total Counter, when there is one
        self.clock = clock
        self.lock = threading.RLock()
        self.accepted: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.duplicates = 0
        self.last_event_time = 0.0
        self.started = False
        self.dedupe = DedupeWindow(dedupe_window)
        self._log_rejection = RateLimitedLog()
        # Set while the journal cannot be written (the reason, for /readyz); cleared by the next
        # successful write or probe.
        self.journal_problem = ""
        self.probe_interval = 1.0
        self._probe_bytes = 64 * 1024
        self._last_probe = 0.0

    # ------------------------------------------------------------------ start-up
    def start(self) -> int:
        """Load the snapshot and replay the journal after it; returns the events replayed."""
        with self.lock:
            data = self.journal.load_snapshot()
            if data is not None:
                self.fold.from_snapshot(data["fold"])
                self.accepted = {k: int(v) for k, v in data.get("accepted", {}).items()}
                self.last_event_time = float(data.get("last_event_time", 0.0))
                if "dedupe" in data:
                    self.dedupe.from_snapshot(data["dedupe"])
            # Replay allocates millions of dicts that all stay alive: the cyclic GC would rescan them
            # over and over (a third of the replay time) and can find nothing to free.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                count = self.journal.replay(self._replay_batch)
            finally:
                if gc_was_enabled:
                    gc.enable()
            self.started = True
        log.info(
            "journal replayed",
            events=count,
            seconds=round(self.journal.replay_seconds, 3),
            corrupt_lines=self.journal.corrupt_lines,
            directory=str(self.journal.directory),
        )
        return count

    def _replay_batch(self, events: list[dict[str, Any]]) -> None:
        # The hot loop of start-up; the journal never repeats an id unless edited by hand.
        dedupe = self.dedupe
        # Lines carry their digest (dedupe_key), saving a hash per event at start-up.
        keys = list(map(_pop_key, events))
        if dedupe.capacity:
            digests = keys
            if None in keys:  # journaled before lines carried the key
                digest = dedupe.digest
                digests = [k if k is not None else digest(e["event_id"]) for k, e in zip(keys, events, strict=True)]
            flags = dedupe.seen(digests)
            if any(flags):  # only a hand-edited journal repeats an id
                events = [e for e, dup in zip(events, flags, strict=True) if not dup]
                digests = [d for d, dup in zip(digests, flags, strict=True) if not dup]
            dedupe.add(digests)
        accepted = self.accepted
        get = accepted.get
        apply = self.fold.apply
        it = iter(events)
        event = None
        while True:
            try:
                for event in it:
                    etype = event["type"]
                    accepted[etype] = get(etype, 0) + 1
                    apply(event)
                break
            except Exception as exc:  # the iterator resumes after the failing event
                self._fold_failed(event, exc)
        if events:
            self.last_event_time = max(self.last_event_time, events[-1].get("received_at", 0.0))

    def _apply(self, event: dict[str, Any]) -> None:
        try:
            self.fold.apply(event)
        except Exception as exc:
            self._fold_failed(event, exc)

    def _fold_failed(self, event: dict[str, Any], exc: Exception) -> None:
        # A fold bug must not lose the rest of the batch; the event stays journaled.
        self._error("fold")
        log.error("fold failed on an event", type=event.get("type"), error=str(exc), exc_info=True)

    def _error(self, kind: str) -> None:
        if self.errors is not None:
            self.errors.labels(kind).inc()

    # ------------------------------------------------------------------ ingest
    def reject(self, reason: str, message: str, count: int = 1, **fields: Any) -> None:
        """Count (and log, rate-limited) rejections that never reached the validator."""
        with self.lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + count
        self._log_rejection(reason, "event rejected", message=message, count=count, **fields)

    def ingest_body(self, body: bytes, content_type: str = "", *, source: str = "http") -> IngestResult:
        """Decode and ingest one request body; raises :class:`TooLarge` (counted) past the limits."""
        try:
            items = parse_body(body, content_type, self.max_items)
        except TooLarge as exc:
            self.reject(exc.reason, exc.message, source=source)
            raise
        if not items:
            self.reject("empty", "no events in the body", source=source)
            result = IngestResult()
            result.reject(0, "empty", "no events in the body")
            return result
        return self.ingest(items, source=source)

    def ingest(self, items: Sequence[Any], *, source: str = "api") -> IngestResult:
        """Validate each item on its own; journal and fold the valid new ones; then return.

        Raises :class:`Unavailable` (and acknowledges nothing) when the journal cannot be written.
        """
        result = IngestResult()
        reject = result.reject
        valid: list[dict[str, Any]] = []
        digests: list[int] = []
        bodies: list[bytes] = []  # each event serialized, without received_at and dedupe_key
        validate = self.validate
        digest = self.dedupe.digest
        dumps = orjson.dumps
        for index, raw in enumerate(items):
            if raw.__class__ is BadItem:
                reject(index, raw.reason, raw.message)
                continue
            try:
                event = validate(raw)
            except Invalid as exc:
                reject(index, exc.reason, exc.message)
                continue
            except Exception as exc:  # a validator bug: reject the item, keep serving
                self._error("ingest")
                log.error("validator failed", error=str(exc), exc_info=True)
                reject(index, "invalid_value", "could not validate")
                continue
            try:
                # Serialized here, outside the lock: what cannot be journaled (a string with a lone
                # UTF-16 surrogate the validator let through) is refused alone, before the dedupe.
                d = digest(event["event_id"])
                bodies.append(dumps(event, option=orjson.OPT_SERIALIZE_NUMPY))
            except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError, UnicodeEncodeError
                reject(index, "invalid_value", f"cannot be stored as UTF-8 JSON ({_short(exc)})")
                continue
            valid.append(event)
            digests.append(d)
        with self.lock:
            now = self.clock()
            stamp = b',"received_at":' + dumps(now) + b',"' + DEDUPE_KEY.encode() + b'":'
            lines: list[bytes] = []
            fresh: list[dict[str, Any]] = []
            fresh_digests: list[int] = []
            for event, body, d, dup in zip(valid, bodies, digests, self.dedupe.seen(digests), strict=True):
                if dup:
                    result.duplicates += 1
                    continue
                event["received_at"] = now
                # The line is the event plus received_at and its dedupe key, as if serialized with them.
                lines.append(body[:-1] + stamp + str(d).encode() + b"}\n")
                fresh.append(event)
                fresh_digests.append(d)
            try:
                self.journal.append(lines)
            except OSError as exc:
                self._journal_failed(exc, sum(map(len, lines)))
                log.error("journal write failed; nothing acknowledged", error=str(exc), events=len(lines))
                raise Unavailable(f"journal write failed: {exc.strerror or exc}") from exc
            if lines and self.journal_problem:
                self._journal_recovered()
            self.dedupe.add(fresh_digests)
            accepted = self.accepted
            for event in fresh:
                etype = event["type"]
                accepted[etype] = accepted.get(etype, 0) + 1
                self._apply(event)
            if fresh:
                self.last_event_time = now
            result.accepted = len(fresh)
            self.duplicates += result.duplicates
            counts = self.rejected
            for reason, n in result.reasons.items():
                counts[reason] = counts.get(reason, 0) + n
        for r in result.rejected:
            cid = of_item(items[r["index"]])
            extra = {"correlation_id": cid} if cid else {}
            self._log_rejection(
                r["reason"], "event rejected", message=r["message"], index=r["index"], source=source, **extra
            )
        return result

    # ------------------------------------------------------------------ journal health
    def _journal_failed(self, exc: OSError, size: int) -> None:
        self._error("journal")
        self.journal_problem = f"journal not writable: {exc.strerror or exc} ({self.journal.directory})"
        self._probe_bytes = min(max(size, 64 * 1024), 4 * 1024 * 1024)
        self._last_probe = time.monotonic()

    def _journal_recovered(self) -> None:
        log.info("journal writable again", directory=str(self.journal.directory))
        self.journal_problem = ""

    def journal_ready(self) -> tuple[bool, str]:
        """Readiness of the journal: replayed and writable. While a write has failed, probe it (at most
        every ``probe_interval`` seconds) so readiness comes back by itself once space returns."""
        if not self.started:
            return False, "journal not replayed"
        if self.journal_problem and time.monotonic() - self._last_probe >= self.probe_interval:
            self.probe_journal()
        problem = self.journal_problem
        return not problem, problem

    def probe_journal(self) -> bool:
        """Try the journal with a write as large as the one that failed; clears the problem on success."""
        with self.lock:
            if not self.journal_problem:
                return True
            self._last_probe = time.monotonic()
            try:
                self.journal.probe(self._probe_bytes)
            except OSError as exc:
                self.journal_problem = f"journal not writable: {exc.strerror or exc} ({self.journal.directory})"
                return False
            self._journal_recovered()
            return True

    # ------------------------------------------------------------------ upkeep
    def snapshot_data(self) -> dict[str, Any]:
        return {
            "fold": self.fold.to_snapshot(),
            "accepted": dict(self.accepted),
            "last_event_time": self.last_event_time,
            "dedupe": self.dedupe.to_snapshot(),
        }

    def compact(self) -> None:
        """Snapshot the fold now and start a fresh journal file."""
        with self.lock:
            started = time.perf_counter()
            self.journal.snapshot(self.snapshot_data())
        log.info(
            "journal compacted",
            seconds=round(time.perf_counter() - started, 3),
            snapshot_bytes=self.journal.size_bytes(),
        )

    def maintain(self) -> None:
        """Periodic: fsync for the interval policy; compact once enough events piled up."""
        with self.lock:
            try:
                self.journal.flush_if_due()
            except OSError as exc:
                self._journal_failed(exc, 0)
                log.error("journal fsync failed", error=str(exc))
            due = self.snapshot_every and self.journal.events >= self.snapshot_every
        if self.journal_problem:
            self.probe_journal()
            return
        if due:
            try:
                self.compact()
            except OSError as exc:
                self._error("journal")
                log.error("journal compaction failed; will retry", error=str(exc))

    def close(self, *, snapshot: bool = True) -> None:
        """Snapshot (when anything is new) and close the journal."""
        with self.lock:
            if not self.started:
                return
            try:
                if snapshot and self.journal.events:
                    self.journal.snapshot(self.snapshot_data())
            except OSError as exc:
                self._error("journal")
                log.error("snapshot at shutdown failed; the journal will be replayed", error=str(exc))
            self.journal.close()
            self.started = False

    # ------------------------------------------------------------------ metrics
    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        with self.lock:
            accepted = dict(self.accepted)
            rejected = dict(self.rejected)
            duplicates = self.duplicates
            last = self.last_event_time
            j = self.journal
            journal = (j.size_bytes(), j.events, j.replay_seconds, j.replayed)
        acc = CounterMetricFamily("tradewatch_events_accepted", "Events accepted, by event type.", labels=["type"])
        for etype, n in sorted(accepted.items()):
            acc.add_metric([etype], n)
        rej = CounterMetricFamily("tradewatch_events_rejected", "Events rejected, by reason code.", labels=["reason"])
        for reason, n in sorted(rejected.items()):
            rej.add_metric([reason], n)
        dup = CounterMetricFamily(
            "tradewatch_events_duplicate", "Events whose event_id had been seen already; acknowledged and ignored."
        )
        dup.add_metric([], duplicates)
        yield acc
        yield rej
        yield dup
        if last:
            g = GaugeMetricFamily(
                "tradewatch_last_event_timestamp_seconds", "Unix time of the last accepted event (ingest time)."
            )
            g.add_metric([], last)
            yield g
        for name, doc, value in (
            ("tradewatch_journal_size_bytes", "Size of the journal plus snapshot.", journal[0]),
            ("tradewatch_journal_events", "Events in the journal since the last snapshot.", journal[1]),
            ("tradewatch_journal_replay_duration_seconds", "How long the start-up replay took.", journal[2]),
            ("tradewatch_journal_replayed_events", "Events replayed at start-up.", journal[3]),
        ):
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], value)
            yield g


def bearer_ok(request: Request, token: str) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>``."""
    header = request.headers.get("authorization", "")
    supplied = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return hmac.compare_digest(supplied.encode(), token.encode())


def ingest_handler(ingestor: EventIngestor, token: str = "") -> Callable[[Request], Response]:
    """The ``POST /v1/events`` handler: auth, decode, ingest, per-item reasons."""

    def handle(request: Request) -> Response:
        if token and not bearer_ok(request, token):
            ingestor.reject("unauthorized", "missing or wrong bearer token", client=request.client)
            return Response.json(
                401,
                {"error": "unauthorized: send Authorization: Bearer <token>"},
                **{"WWW-Authenticate": 'Bearer realm="tradewatch"'},
            )
        try:
            result = ingestor.ingest_body(request.body, request.headers.get("content-type", ""))
        except Unavailable as exc:
            raise HTTPError(
                503, str(exc), reason="journal_unavailable", retry=True, headers={"Retry-After": "5"}
            ) from None
        except TooLarge as exc:
            raise HTTPError(413, exc.message, reason=exc.reason, limit=exc.limit) from None
        return Response.json(result.status, result.body())

    return handle


def mount_ingest(
    exporter: Any, ingestor: EventIngestor, *, token: str = "", path: str = "/v1/events", maintain_interval: float = 5.0
) -> None:
    """Wire an ingestor into an :class:`~tradewatch.core.app.Exporter` (call ``ingestor.start()`` first)."""
    from tradewatch.core.app import Periodic

    if ingestor.errors is None:
        ingestor.errors = exporter.errors
    # Exported from 0: JournalWriteFailing uses increase(), which cannot see a series born at 1.
    ingestor.errors.labels("journal")
    exporter.add_collector("ingest", ingestor)
    exporter.http.route("POST", path, ingest_handler(ingestor, token), describe="event ingest (POST)")
    exporter.add_task(Periodic("journal-upkeep", maintain_interval, ingestor.maintain, run_first=False))
    exporter.on_stop(ingestor.close)

    def too_large(request_path: str) -> None:
        if request_path == path:
            ingestor.reject("too_large", "request body over http.max_body_bytes (413)")

    exporter.http.on_too_large = too_large
    exporter.readiness.add_check("journal", ingestor.journal_ready)


# --------------------------------------------------------------------------- standard settings


def default_journal_path(dirname: str) -> str:
    """``$XDG_STATE_HOME/tradewatch/<dirname>`` when XDG_STATE_HOME is set, else ``./data/<dirname>``."""
    state = os.environ.get("XDG_STATE_HOME")
    return str(Path(state) / "tradewatch" / dirname) if state else f"./data/{dirname}"


def ingest_settings(journal_dirname: str, *, snapshot_every: int = 500_000) -> list[cfg.Setting]:
    """The journal.* and ingest.* settings every ingesting exporter has."""
    S = cfg.Setting
    return [
        S(
            "journal.path",
            cfg.string(allow_empty=False),
            default_journal_path(journal_dirname),
            "Directory of the event journal and its snapshot (created if missing).",
        ),
        S(
            "journal.fsync",
            cfg.choice(*FSYNC_POLICIES),
            "batch",
            "When to fsync the journal: always (every event), batch (once per ingest request), interval, "
            "never. Every policy survives kill -9; fsync guards against power loss.",
        ),
        S("journal.fsync_interval", cfg.duration(0.001), 1.0, "fsync period for the interval policy."),
        S(
            "journal.snapshot_every",
            cfg.integer(0),
            snapshot_every,
            "Snapshot the state and start a new journal file after this many events (0: only at shutdown).",
        ),
        S(
            "ingest.max_items",
            cfg.integer(1, 1_000_000),
            DEFAULT_MAX_ITEMS,
            f"Most events in one request (413 too_many_items above); a request may also hold at most "
            f"{VALUES_PER_ITEM} JSON values per allowed event (413 too_large).",
        ),
        S(
            "ingest.dedupe_window",
            cfg.integer(0),
            1_000_000,
            "How many recent event_ids are remembered to drop duplicates (kept across restarts).",
        ),
        S("ingest.token", cfg.string(), "", "Bearer token required by POST /v1/events; empty: no auth.", secret=True),
        S("ingest.token_file", cfg.string(), "", "File holding the bearer token (wins over ingest.token)."),
    ]


def read_token(config: Any) -> str:
    """The ingest bearer token: ingest.token_file wins over ingest.token; surrounding space is dropped."""
    path = config["ingest.token_file"]
    if not path:
        return config["ingest.token"]
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise cfg.ConfigError([f"ingest.token_file: cannot read {path} ({exc.strerror or exc})"]) from None


def ingestor_from_config(
    config: Any, validate: Callable[[Any], dict[str, Any]], fold: Fold, *, errors: Any = None
) -> EventIngestor:
    """An ingestor on the configured journal, already replayed (call before serving)."""
    path = config["journal.path"]
    journal = Journal(path, fsync=config["journal.fsync"], interval=config["journal.fsync_interval"])
    ingestor = EventIngestor(
        journal,
        validate,
        fold,
        errors=errors,
        dedupe_window=config["ingest.dedupe_window"],
        snapshot_every=config["journal.snapshot_every"],
        max_items=config["ingest.max_items"],
    )
    try:
        ingestor.start()
    except JournalError as exc:
        raise cfg.ConfigError([f"journal.path: {exc}"]) from None
    except OSError as exc:  # read-only file system, permissions, a file where the directory should be
        where = exc.filename or path
        raise cfg.ConfigError(
            [
                f"journal.path: cannot write the journal at {where} ({exc.strerror or exc}); make {path} "
                f"writable for this user (uid {os.getuid()}) or point journal.path "
                f"({cfg.env_name('journal.path')}) at a writable directory"
            ]
        ) from None
    return ingestor
