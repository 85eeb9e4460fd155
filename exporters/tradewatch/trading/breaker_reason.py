"""A circuit breaker's free-text ``reason`` as a bounded label value.

Producers put counts, durations and request or order IDs into the reason ("5 timeouts in 30 s",
"upstream 503 for req 7f3a9c21"). As a label each distinct text is a new series and may carry an ID,
so the fold exports a *kind* of reason: every run of digits or of hex with a digit in it (decimals,
UUIDs and dotted/dashed ID parts included) becomes ``#``, whitespace is collapsed, the text is cut to
80 characters, and each breaker keeps at most :data:`REASONS_PER_BREAKER` distinct values, later
ones becoming ``__overflow__`` like every other capped label. The full text is in the exporter's log
(``event="circuit_breaker_changed"``, tradewatch.trading.safetylog).
"""

from __future__ import annotations

import re

from tradewatch.trading.counting import OVERFLOW

REASON_CHARS = 80
REASONS_PER_BREAKER = 10
PLACEHOLDER = "#"

_HEXISH = r"[0-9A-Fa-f]*[0-9][0-9A-Fa-f]*"
_NUMBERS_AND_IDS = re.compile(rf"{_HEXISH}(?:[-_.:/]{_HEXISH})*")
_SPACE = re.compile(r"\s+")


def normalise(reason: str | None) -> str:
    """The reason's kind: numbers and ID-like runs as ``#``, cut to 80 characters ("" when none)."""
    if not reason:
        return ""
    text = _SPACE.sub(" ", _NUMBERS_AND_IDS.sub(PLACEHOLDER, reason)).strip()
    return text[:REASON_CHARS]


class BreakerReasons:
    """Per breaker, the first :data:`REASONS_PER_BREAKER` distinct normalised reasons; then overflow.

    Memory: services are capped upstream (``limits.max_label_values``), so at most that many times
    REASONS_PER_BREAKER strings."""

    def __init__(self, known: dict[str, list[str]] | None = None):
        self.known: dict[str, list[str]] = {svc: list(v) for svc, v in (known or {}).items()}

    def label(self, service: str, reason: str | None) -> str:
        value = normalise(reason)
        seen = self.known.setdefault(service, [])
        if value in seen:
            return value
        if len(seen) < REASONS_PER_BREAKER:
            seen.append(value)
            return value
        return OVERFLOW
