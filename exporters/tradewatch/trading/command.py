"""``tradewatch trading-exporter``: ingest trading events, export portfolio and execution metrics."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter
from tradewatch.core.ingest import EventIngestor, ingestor_from_config, mount_ingest, read_token
from tradewatch.core.logging import get_logger
from tradewatch.core.tail import Tailer
from tradewatch.core.validate import TimeWindow
from tradewatch.trading.collector import TradingStateCollector
from tradewatch.trading.events import trading_validator
from tradewatch.trading.safetylog import SafetyEventLog
from tradewatch.trading.settings import TradingConfig, settings
from tradewatch.trading.state import TradingState

log = get_logger("tradewatch.trading")

NAME = "trading-exporter"


def build(config: cfg.Config) -> Exporter:
    return assemble(config)[0]


def assemble(config: cfg.Config, clock: Callable[[], float] = time.time) -> tuple[Exporter, EventIngestor]:
    """The exporter and its ingestor. ``clock``: the wall clock of receipt times and ages (a
    simulated one for the rule tests' series, tradewatch.devstack.series)."""
    exporter = Exporter(NAME, config)
    state = TradingState(TradingConfig.from_config(config))
    fold = SafetyEventLog(state)  # logs kill switch changes as structured events (LogKillSwitch)
    ingestor = ingestor_from_config(
        config, trading_validator(TimeWindow.from_config(config)), fold, errors=exporter.errors
    )
    fold.live = lambda: ingestor.started
    ingestor.clock = clock
    try:
        token = read_token(config)
    except cfg.ConfigError as exc:
        raise SystemExit(f"tradewatch {NAME}: {exc}") from None
    if not token:
        log.warning(
            "POST /v1/events accepts events without authentication; set ingest.token_file "
            "when the exporter listens beyond loopback"
        )
    mount_ingest(exporter, ingestor, token=token)
    exporter.add_collector("trading", TradingStateCollector(state, ingestor.lock, clock))
    if config["tail.file"]:
        offset_file = config["tail.offset_file"] or str(Path(config["journal.path"]) / "tail.offset")
        tailer = Tailer(
            config["tail.file"], ingestor, offset_file=offset_file, poll_interval=config["tail.poll_interval"]
        )
        tailer.start()
        exporter.on_stop(tailer.stop)  # registered after the ingestor: stops first
    return exporter, ingestor


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
    parser = sub.choices[NAME]
    parser.add_argument("--journal", metavar="DIR", help="journal directory (setting journal.path)")
    parser.add_argument("--tail", metavar="FILE", help="follow this JSONL file of events (setting tail.file)")
    inner = parser.get_default("func")

    def run(args: argparse.Namespace) -> int:
        # Flags win over the file and the environment: pass them on as the environment variables.
        if args.journal:
            os.environ[cfg.env_name("journal.path")] = args.journal
        if args.tail:
            os.environ[cfg.env_name("tail.file")] = args.tail
        return inner(args)

    parser.set_defaults(func=run)
