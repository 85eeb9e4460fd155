"""Request bodies to items: one event, a JSON array or NDJSON lines, within the per-request limits.

The limits are checked before anything is decoded (counting separators runs in C at memory speed),
so a body of millions of tiny items costs its bytes and nothing more.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
        "application/json-seq",
    }
)


class BadItem:
    """A raw item that did not even decode; carried through to be rejected with its index."""

    __slots__ = ("message", "reason")

    def __init__(self, reason: str, message: str):
        self.reason = reason
        self.message = message


def decode_one(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson refuses NaN/Infinity literals and out-of-range numbers; the standard library parses
        # them, so the validator can give such an event its precise reason (non_finite).
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return BadItem("invalid_json", f"not valid JSON: {exc}")


class TooLarge(Exception):
    """A request body holds more than a request may (413): refused whole, before it is decoded."""

    def __init__(self, reason: str, message: str, limit: int):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.limit = limit


DEFAULT_MAX_ITEMS = 10_000
VALUES_PER_ITEM = 50  # JSON values a request may hold: this many per allowed item, on average
# A JSON string, or an unterminated one up to the end: the pattern can never fail once it has seen a
# quote (possessive loops), so a body of escaped quotes is one linear scan, not a quadratic search.
_STRING = re.compile(rb'(?s)"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)')
_LINE = re.compile(rb"[^\n]+")


def _values_bound(body: bytes) -> int:
    # Every JSON value but a document's first follows a comma, a colon or an opening bracket (an NDJSON
    # line's first is one per line, and lines are counted as they are decoded). Counted in C at memory
    # speed, before anything is built.
    return body.count(b",") + body.count(b":") + body.count(b"[") + 1


def check_body_size(body: bytes, max_items: int) -> None:
    """Refuse (TooLarge) a body with more JSON values than ``VALUES_PER_ITEM * max_items``, without
    decoding it: a 16 MiB ``[{},{},...]`` would otherwise become 5.6 million dicts (+400 MB)."""
    if not max_items:
        return
    limit = VALUES_PER_ITEM * max_items
    if _values_bound(body) <= limit:
        return
    if _values_bound(_STRING.sub(b'""', body)) > limit:  # commas and colons inside strings do not count
        raise TooLarge(
            "too_large",
            f"body holds more than {limit} JSON values (ingest.max_items "
            f"{max_items} x {VALUES_PER_ITEM}); send smaller batches",
            limit,
        )


def parse_body(body: bytes, content_type: str = "", max_items: int = 0) -> list[Any]:
    """Decode a request body into a list of items: one event, a JSON array, or NDJSON lines.

    NDJSON is chosen by Content-Type, or sniffed when the body is not one JSON document but has
    several lines. Lines that do not decode become rejected items, so the others still count.
    With ``max_items``, a body holding more items (or too many JSON values) raises :class:`TooLarge`.
    """
    if not body.strip():
        return []
    check_body_size(body, max_items)
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in NDJSON_TYPES:
        doc = decode_one(body)
        if doc.__class__ is not BadItem:
            items = doc if doc.__class__ is list else [doc]
            _check_items(len(items), max_items)
            return items
        if b"\n" not in body.strip():
            return [doc]
    items = []
    append = items.append
    for match in _LINE.finditer(body):
        line = match.group()
        if line.strip():
            append(decode_one(line))
            if max_items and len(items) > max_items:
                _check_items(len(items), max_items)
    return items


def _check_items(count: int, max_items: int) -> None:
    if max_items and count > max_items:
        raise TooLarge(
            "too_many_items",
            f"more than {max_items} events in one request (ingest.max_items); send smaller batches",
            max_items,
        )
