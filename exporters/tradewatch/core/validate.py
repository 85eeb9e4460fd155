"""Hand-written, fast validation of ingested events, shared by the trading and model exporters.

An exporter describes each event type as a list of fields, each a ``(name, check, required)``
tuple where ``check`` turns a raw JSON value into its normalized form or raises :class:`Invalid`
with a bounded reason code. :class:`EventValidator` adds the common envelope (``type``, ``ts``,
``event_id``, ``strategy``, ``account``, ``venue``, ``schema_version``) and returns the normalized
event: known fields only, numbers as floats, timestamps as Unix seconds.

One truth: the JSON Schemas under ``tradewatch/schemas`` say exactly what this module accepts.
Their shared ``$defs`` (numbers, text, timestamps) are built here by :func:`schema_defs`, and
``tests/fuzz`` generates documents from the schemas and checks schema-valid <=> accepted. The one
thing a schema cannot say is the clock-relative window (:class:`TimeWindow`: no event time more
than ``ingest.max_future_skew`` ahead, optionally none older than ``ingest.max_event_age``).

Numbers may be given as JSON numbers or as decimal strings (``"101.25"``, as many venues send
prices), ASCII digits only and bounded so every accepted string is a finite double (and a nonzero
one stays nonzero); ``"NaN"``, ``"Infinity"`` and numbers beyond double range are ``non_finite``.

    validator = EventValidator({"heartbeat": [req("component", text()), req("status", enum("up"))]})
    event = validator(raw)        # normalized dict, or raises Invalid(reason, message)
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tradewatch.core import correlation

# Every reason code a rejection can carry (the `reason` label of tradewatch_events_rejected_total).
REASONS = (
    "invalid_json",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "non_finite",
    "negative_quantity",
    "out_of_range",
    "invalid_value",
    "invalid_timestamp",
    "timestamp_in_future",
    "timestamp_too_old",
    "unknown_type",
    "unsupported_version",
    "too_large",
    "unauthorized",
    "empty",
)

MAX_STRING = 256  # identifiers and codes; free text is cut, not rejected
MAX_TEXT = 1024
MAX_COUNT = 999_999_999_999_999  # integers (token counts): 15 digits, exact as a double
MAX_FLOAT = sys.float_info.max
# Event time: 1970-01-01T00:00:00Z to 5000-01-01T00:00:00Z, for text and numbers alike. Larger
# numbers are almost certainly milliseconds; every instant in range folds (session time zones
# included) without overflowing datetime.
MIN_TS = 0.0
MAX_TS = 95_617_584_000.0


class Invalid(ValueError):
    """A rejected value: a bounded ``reason`` code and a human message."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


Check = Callable[[Any], Any]
FieldSpec = tuple[str, Check, bool]


# --------------------------------------------------------------------------- patterns (schema = code)


def _below(limit: int) -> str:
    """A regex for the decimal integers 0 <= n < limit (no leading zeros)."""
    digits = str(limit)
    alternatives = ["0"]
    if len(digits) > 1:
        alternatives.append(f"[1-9][0-9]{{0,{len(digits) - 2}}}" if len(digits) > 2 else "[1-9]")
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        top = int(d) - 1
        if top < low:
            continue
        rest = len(digits) - i - 1
        cls = f"[{low}-{top}]" if top > low else str(low)
        alternatives.append(digits[:i] + cls + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(" + "|".join(alternatives) + ")"


# At most 20 integer digits, 30 fraction digits and a 2-digit exponent: |x| < 1e120, and a
# nonzero string is >= 1e-129, so a match never overflows nor underflows to 0.
_INT = "(0|[1-9][0-9]{0,19})"
_FRAC = "([.][0-9]{1,30})?"
_EXP = "([eE][+-]?[0-9]{1,2})?"
NUMBER_PATTERN = f"^-?{_INT}{_FRAC}{_EXP}$"
NONNEGATIVE_PATTERN = f"^{_INT}{_FRAC}{_EXP}$"
ZERO_PATTERN = f"^0([.]0{{1,30}})?{_EXP}$"
RATIO_PATTERN = "^(0([.][0-9]{1,30})?|1([.]0{1,30})?)$"
COUNT_PATTERN = "^(0|[1-9][0-9]{0,14})$"
# Unix seconds as a string: up to MAX_TS, no exponent, up to nanoseconds.
UNIX_PATTERN = f"^({_below(int(MAX_TS))}([.][0-9]{{1,9}})?|{int(MAX_TS)}([.]0{{1,9}})?)$"
TEXT_PATTERN = "^[^\\ud800-\\udfff]*$"  # no lone UTF-16 surrogate (not encodable as UTF-8)


def _rfc3339_pattern() -> str:
    """RFC 3339 date-times from 1970-01-01 to 4999-12-31, calendar-exact (leap years included).

    The first and last day must be written in UTC (Z or +/-00:00) so that every accepted text is
    an instant in [MIN_TS, MAX_TS], the same bounds as Unix seconds.
    """
    d28 = "(0[1-9]|1[0-9]|2[0-8])"
    m_d = f"((0[1-9]|1[0-2])-{d28}|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
    m_d_not_jan1 = f"(01-(0[2-9]|1[0-9]|2[0-8])|(0[2-9]|1[0-2])-{d28}|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
    m_d_not_dec31 = f"((0[1-9]|1[0-2])-{d28}|(0[13-9]|1[0-2])-(29|30)|(0[13578]|10)-31)"
    leap = "(19(7[26]|8[048]|9[26])|[2-4][0-9](0[48]|[2468][048]|[13579][26])|(2[048]|3[26]|4[048])00)"
    years = "(197[1-9]|19[89][0-9]|[2-3][0-9]{3}|4[0-8][0-9]{2}|49[0-8][0-9]|499[0-8])"
    date = f"({years}-{m_d}|1970-{m_d_not_jan1}|4999-{m_d_not_dec31}|{leap}-02-29)"
    edge = "(1970-01-01|4999-12-31)"
    clock = "([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])([.][0-9]{1,9})?"
    offset = "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
    utc = "([Zz]|[+-]00:00)"
    return f"^({date}[Tt ]{clock}{offset}|{edge}[Tt ]{clock}{utc})$"


RFC3339_PATTERN = _rfc3339_pattern()

_search = {p: re.compile(p).search for p in (NUMBER_PATTERN, RATIO_PATTERN, COUNT_PATTERN, UNIX_PATTERN)}
_number_text = _search[NUMBER_PATTERN]
_unix_text = _search[UNIX_PATTERN]
_rfc3339 = re.compile(RFC3339_PATTERN).search
# The fields of an accepted RFC 3339 text, read positionally (the pattern above guarantees them).
_RFC3339_PARTS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))", re.ASCII
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def schema_defs() -> dict[str, Any]:
    """The shared ``$defs`` of both JSON Schemas; a test checks the shipped files carry exactly these."""
    finite = {"type": "number", "minimum": -MAX_FLOAT, "maximum": MAX_FLOAT}
    return {
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_STRING, "pattern": TEXT_PATTERN},
        "free_text": {"type": "string", "description": f"Any string; cut at {MAX_TEXT} characters."},
        "code": {
            "type": "string",
            "description": "Any string: known codes count as themselves, others "
            "as the documented fallback (docs/events.md).",
        },
        "number": {
            "description": 'A finite number, or a decimal string such as "101.25".',
            "anyOf": [finite, {"type": "string", "pattern": NUMBER_PATTERN}],
        },
        "nonnegative": {"anyOf": [{**finite, "minimum": 0}, {"type": "string", "pattern": NONNEGATIVE_PATTERN}]},
        "positive": {
            "anyOf": [
                {**finite, "exclusiveMinimum": 0},
                {"type": "string", "pattern": NONNEGATIVE_PATTERN, "not": {"pattern": ZERO_PATTERN}},
            ]
        },
        "ratio": {
            "anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "string", "pattern": RATIO_PATTERN}]
        },
        "count": {
            "description": f"A whole number 0..{MAX_COUNT}.",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                {"type": "string", "pattern": COUNT_PATTERN},
            ],
        },
        "correlation_id": {
            "type": "string",
            "description": "Ties a decision to its orders, acks, fills and closing trade (docs/events.md); "
            "never a metric label, carried into logs and exemplars.",
            "pattern": correlation.PATTERN,
        },
        "timestamp": {
            "description": "RFC 3339 with an offset, or Unix seconds (not milliseconds), from 1970-01-01 "
            "to 4999-12-31 (write the first and last day in UTC). At ingest, an event "
            "time more than ingest.max_future_skew ahead of the exporter's clock is "
            "refused (timestamp_in_future), and one older than ingest.max_event_age "
            "when that is set (timestamp_too_old).",
            "anyOf": [
                {"type": "string", "pattern": RFC3339_PATTERN},
                {"type": "number", "minimum": MIN_TS, "maximum": MAX_TS},
                {"type": "string", "pattern": UNIX_PATTERN},
            ],
        },
    }


# --------------------------------------------------------------------------- checks


def req(name: str, check: Check) -> FieldSpec:
    return (name, check, True)


def opt(name: str, check: Check) -> FieldSpec:
    return (name, check, False)


def _as_float(value: Any) -> float:
    # bool is an int subclass in Python: a JSON true is not a number.
    if value.__class__ is float:
        out = value
    elif value.__class__ is int:
        # Compared exactly: an integer just beyond the largest double would round down to it.
        if value > MAX_FLOAT or value < -MAX_FLOAT:
            raise Invalid("non_finite", "number too large")
        out = float(value)
    elif isinstance(value, str):
        if not _number_text(value):
            low = value.strip().lower()
            if low in ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
                raise Invalid("non_finite", f"{_show(value)} is not a finite number")
            raise Invalid("wrong_type", f"expected a number, got the string {_show(value)}")
        out = float(value)
    else:
        raise Invalid("wrong_type", f"expected a number, got {_kind(value)}")
    if out != out or out in (math.inf, -math.inf):
        raise Invalid("non_finite", f"{_show(value)} is not a finite number")
    return out


def number(
    minimum: float | None = None, maximum: float | None = None, *, positive: bool = False, quantity: bool = False
) -> Check:
    """A finite number; ``positive`` means > 0. ``quantity`` reports a bad sign as negative_quantity.

    The ranges the schemas can state for decimal strings: any, >= 0, > 0 and 0..1.
    """
    sign_reason = "negative_quantity" if quantity else "out_of_range"
    unsigned = positive or minimum == 0
    ratio = _search[RATIO_PATTERN] if (minimum, maximum) == (0, 1) else None
    if (maximum is not None and ratio is None) or minimum not in (None, 0):
        raise ValueError("number(): decimal strings support the ranges any, >= 0, > 0 and 0..1")

    def check(value: Any) -> float:
        out = _as_float(value)
        if positive and out <= 0:
            raise Invalid(sign_reason, f"must be greater than 0, got {out!r}")
        if minimum is not None and out < minimum:
            raise Invalid(sign_reason if minimum == 0 else "out_of_range", f"must be >= {minimum}, got {out!r}")
        if maximum is not None and out > maximum:
            raise Invalid("out_of_range", f"must be <= {maximum}, got {out!r}")
        if value.__class__ is str:
            if unsigned and value[:1] == "-":
                raise Invalid(sign_reason, f"must not be negative, got {_show(value)}")
            if ratio is not None and not ratio(value):
                raise Invalid("out_of_range", f"write a ratio as 0.x or 1, got {_show(value)}")
        return out

    return check


def integer(minimum: int = 0, maximum: int = MAX_COUNT) -> Check:
    """A whole number in minimum..maximum: a JSON integer (or integral float), or digits as a string."""
    digits = _search[COUNT_PATTERN]
    if minimum != 0:
        raise ValueError("integer(): the schemas state counts from 0")

    def check(value: Any) -> int:
        out = _as_float(value)
        if out != int(out):
            raise Invalid("wrong_type", f"expected an integer, got {_show(value)}")
        if out < minimum:
            raise Invalid("negative_quantity", f"must be >= {minimum}, got {_show(value)}")
        if out > maximum:
            raise Invalid("out_of_range", f"must be <= {maximum}, got {_show(value)}")
        if value.__class__ is str and not digits(value):
            raise Invalid("wrong_type", f"expected an integer, got the string {_show(value)}")
        return int(out)

    return check


def _has_surrogate(value: str) -> bool:
    return not value.isascii() and _SURROGATE.search(value) is not None


def text(max_length: int = MAX_STRING) -> Check:
    """A non-empty string; identifiers longer than ``max_length`` are rejected, as are lone surrogates."""

    def check(value: Any) -> str:
        if value.__class__ is not str:
            raise Invalid("wrong_type", f"expected a string, got {_kind(value)}")
        if not value:
            raise Invalid("invalid_value", "must not be empty")
        if len(value) > max_length:
            raise Invalid("out_of_range", f"longer than {max_length} characters")
        if _has_surrogate(value):
            raise Invalid("invalid_value", "contains a lone UTF-16 surrogate (not valid Unicode text)")
        return value

    return check


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` cut to ``limit`` characters, lone surrogates replaced by U+FFFD."""
    value = value[:limit]
    return _SURROGATE.sub("\ufffd", value) if _has_surrogate(value) else value


def free_text(value: Any) -> str:
    """Human text (messages): any string, cut to MAX_TEXT, lone surrogates replaced by U+FFFD."""
    if value.__class__ is not str:
        raise Invalid("wrong_type", f"expected a string, got {_kind(value)}")
    return clean_text(value)


def enum(*options: str) -> Check:
    allowed = frozenset(options)
    shown = ", ".join(options)

    def check(value: Any) -> str:
        if value.__class__ is not str:
            raise Invalid("wrong_type", f"expected one of {shown}, got {_kind(value)}")
        if value not in allowed:
            raise Invalid("invalid_value", f"expected one of {shown}, got {_show(value)}")
        return value

    return check


@dataclass
class _UnknownCodes:
    """Rate-limited log of codes outside a vocabulary (at most ``burst`` lines per field per period)."""

    period: float = 10.0
    burst: int = 10
    windows: dict[str, list[float]] = field(default_factory=dict)

    def __call__(self, name: str, raw: str, fallback: str) -> None:
        now = time.monotonic()
        window = self.windows.get(name)
        if window is None or now - window[0] >= self.period:
            window = self.windows[name] = [now, 0]
        window[1] += 1
        if window[1] <= self.burst:
            from tradewatch.core.logging import get_logger

            get_logger("tradewatch.ingest").warning(
                "unknown code accepted as its fallback", field=name, value=raw, counted_as=fallback
            )


_unknown_codes = _UnknownCodes()


def vocabulary(name: str, options: Iterable[str], fallback: str) -> Check:
    """A code of a safety event: any string is accepted, so no event is lost to a vocabulary.

    Known codes (compared case-insensitively, ``-`` and spaces as ``_``) count as themselves; any
    other string counts as ``fallback`` (a bounded label) and its raw text goes to the log.
    """
    allowed = frozenset(options)

    def check(value: Any) -> str:
        if value.__class__ is not str:
            raise Invalid("wrong_type", f"expected a string, got {_kind(value)}")
        if value in allowed:
            return value
        code = value.strip().lower().replace("-", "_").replace(" ", "_")
        if code in allowed:
            return code
        _unknown_codes(name, clean_text(value, MAX_STRING), fallback)
        return fallback

    return check


def correlation_id(value: Any) -> str:
    """An ID of 1-64 characters from A-Z a-z 0-9 . _ : - (``tradewatch.core.correlation``)."""
    if value.__class__ is not str:
        raise Invalid("wrong_type", f"expected a string, got {_kind(value)}")
    if not correlation.is_valid(value):
        raise Invalid("invalid_value", f"{_show(value)} is not 1-64 characters of A-Z a-z 0-9 . _ : -")
    return value


def boolean(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise Invalid("wrong_type", f"expected true or false, got {_kind(value)}")


def timestamp(value: Any) -> float:
    """RFC 3339 with an offset (``Z`` or ``+02:00``) or Unix seconds -> Unix seconds in [MIN_TS, MAX_TS]."""
    if value.__class__ is str:
        if _unix_text(value):
            return float(value)
        if not _rfc3339(value):
            raise Invalid("invalid_timestamp", _timestamp_problem(value))
        y, mo, d, h, mi, s, frac, sign, oh, om = _RFC3339_PARTS.match(value).groups()
        out = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC).timestamp()
        if frac:
            out += float(frac)
        if sign:
            out -= (1 if sign == "+" else -1) * (int(oh) * 3600 + int(om) * 60)
        return out
    try:
        out = _as_float(value)
    except Invalid as exc:
        if exc.reason == "wrong_type":
            raise Invalid("invalid_timestamp", f"expected RFC 3339 text or Unix seconds, got {_kind(value)}") from None
        raise
    if out < MIN_TS or out > MAX_TS:
        raise Invalid("invalid_timestamp", f"{out!r} is not Unix seconds between 1970 and 5000 (milliseconds?)")
    return out


def _timestamp_problem(value: str) -> str:
    shown = _show(value)
    if _number_text(value):
        return f"{shown} is not Unix seconds between 1970 and 5000 (milliseconds?)"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.f]Z or +HH:MM): {shown}"
    if parsed.tzinfo is None:
        return f"timestamp {shown} has no time zone offset"
    return f"timestamp {shown} is not RFC 3339 between 1970-01-01 and 4999-12-31"


@dataclass(frozen=True)
class TimeWindow:
    """Event times allowed relative to the exporter's clock at ingest (0: that side is open).

    Applied to ``ts`` and to every other timestamp field (``exchange_ts``), never at replay: the
    journal holds what was accepted, and replay must rebuild the same state.
    """

    max_future: float = 300.0
    max_age: float = 0.0
    clock: Callable[[], float] = time.time

    @classmethod
    def from_config(cls, config: Any) -> TimeWindow:
        return cls(max_future=config["ingest.max_future_skew"], max_age=config["ingest.max_event_age"])

    def check(self, name: str, value: float) -> None:
        now = self.clock()
        if self.max_future and value > now + self.max_future:
            raise Invalid(
                "timestamp_in_future",
                f"{name} is {value - now:.0f} s ahead of the exporter's "
                f"clock (ingest.max_future_skew {self.max_future:g} s)",
            )
        if self.max_age and value < now - self.max_age:
            raise Invalid(
                "timestamp_too_old", f"{name} is {now - value:.0f} s old (ingest.max_event_age {self.max_age:g} s)"
            )


def time_window_settings() -> list[Any]:
    """``ingest.max_future_skew`` and ``ingest.max_event_age`` (both exporters)."""
    from tradewatch.core import config as cfg

    return [
        cfg.Setting(
            "ingest.max_future_skew",
            cfg.duration(0.0),
            TimeWindow.max_future,
            "Refuse events whose ts or exchange_ts is more than this ahead of the exporter's clock "
            "(reason timestamp_in_future); 0: off (e.g. a simulation running faster than time).",
        ),
        cfg.Setting(
            "ingest.max_event_age",
            cfg.duration(0.0),
            TimeWindow.max_age,
            "Refuse events whose ts or exchange_ts is older than this (reason timestamp_too_old); "
            "0 (default): off, so backfills and replays of historic data are accepted.",
        ),
    ]


def mapping(values: Check | None = None, max_items: int = 1000, keys: Check | None = None) -> Check:
    """An object; ``keys`` checks each key (default: :func:`text` rules), ``values`` each value."""
    key_check = keys or text()

    def check(value: Any) -> dict[str, Any]:
        if value.__class__ is not dict:
            raise Invalid("wrong_type", f"expected an object, got {_kind(value)}")
        if len(value) > max_items:
            raise Invalid("out_of_range", f"more than {max_items} entries")
        out = {}
        for k, v in value.items():
            try:
                key_check(k)
                out[k] = v if values is None else values(v)
            except Invalid as exc:
                raise Invalid(exc.reason, f"[{_show(k)}]: {exc.message}") from None
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


def _show(value: Any) -> str:
    """A value for a message: at most 40 characters, printable (no lone surrogates)."""
    return repr(clean_text(value, 40)) if value.__class__ is str else repr(value)[:40]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(value.__class__, value.__class__.__name__)


ENVELOPE: tuple[FieldSpec, ...] = (
    opt("strategy", text()),
    opt("account", text()),
    opt("venue", text()),
    opt("correlation_id", correlation_id),
)
_EVENT_ID = text()
SUPPORTED_VERSIONS = frozenset({1})


class EventValidator:
    """Validates one decoded JSON value against the envelope plus its type's fields.

    With a :class:`TimeWindow`, ``ts`` and the type's timestamp fields must also fall inside it.
    """

    def __init__(self, types: Mapping[str, Iterable[FieldSpec]], window: TimeWindow | None = None):
        self.types = {name: tuple(ENVELOPE) + tuple(fields) for name, fields in types.items()}
        self.window = window
        self._times = {
            name: ("ts", *(f[0] for f in fields if f[1] is timestamp)) for name, fields in self.types.items()
        }
        self._type_list = ", ".join(sorted(self.types))

    def __call__(self, raw: Any) -> dict[str, Any]:
        if raw.__class__ is not dict:
            raise Invalid("not_an_object", f"an event must be a JSON object, got {_kind(raw)}")
        etype = raw.get("type")
        if etype is None:
            raise Invalid("missing_field", "missing required field 'type'")
        fields = self.types.get(etype) if etype.__class__ is str else None
        if fields is None:
            shown = _show(etype) if etype.__class__ is str else _kind(etype)
            raise Invalid("unknown_type", f"unknown event type {shown}; known: {self._type_list}")
        version = raw.get("schema_version", 1)
        if version.__class__ not in (int, float) or version not in SUPPORTED_VERSIONS:
            raise Invalid("unsupported_version", f"schema_version {_show(version)} is not supported (1)")
        out: dict[str, Any] = {"type": etype}
        try:
            out["event_id"] = _EVENT_ID(raw["event_id"])
        except KeyError:
            raise Invalid("missing_field", "missing required field 'event_id'") from None
        except Invalid as exc:
            raise Invalid(exc.reason, f"event_id: {exc.message}") from None
        if "ts" not in raw:
            raise Invalid("missing_field", "missing required field 'ts'")
        try:
            out["ts"] = timestamp(raw["ts"])
        except Invalid as exc:  # named like every other field: "ts: nan is not a finite number"
            raise Invalid(exc.reason, f"ts: {exc.message}") from None
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
        if self.window is not None:
            for name in self._times[etype]:
                if name in out:
                    self.window.check(name, out[name])
        return out
