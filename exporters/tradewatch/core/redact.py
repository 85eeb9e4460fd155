"""Masking of secrets and personal data in log records, error reports and any text we emit.

One :class:`Redactor` serves the JSON logs, the stdlib logging bridge and Sentry's
``before_send``, so the three can never disagree about what is secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

# Field names whose whole value is secret, whatever it looks like.
SENSITIVE_KEY = re.compile(
    r"(?i)(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"authorization|auth|credential|cookie|session[_-]?id|dsn|webhook(_url)?|signature)$"
)

_PATTERNS: list[tuple[str, str]] = [
    # scheme://user:password@host  -> keep scheme and host
    (r"(?P<url>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@:]+:[^\s/@]*@", r"\g<url>***:***@"),
    # Authorization: Bearer xyz / Basic xyz
    (r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}", r"\1 ***"),
    # key=value / key: value / "key": "value" for secret-looking keys
    (
        r"(?i)(?P<k>[\"']?\b[\w-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
        r"private[_-]?key|credential|client[_-]?secret)[\"']?\s*[=:]\s*[\"']?)[^\s\"',;&}]+",
        r"\g<k>***",
    ),
    # Well-known token shapes
    (r"\bsk-[A-Za-z0-9_-]{16,}", MASK),  # OpenAI/Anthropic-style keys
    (r"\bxox[abprs]-[A-Za-z0-9-]{10,}", MASK),  # Slack tokens
    (r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+", "https://hooks.slack.com/services/***"),
    (r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", MASK),  # AWS access key id
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", MASK),  # GitHub tokens
    (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", MASK),  # JWT
    # e-mail addresses
    (r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b", "***@***"),
]


class Redactor:
    """Masks secrets in strings and, recursively, in mappings and sequences."""

    def __init__(self, account_ids: Iterable[str] = ()):
        patterns = list(_PATTERNS)
        accounts = sorted({a for a in account_ids if a}, key=len, reverse=True)
        if accounts:
            patterns.append((r"(?<![\w-])(" + "|".join(map(re.escape, accounts)) + r")(?![\w-])", "acct-***"))
        self._subs = [(re.compile(p), r) for p, r in patterns]
        # Cheap pre-filter: most log lines contain none of these characters sequences.
        self._hint = re.compile(
            r"[@:=]|bearer|basic|token|sk-|xox|AKIA|ASIA|gh[pousr]_|eyJ"
            + ("|" + "|".join(map(re.escape, accounts)) if accounts else ""),
            re.IGNORECASE,
        )

    def text(self, value: str) -> str:
        if not self._hint.search(value):
            return value
        for pattern, repl in self._subs:
            value = pattern.sub(repl, value)
        return value

    def value(self, value: Any, key: str | None = None) -> Any:
        if key is not None and SENSITIVE_KEY.search(key) and value not in (None, "", 0, False):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def event_dict(self, event: dict[str, Any]) -> dict[str, Any]:
        """Redact a structlog event dict in place-compatible fashion (returns a new dict)."""
        out = {}
        for k, v in event.items():
            if k in ("timestamp", "level", "logger", "service"):
                out[k] = v
            else:
                out[k] = self.value(v, k)
        return out


_default = Redactor()


def get_redactor() -> Redactor:
    return _default


def set_redactor(redactor: Redactor) -> None:
    global _default
    _default = redactor
