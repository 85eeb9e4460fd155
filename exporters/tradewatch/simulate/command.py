"""``tradewatch simulate``: run the simulator against the exporters, like a real trading system."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tradewatch.client.events import MODEL_TYPES
from tradewatch.simulate.engine import DEFAULT_SYMBOLS
from tradewatch.simulate.scenarios import SCENARIOS


def register(sub: argparse._SubParsersAction) -> None:
    env = os.environ.get
    scenarios = "\n".join(f"  {s.name:16} {s.summary}" for s in SCENARIOS.values())
    parser = sub.add_parser(
        "simulate",
        help="generate realistic trading and model events (the stack's default data source)",
        description="Simulate a trading system (market, momentum strategy and its model, venue, risk "
        "manager) and send its events to the trading and model exporters through tradewatch.client.\n\n"
        f"Scenarios (--scenario):\n{scenarios}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        default=env("TRADEWATCH_SIM_SCENARIO", "normal"),
        help="what goes wrong (default normal; env TRADEWATCH_SIM_SCENARIO)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="normal trading before the scenario's incident starts (default 60)",
    )
    parser.add_argument(
        "--incident",
        type=float,
        metavar="SECONDS",
        help="how long the incident lasts (default: the scenario's own; 0 = until the end)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many wall-clock seconds (default: run until interrupted)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=float(env("TRADEWATCH_SIM_SPEED", "1")),
        help="market seconds per wall second (default 1; 60 = a market minute per second)",
    )
    parser.add_argument("--rate", type=float, default=2.0, help="simulation steps per second (default 2)")
    parser.add_argument(
        "--seed",
        type=int,
        default=int(env("TRADEWATCH_SIM_SEED", "42")),
        help="random seed (default 42); with --start the run is fully reproducible",
    )
    parser.add_argument("--start", metavar="TIME", help="market clock start, RFC 3339 or Unix seconds (default: now)")
    parser.add_argument(
        "--symbols",
        default=",".join(DEFAULT_SYMBOLS),
        help=f"comma-separated symbols (default {','.join(DEFAULT_SYMBOLS)})",
    )
    parser.add_argument(
        "--stale-symbols",
        default="",
        help="stale-feed: symbols that stop ticking, or 'all' (default: the first symbol)",
    )
    parser.add_argument(
        "--initial-balance",
        type=float,
        default=100_000.0,
        metavar="BALANCE",
        help="starting equity of the simulated account, in its quote currency (default 100000)",
    )
    parser.add_argument(
        "--trading-url",
        default=env("TRADEWATCH_TRADING_URL", "http://127.0.0.1:9812"),
        help="trading exporter (env TRADEWATCH_TRADING_URL)",
    )
    parser.add_argument(
        "--model-url",
        default=env("TRADEWATCH_MODEL_URL", "http://127.0.0.1:9813"),
        help="model exporter (env TRADEWATCH_MODEL_URL)",
    )
    parser.add_argument(
        "--token", default=None, help="bearer token for both exporters (prefer env TRADEWATCH_TOKEN or --token-file)"
    )
    parser.add_argument(
        "--token-file",
        default=env("TRADEWATCH_TOKEN_FILE"),
        metavar="FILE",
        help="file holding the bearer token (env TRADEWATCH_TOKEN_FILE; falls back to "
        "the exporters' TRADEWATCH_INGEST_TOKEN_FILE / TRADEWATCH_INGEST_TOKEN)",
    )
    parser.add_argument(
        "--spool-dir",
        default=env("TRADEWATCH_SPOOL_DIR"),
        metavar="DIR",
        help="client spool for events the exporters could not take (env TRADEWATCH_SPOOL_DIR)",
    )
    parser.add_argument(
        "--journal-dir", metavar="DIR", help="write trading.jsonl and model.jsonl here instead of sending over HTTP"
    )
    parser.add_argument(
        "--version-change",
        type=float,
        metavar="SECONDS",
        help="market seconds after the start at which the model switches from 1.4.0 to 1.5.0 (default: never)",
    )
    parser.add_argument("--stdout", action="store_true", help="print events as NDJSON instead of sending them")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default="info", help="log level (default info)"
    )
    parser.set_defaults(func=run)


def _start(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value).timestamp()


def _token(args: argparse.Namespace) -> str | None:
    """--token, TRADEWATCH_TOKEN, --token-file / TRADEWATCH_TOKEN_FILE, then the exporters' own
    TRADEWATCH_INGEST_TOKEN(_FILE), so one environment can configure both sides."""
    env = os.environ
    token = args.token or env.get("TRADEWATCH_TOKEN") or ""
    path = args.token_file or (None if token else env.get("TRADEWATCH_INGEST_TOKEN_FILE"))
    if not token and path:
        token = Path(path).read_text(encoding="utf-8").strip()
    return token or env.get("TRADEWATCH_INGEST_TOKEN") or None


class _Journals:
    """Routes events to two journal files, as the two exporters tail them."""

    def __init__(self, directory: str):
        from tradewatch.client import JournalWriter

        Path(directory).mkdir(parents=True, exist_ok=True)
        self.trading = JournalWriter(Path(directory) / "trading.jsonl")
        self.model = JournalWriter(Path(directory) / "model.jsonl")

    def emit(self, event: dict[str, Any]) -> str:
        return (self.model if event["type"] in MODEL_TYPES else self.trading).emit(event)

    def close(self, timeout: float = 0) -> bool:
        self.trading.close()
        self.model.close()
        return True


class _TradingOnly:
    """A client without a model exporter: model events are left out, on purpose."""

    def __init__(self, client: Any):
        self.client = client
        self.stats = client.stats

    def emit(self, event: dict[str, Any]) -> str:
        if event["type"] in MODEL_TYPES:
            return event["event_id"]
        return self.client.emit(event)

    def close(self, timeout: float = 0) -> bool:
        ok = self.client.close(timeout)
        self.stats = self.client.stats
        return ok


class _Stdout:
    def emit(self, event: dict[str, Any]) -> str:
        sys.stdout.buffer.write(orjson.dumps(event) + b"\n")
        return event["event_id"]

    def close(self, timeout: float = 0) -> bool:
        sys.stdout.flush()
        return True


def run(args: argparse.Namespace) -> int:
    from tradewatch.client import TradeWatchClient
    from tradewatch.core import logging as core_logging
    from tradewatch.simulate.engine import Simulator

    # Logs go to stderr when events go to stdout.
    core_logging.setup("simulator", args.log_level, stream=sys.stderr.buffer if args.stdout else None)
    log = core_logging.get_logger("tradewatch.simulate")
    token = _token(args)
    stale = tuple(s.strip() for s in args.stale_symbols.split(",") if s.strip())
    try:
        sim = Simulator(
            args.seed,
            args.scenario,
            symbols=tuple(s.strip() for s in args.symbols.split(",") if s.strip()),
            speed=args.speed,
            rate=args.rate,
            warmup=args.warmup,
            incident=args.incident,
            start=_start(args.start),
            initial_balance=args.initial_balance,
            stale_symbols=stale,
            version_change=args.version_change,
        )
    except ValueError as exc:
        print(f"tradewatch simulate: {exc}", file=sys.stderr)
        return 2
    sink: Any
    if args.stdout:
        sink = _Stdout()
    elif args.journal_dir:
        sink = _Journals(args.journal_dir)
    else:
        sink = TradeWatchClient(args.trading_url, token, model_url=args.model_url or None, spool_dir=args.spool_dir)
        if not args.model_url:
            log.warning("no --model-url: prediction, outcome and ai_call events are not sent")
            sink = _TradingOnly(sink)

    def stop(signum: int, _: Any) -> None:
        sim.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info(
        "simulation started",
        scenario=args.scenario,
        seed=args.seed,
        speed=args.speed,
        rate=args.rate,
        warmup=args.warmup,
        duration=args.duration,
        trading_url=None if args.stdout else args.trading_url,
    )
    try:
        sent = sim.run(sink, args.duration)
    except BrokenPipeError:  # --stdout piped into head & co.
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sink.close(timeout=5.0)
    stats = getattr(sink, "stats", None)
    summary: dict[str, Any] = {}
    if stats is not None:
        summary = {
            "accepted": stats.accepted,
            "rejected": stats.rejected,
            "duplicates": stats.duplicates,
            "spool_pending": stats.spool_pending,
            "dropped": stats.dropped,
        }
    log.info("simulation finished", events=sent, pacing_seconds=sim.pacing_elapsed, **summary)
    return 0
