"""Breakage the fuzz suite found, pinned as plain tests (each failed before its fix)."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np

import tradewatch
from tradewatch.core.floatsum import total
from tradewatch.core.ingest import EventIngestor
from tradewatch.core.journal import Journal
from tradewatch.trading.collector import TradingStateCollector
from tradewatch.trading.events import validate_trading_event
from tradewatch.trading.state import TradingState

EXAMPLES = Path(tradewatch.__file__).parent / "schemas" / "examples"


def test_snapshot_keeps_non_finite_floats(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.replay(lambda batch: None)
    journal.snapshot(
        {
            "a": [math.inf, -math.inf, 1.5, None],
            "b": np.float64(-math.inf),
            "c": (math.nan,),
            "d": np.array([1.0, math.inf]),
        }
    )
    journal.close()
    again = Journal(tmp_path)
    data = again.load_snapshot()
    assert data["a"] == [math.inf, -math.inf, 1.5, None] and data["b"] == -math.inf
    assert math.isnan(data["c"][0]) and data["d"] == [1.0, math.inf]


def test_a_fold_summed_to_inf_survives_the_shutdown_snapshot(tmp_path: Path) -> None:
    """Two schema-valid realized_pnl of -1e308 sum to -inf; the restarted exporter kept exporting."""
    trade = json.loads((EXAMPLES / "trade_closed.json").read_text())
    events = [{**trade, "event_id": f"t{i}", "realized_pnl": -1e308} for i in range(2)]
    first = EventIngestor(Journal(tmp_path), validate_trading_event, TradingState())
    first.start()
    assert first.ingest(events).accepted == 2
    before = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in TradingStateCollector(first.fold, first.lock).collect()
        for s in m.samples
    }
    first.close()  # snapshot at shutdown
    second = EventIngestor(Journal(tmp_path), validate_trading_event, TradingState())
    second.start()
    after = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in TradingStateCollector(second.fold, threading.Lock()).collect()
        for s in m.samples
    }
    assert any(v == -math.inf for v in before.values())
    assert {k: v for k, v in after.items() if "age" not in k[0]} == {
        k: v for k, v in before.items() if "age" not in k[0]
    }


def test_trades_whose_sum_overflows_still_export(tmp_path: Path) -> None:
    """Two schema-valid realized_pnl of 1e308 (and two of -1e308) in one strategy: math.fsum raised
    OverflowError in the rolling/session statistics, so the whole trading collector failed."""
    trade = json.loads((EXAMPLES / "trade_closed.json").read_text())
    events = [
        {**trade, "event_id": f"t{i}", "realized_pnl": pnl, "fees": 0}
        for i, pnl in enumerate([1e308, 1e308, -1e308, -1e308])
    ]
    ingestor = EventIngestor(Journal(tmp_path), validate_trading_event, TradingState())
    ingestor.start()
    assert ingestor.ingest(events[:2]).accepted == 2
    values = {s.name: s.value for m in TradingStateCollector(ingestor.fold, ingestor.lock).collect() for s in m.samples}
    assert values["tradewatch_trading_rolling_expectancy"] == math.inf
    assert values["tradewatch_trading_rolling_profit_factor"] == math.inf
    assert ingestor.ingest(events[2:]).accepted == 2  # now gains and losses both overflow: inf - inf
    values = {s.name: s.value for m in TradingStateCollector(ingestor.fold, ingestor.lock).collect() for s in m.samples}
    assert values["tradewatch_trading_rolling_win_rate_ratio"] == 0.5
    assert math.isnan(values["tradewatch_trading_session_profit_factor"])  # inf / inf
    ingestor.close()


def test_total_is_fsum_where_the_exact_sum_is_a_double() -> None:
    assert total([0.1] * 10) == 1.0 != sum([0.1] * 10)
    assert total(iter([1e308, 1e308])) == math.inf and total([-1e308, -1e308]) == -math.inf
    assert math.isnan(total([math.inf, -math.inf]))
