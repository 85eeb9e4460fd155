"""Fuzz the tailer (in process, on a real file) and the Python client (against a real exporter).

Tailer: lines from the schemas, broken ones, junk, invalid UTF-8, lone surrogates, blank, CRLF and
over-long lines, appended in random pieces (a line may arrive in two writes). Every line that is
valid against the schema is ingested exactly once, every other one is rejected alone; the fold
never fails; the stored offset ends at the end of the file.

Client: any dict the producer hands to ``emit`` either is queued or raises ValueError/TypeError at
once (an event JSON cannot carry); ``flush`` returns True in bounded time, and every schema-valid
event arrives at the exporter.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from fuzz_oracle import SchemaOracle
from fuzz_servers import Exporter
from fuzz_strategies import SCHEMA, batch, examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tradewatch.core.ingest import EventIngestor
from tradewatch.core.journal import Journal
from tradewatch.core.tail import Tailer
from tradewatch.trading.events import validate_trading_event
from tradewatch.trading.settings import TradingConfig
from tradewatch.trading.state import TradingState

CHECKER = SchemaOracle(SCHEMA["trading"])
MAX_LINE = 4096


class Errors:
    """Stands in for tradewatch_errors_total: records every kind counted."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def labels(self, kind: str) -> Errors:
        self.kinds[kind] += 1
        return self

    def inc(self, amount: float = 1) -> None:
        pass


def _fresh_ids(items: list[Any], ids: Any) -> None:
    for item in items:
        if item.__class__ is dict and item.get("event_id").__class__ is str and 0 < len(item["event_id"]) <= 256:
            item["event_id"] = f"fz-{next(ids)}"


def test_tailer_fuzz(tmp_path: Path) -> None:
    errors = Errors()
    ingestor = EventIngestor(
        Journal(tmp_path / "journal"),
        validate_trading_event,
        TradingState(TradingConfig(session_timezone="America/New_York")),
        errors=errors,
    )
    ingestor.start()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")
    offsets = tmp_path / "tail.offset"
    tailer = Tailer(path, ingestor, offset_file=offsets, max_line_bytes=MAX_LINE)
    ids = itertools.count()
    expected = 0
    lines_written = 0

    @settings(max_examples=examples(150))
    @given(batch("trading", 10, 40), st.integers(0, 2**64))
    def fuzz(items: list[Any], seed: int) -> None:
        # Not hypothesis's own Random: a draw in the test body can end the example half way
        # (buffer overrun), after the expectations were counted but before the lines were written.
        rnd = random.Random(seed)
        nonlocal expected, lines_written
        _fresh_ids(items, ids)
        raw = []
        for item in items:
            line = json.dumps(item).encode()
            if len(line) >= MAX_LINE:
                line = line[:MAX_LINE] + b"x" * 10  # over the limit: rejected alone (too_large)
            elif item.__class__ is dict and CHECKER.is_valid(item):
                expected += 1
            raw.append(line)
        raw += [b"", b"\xff\xfe{not utf-8}", b'{"type": "heartbeat"', b"   "]
        rnd.shuffle(raw)
        data = b"\n".join(line + (b"\r" if rnd.random() < 0.1 and line[-1:] == b"}" else b"") for line in raw)
        data += b"\n"
        lines_written += len(raw)
        with path.open("ab") as f:
            cut = rnd.randrange(len(data))
            f.write(data[:cut])
            f.flush()
            tailer.run_once()  # sees a partial last line: it must wait for the rest
            f.write(data[cut:])
        while tailer.run_once():
            pass

    fuzz()
    assert sum(ingestor.accepted.values()) == expected
    assert errors.kinds == Counter(), errors.kinds
    assert json.loads(offsets.read_text())["offset"] == path.stat().st_size
    print(f"\nfuzz tailer: {lines_written} lines, {expected} valid, all ingested")


def test_client_fuzz(tmp_path: Path) -> None:
    from tradewatch.client import TradeWatchClient

    exporter = Exporter("trading", tmp_path / "journal", TRADEWATCH_INGEST_MAX_FUTURE_SKEW="0")
    client = TradeWatchClient(
        exporter.url,
        flush_interval=0.05,
        batch_size=50,
        backoff_base=0.05,
        backoff_max=0.2,
        spool_dir=tmp_path / "spool",
    )
    ids = itertools.count()
    valid = emitted = refused = 0
    try:

        @settings(max_examples=examples(40))
        @given(batch("trading", 10, 30))
        def fuzz(items: list[Any]) -> None:
            nonlocal valid, emitted, refused
            _fresh_ids(items, ids)
            for item in items:
                if item.__class__ is not dict:
                    continue
                try:
                    client.emit(item)
                except (ValueError, TypeError):
                    refused += 1  # told at once: not an event, or not encodable as JSON
                    continue
                emitted += 1
                valid += CHECKER.is_valid(item)
            assert client.flush(30), client.stats

        fuzz()
        assert exporter.alive()
        assert exporter.total("tradewatch_events_accepted_total") == valid == client.stats.accepted
        print(f"\nfuzz client: {emitted} emitted, {refused} refused by emit(), {valid} valid, all delivered")
    finally:
        client.close(5)
        exporter.stop()
