"""The TradeWatch client library: what a trading system imports to emit events.

- :class:`TradeWatchClient`: batched, non-blocking HTTP sender with retries and an on-disk spool.
- :class:`JournalWriter`: the same helpers, writing a JSONL journal the exporter tails.
- :class:`FanOutClient`: several trading exporters, every event to each or routed by account.
- :func:`logging_setup`: the JSON log format the stack's Loki pipeline expects.

See docs/client.md.
"""

from __future__ import annotations

from typing import Any

from tradewatch.client.client import DEFAULT_MODEL_URL, DEFAULT_TRADING_URL, TradeWatchClient
from tradewatch.client.events import MODEL_TYPES, EventHelpers, build_event, format_ts, new_event_id
from tradewatch.client.fanout import FanOutClient, by_account
from tradewatch.client.journal import JournalWriter
from tradewatch.client.sender import ClientStats
from tradewatch.client.spool import SpoolLocked

__all__ = [
    "DEFAULT_MODEL_URL",
    "DEFAULT_TRADING_URL",
    "MODEL_TYPES",
    "ClientStats",
    "EventHelpers",
    "FanOutClient",
    "JournalWriter",
    "SpoolLocked",
    "TradeWatchClient",
    "build_event",
    "by_account",
    "format_ts",
    "logging_setup",
    "new_event_id",
]


def logging_setup(service: str, level: str = "info", **kwargs: Any) -> Any:
    """JSON logs in the stack's shape (timestamp, level, service, logger, event, correlation_id),
    so a trading system's own containers feed Loki like the exporters do. Returns a logger.

    Same as :func:`tradewatch.core.logging.setup` (``account_ids=`` masks account numbers); use
    :func:`tradewatch.core.logging.correlation` to tag an order's log lines with its ID.
    """
    from tradewatch.core import logging as core_logging

    core_logging.setup(service, level, **kwargs)
    return core_logging.get_logger(service)
