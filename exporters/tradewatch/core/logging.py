"""Structured JSON logs: one object per line on stdout, the shape Alloy's pipeline expects.

Every line has ``timestamp`` (UTC RFC 3339, millisecond precision, ``Z``), ``level``, ``service``,
``logger`` and ``event``, plus context fields. ``correlation_id`` is carried through contextvars:
scope it with :func:`correlation` (a context manager) or :func:`with_correlation` (a decorator).
Records from the stdlib :mod:`logging` module (libraries) go through the same processors, so the
two are indistinguishable downstream. Every value passes through the shared :class:`Redactor`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, TypeVar

import orjson
import structlog

from tradewatch.core.redact import Redactor, get_redactor, set_redactor

# The field names the log pipeline (loki/config.alloy) relies on. Tests check both sides.
LOG_FIELDS = ("timestamp", "level", "service", "logger", "event")
LABEL_FIELDS = ("service", "level")
METADATA_FIELDS = ("correlation_id", "logger")

F = TypeVar("F", bound=Callable[..., Any])

_service = "tradewatch"


def _timestamp(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    event["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    return event


def _add_service(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("service", _service)
    return event


def _add_logger(logger: Any, _: str, event: dict[str, Any]) -> dict[str, Any]:
    if "logger" not in event:
        record = event.get("_record")
        if record is not None:
            event["logger"] = record.name
        else:
            event["logger"] = getattr(logger, "name", None) or _service
    return event


def _level(_: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    if method == "exception":
        # structlog's generic BoundLogger does not set exc_info for .exception(): without this the
        # traceback (which the LogExceptionStorm alert looks for) is silently lost.
        event.setdefault("exc_info", True)
    if "level" not in event:
        event["level"] = "warning" if method == "warn" else ("error" if method == "exception" else method)
    else:
        event["level"] = str(event["level"]).lower()
    return event


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return get_redactor().event_dict(event)


def json_bytes(value: Any, option: int = 0) -> bytes:
    """orjson's JSON, or, when a string holds a lone UTF-16 surrogate (which orjson cannot encode), the
    standard library's with that surrogate escaped as ``\\udXXX``: a log line or an error answer must
    never fail because of what a client sent."""
    try:
        return orjson.dumps(value, default=str, option=option)
    except TypeError:
        import json

        return json.dumps(value, default=str, ensure_ascii=True, separators=(",", ":")).encode()


def _orjson_dumps(event: dict[str, Any], **_: Any) -> bytes:
    return json_bytes(event, orjson.OPT_NON_STR_KEYS)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        _level,
        _add_logger,
        _add_service,
        _timestamp,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        _redact,
    ]


class _NamedBytesLogger(structlog.BytesLogger):
    def __init__(self, file: IO[bytes], name: str):
        super().__init__(file)
        self.name = name


class _Factory:
    def __init__(self, file: IO[bytes]):
        self._file = file

    def __call__(self, *args: Any) -> _NamedBytesLogger:
        return _NamedBytesLogger(self._file, args[0] if args else _service)


def setup(
    service: str,
    level: str = "info",
    *,
    account_ids: tuple[str, ...] | list[str] = (),
    stream: IO[bytes] | None = None,
) -> None:
    """Configure structlog and the stdlib root logger to write redacted JSON lines."""
    global _service
    _service = service
    set_redactor(Redactor(account_ids))
    out = stream if stream is not None else sys.stdout.buffer
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO

    structlog.configure(
        processors=[
            _filter(numeric),
            *_shared_processors(),
            structlog.processors.JSONRenderer(serializer=_orjson_dumps),
        ],
        logger_factory=_Factory(out),
        wrapper_class=structlog.BoundLogger,
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *_shared_processors()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(serializer=lambda e, **k: _orjson_dumps(e).decode()),
        ],
    )
    handler = logging.StreamHandler(_TextStream(out))
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Per-request access logs from libraries are noise at info level.
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


class _TextStream:
    """Lets the stdlib handler share the byte stream structlog writes to."""

    def __init__(self, out: IO[bytes]):
        self._out = out

    def write(self, text: str) -> None:
        self._out.write(text.encode())

    def flush(self) -> None:
        self._out.flush()


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "exception": 40, "critical": 50}


def _filter(minimum: int) -> Callable[[Any, str, dict[str, Any]], dict[str, Any]]:
    def processor(_: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if _LEVELS.get(method, 20) < minimum:
            raise structlog.DropEvent
        return event

    return processor


def get_logger(name: str | None = None, **initial: Any) -> Any:
    return structlog.get_logger(name, **initial) if name else structlog.get_logger(**initial)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def correlation(correlation_id: str | None = None, **fields: Any) -> Iterator[str]:
    """Scope a correlation ID (and extra fields) to the enclosed block, thread- and task-safe."""
    cid = correlation_id or new_correlation_id()
    tokens = structlog.contextvars.bind_contextvars(correlation_id=cid, **fields)
    try:
        yield cid
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def with_correlation(func: F) -> F:
    """Give each call of ``func`` its own correlation ID (kept if one is already bound)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current = structlog.contextvars.get_contextvars().get("correlation_id")
        with correlation(current):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
