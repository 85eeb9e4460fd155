"""Hand-written, fast validation of ingested events, shared by the trading and model exporters.

An exporter describes each event type as a list of fields, each a ``(name, check, required)``
tuple where ``check`` turns a raw JSON value into its normalized form or raises :class:`Invalid`
with a bounded reason code. :class:`EventValidator` adds the common envelope (``type``, ``ts``,
``event_id``, ``strategy``, ``account``, ``venue``, ``schema_version``) and returns the normalized
event: known fields only, numbers as floats, ``ts`` as Unix seconds. The JSON Schema files under
``tradewatch/schemas`` document the same rules; a test checks that both agree.

Numbers may be given as JSON numbers or as decimal strings (``"101.25"``, as many venues send
prices); ``"NaN"``, ``"Infinity"`` and out-of-range values are rejected as ``non_finite``.

    validator = EventValidator({"heartbeat": [req("component", text()), req("status", enum("up"))]})
    event = validator(raw)        # normalized dict, or raises Invalid(reason, message)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

# Every reason code a rejection can carry (the `reason` label of tradewatch_events_rejected_total).
REASONS = (
    "invalid_json", "not_an_object", "missing_field", "wrong_type", "non_finite", "negative_quantity",
    "out_of_range", "invalid_value", "invalid_timestamp", "unknown_type", "unsupported_version",
    "too_large", "unauthorized", "empty",
)

MAX_STRING = 256  # identifiers and codes; free text is cut, not rejected
MAX_TEXT = 1024
MAX_EPOCH = 1e11  # seconds; larger values are almost certainly milliseconds


class Invalid(ValueError):
    """A rejected value: a bounded ``reason`` code and a human message."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


Check = Callable[[Any], Any]
FieldSpec = tuple[str, Check, bool]

_NUMERIC = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def req(name: str, check: Check) -> FieldSpec:
    return (name, check, True)


def opt(name: str, check: Check) -> FieldSpec:
    return (name, check, False)


def _as_float(value: Any) -> float:
    # bool is an int subclass in Python: a JSON true is not a number.
    if value.__class__ is float:
        out = value
    elif value.__class__ is int:
        try:
            out = float(value)
        except OverflowError:
            raise Invalid("non_finite", "number too large") from None
    elif isinstance(value, str):
        if not _NUMERIC.fullmatch(value):
            low = value.strip().lower()
            if low in ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
                raise Invalid("non_finite", f"{value!r} is not a finite number")
            raise Invalid("wrong_type", f"expected a number, got the string {value[:40]!r}")
        out = float(value)
    else:
        raise Invalid("wrong_type", f"expected a number, got {_kind(value)}")
    if out != out or out in (math.inf, -math.inf):
        raise Invalid("non_finite", f"{value!r} is not a finite number")
    return out


def number(minimum: float | None = None, maximum: float | None = None, *,
           positive: bool = False, quantity: bool = False) -> Check:
    """A finite number; ``positive`` means > 0. ``quantity`` reports a bad sign as negative_quantity."""
    sign_reason = "negative_quantity" if quantity else "out_of_range"

    def check(value: Any) -> float:
        out = _as_float(value)
        if positive and out <= 0:
            raise Invalid(sign_reason, f"must be greater than 0, got {out!r}")
        if minimum is not None and out < minimum:
            raise Invalid(sign_reason if minimum == 0 else "out_of_range",
                          f"must be >= {minimum}, got {out!r}")
        if maximum is not None and out > maximum:
            raise Invalid("out_of_range", f"must be <= {maximum}, got {out!r}")
        return out

    return check


def integer(minimum: int | None = None) -> Check:
    def check(value: Any) -> int:
        out = _as_float(value)
        if out != int(out):
            raise Invalid("wrong_type", f"expected an integer, got {value!r}")
        if minimum is not None and out < minimum:
            raise Invalid("negative_quantity" if minimum == 0 else "out_of_range",
                          f"must be >= {minimum}, got {value!r}")
        return int(out)

    return check


def text(max_length: int = MAX_STRING) -> Check:
    """A non-empty string; identifiers longer than ``max_length`` are rejected."""

    def check(value: Any) -> str:
        if value.__class__ is not str:
            raise Invalid("wrong_type", f"expected a string, got {_kind(value)}")
        if not value:
            raise Invalid("invalid_value", "must not be empty")
        if len(value) > max_length:
            raise Invalid("out_of_range", f"longer than {max_length} characters")
        return value

    return check


def free_text(value: Any) -> str:
    """Human text (messages): any string, cut to MAX_TEXT."""
    if value.__class__ is not str:
        raise Invalid("wrong_type", f"expected a string, got {_kind(value)}")
    return value[:MAX_TEXT]


def enum(*options: str) -> Check:
    allowed = frozenset(options)
    shown = ", ".join(options)

    def check(value: Any) -> str:
        if value.__class__ is not str:
            raise Invalid("wrong_type", f"expected one of {shown}, got {_kind(value)}")
        if value not in allowed:
            raise Invalid("invalid_value", f"expected one of {shown}, got {value[:40]!r}")
        return value

    return check


def boolean(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise Invalid("wrong_type", f"expected true or false, got {_kind(value)}")


def timestamp(value: Any) -> float:
    """RFC 3339 with an offset (``Z`` or ``+02:00``) or Unix seconds -> Unix seconds."""
    if value.__class__ is str and not _NUMERIC.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("invalid_timestamp", f"not an RFC 3339 timestamp: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            raise Invalid("invalid_timestamp", f"timestamp {value[:40]!r} has no time zone offset")
        return parsed.timestamp()
    try:
        out = _as_float(value)
    except Invalid as exc:
        if exc.reason == "wrong_type":
            raise Invalid("invalid_timestamp",
                          f"expected RFC 3339 text or Unix seconds, got {_kind(value)}") from None
        raise
    if out < 0 or out > MAX_EPOCH:
        raise Invalid("invalid_timestamp", f"{out!r} is not Unix seconds (milliseconds?)")
    return out


def mapping(values: Check | None = None, max_items: int = 1000) -> Check:
    """An object; ``values`` checks each value."""

    def check(value: Any) -> dict[str, Any]:
        if value.__class__ is not dict:
            raise Invalid("wrong_type", f"expected an object, got {_kind(value)}")
        if len(value) > max_items:
            raise Invalid("out_of_range", f"more than {max_items} entries")
        if values is None:
            return value
        out = {}
        for k, v in value.items():
            try:
                out[k] = values(v)
            except Invalid as exc:
                raise Invalid(exc.reason, f"[{k[:40]!r}]: {exc.message}") from None
        return out

    return check


def any_of(*checks: Check) -> Check:
    """The first check that accepts the value wins; the last one's error is reported."""

    def check(value: Any) -> Any:
        error: Invalid | None = None
        for c in checks:
            try:
                return c(value)
            except Invalid as exc:
                error = exc
        assert error is not None
        raise error

    return check


def nullable(inner: Check) -> Check:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(value.__class__, value.__class__.__name__)


ENVELOPE: tuple[FieldSpec, ...] = (
    opt("strategy", text()),
    opt("account", text()),
    opt("venue", text()),
)
_EVENT_ID = text()
SUPPORTED_VERSIONS = frozenset({1})


class EventValidator:
    """Validates one decoded JSON value against the envelope plus its type's fields."""

    def __init__(self, types: Mapping[str, Iterable[FieldSpec]]):
        self.types = {name: tuple(ENVELOPE) + tuple(fields) for name, fields in types.items()}
        self._type_list = ", ".join(sorted(self.types))

    def __call__(self, raw: Any) -> dict[str, Any]:
        if raw.__class__ is not dict:
            raise Invalid("not_an_object", f"an event must be a JSON object, got {_kind(raw)}")
        etype = raw.get("type")
        if etype is None:
            raise Invalid("missing_field", "missing required field 'type'")
        fields = self.types.get(etype) if etype.__class__ is str else None
        if fields is None:
            shown = etype[:40] if etype.__class__ is str else _kind(etype)
            raise Invalid("unknown_type", f"unknown event type {shown!r}; known: {self._type_list}")
        version = raw.get("schema_version", 1)
        if version.__class__ not in (int, float) or version not in SUPPORTED_VERSIONS:
            raise Invalid("unsupported_version", f"schema_version {version!r} is not supported (1)")
        out: dict[str, Any] = {"type": etype}
        try:
            out["event_id"] = _EVENT_ID(raw["event_id"])
        except KeyError:
            raise Invalid("missing_field", "missing required field 'event_id'") from None
        except Invalid as exc:
            raise Invalid(exc.reason, f"event_id: {exc.message}") from None
        if "ts" not in raw:
            raise Invalid("missing_field", "missing required field 'ts'")
        out["ts"] = timestamp(raw["ts"])
        for name, check, required in fields:
            value = raw.get(name)
            if value is None:
                if required:
                    raise Invalid("missing_field", f"missing required field {name!r}")
                continue
            try:
                out[name] = check(value)
            except Invalid as exc:
                raise Invalid(exc.reason, f"{name}: {exc.message}") from None
        return out
