"""Helpers for the core tests: JSON logs captured in memory, and restoring global logging state."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import structlog

from tradewatch.core import logging as twlog
from tradewatch.core.redact import get_redactor, set_redactor


class Captured:
    def __init__(self) -> None:
        self.stream = io.BytesIO()

    def lines(self) -> list[dict]:
        return [orjson.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def text(self) -> str:
        return self.stream.getvalue().decode()


@contextmanager
def json_logs(service: str = "test-svc", level: str = "info", account_ids=()) -> Iterator[Captured]:
    """Configure the real logging setup onto a buffer; put the previous global state back after."""
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_redactor = get_redactor()
    captured = Captured()
    try:
        twlog.setup(service, level, account_ids=list(account_ids), stream=captured.stream)
        yield captured
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.configure(**saved_config)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        set_redactor(saved_redactor)
