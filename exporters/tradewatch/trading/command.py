"""``tradewatch trading-exporter``: ingest trading events, export portfolio and execution metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter
from tradewatch.core.ingest import EventIngestor, mount_ingest
from tradewatch.core.journal import Journal
from tradewatch.core.logging import get_logger
from tradewatch.core.tail import Tailer
from tradewatch.trading.collector import TradingStateCollector
from tradewatch.trading.events import validate_trading_event
from tradewatch.trading.settings import TradingConfig, settings
from tradewatch.trading.state import TradingState

log = get_logger("tradewatch.trading")

NAME = "trading-exporter"


def read_token(config: cfg.Config) -> str:
    """The ingest bearer token: token_file wins over the inline setting."""
    path = config["ingest.token_file"]
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(
                f"tradewatch {NAME}: cannot read ingest.token_file {path}: {exc.strerror}"
            ) from None
    return config["ingest.token"]


def build(config: cfg.Config) -> Exporter:
    exporter = Exporter(NAME, config)
    state = TradingState(TradingConfig.from_config(config))
    journal = Journal(
        config["journal.path"], fsync=config["journal.fsync"], interval=config["journal.fsync_interval"]
    )
    ingestor = EventIngestor(
        journal,
        validate_trading_event,
        state,
        errors=exporter.errors,
        dedupe_window=config["ingest.dedupe_window"],
        snapshot_every=config["journal.snapshot_every"],
    )
    ingestor.start()
    token = read_token(config)
    if not token:
        log.warning(
            "POST /v1/events accepts events without authentication; set ingest.token_file "
            "when the exporter listens beyond loopback"
        )
    mount_ingest(exporter, ingestor, token=token)
    exporter.add_collector("trading", TradingStateCollector(state, ingestor.lock))
    if config["tail.file"]:
        offset_file = config["tail.offset_file"] or str(Path(config["journal.path"]) / "tail.offset")
        tailer = Tailer(
            config["tail.file"], ingestor, offset_file=offset_file, poll_interval=config["tail.poll_interval"]
        )
        tailer.start()
        exporter.on_stop(tailer.stop)  # registered after the ingestor: stops first
    return exporter


def register(sub: argparse._SubParsersAction) -> None:
    from tradewatch.cli import exporter_command

    exporter_command(
        sub,
        NAME,
        "run the trading exporter (events in, portfolio and execution metrics out)",
        "Receives a trading system's events on POST /v1/events (or follows a JSONL file with --tail), "
        "journals them before acknowledging, and exports orders, fills, slippage, P&L, drawdown, "
        "risk ratios, risk controls, market data freshness and heartbeats on /metrics (port 9812).",
        settings,
        build,
    )
