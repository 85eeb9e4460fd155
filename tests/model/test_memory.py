"""Bounded memory: a million predictions through the fold leave its size flat."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import psutil

from tradewatch.model.state import FoldSettings, ModelState

PENDING_MAX = 20_000
WINDOW = 10_000


def events(start: int, n: int) -> Iterator[dict[str, Any]]:
    """Predictions for three models with outcomes for half of them; a few unknown outcomes; a new version every 50k."""
    for i in range(start, start + n):
        model = ("a", "b", "c")[i % 3]
        yield {
            "type": "prediction",
            "ts": 1e9 + i * 0.01,
            "event_id": str(i),
            "model": model,
            "model_version": str(i // 50_000),  # 20 versions: each recaptures its reference
            "prediction_id": f"p{i}",
            "predicted": "up" if i % 5 else "down",
            "confidence": (i % 97) / 97,
            "latency_seconds": 0.001 * (i % 50),
            "features": {"x": ((i * 7919) % 1000) / 1000.0, "y": float(i % 13), "c": "abc"[i % 3]},
        }
        if i % 2 == 0:
            yield {
                "type": "outcome",
                "ts": 1e9 + i * 0.01 + 1,
                "event_id": f"o{i}",
                "model": model,
                "prediction_id": f"p{i - 600}" if i % 1000 else f"gone{i}",
                "actual": "up",
                "pnl": 1.0,
            }


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def test_a_million_predictions_in_bounded_memory():
    state = ModelState(
        FoldSettings(
            pending_max=PENDING_MAX,
            drift_window=WINDOW,
            reference_size=1000,
            performance_window=1000,
            pending_ttl_seconds=3600,
        )
    )
    # CPU seconds, not wall time: the fold's cost, whatever else the machine runs (make test's workers)
    started = time.process_time()
    state.apply_many(events(0, 200_000))
    warm = rss()
    state.apply_many(events(200_000, 800_000))
    grown = rss() - warm
    assert sum(n for m in state.by_model.values() for n in m.predictions.values()) == 1_000_000
    assert len(state.pending) <= PENDING_MAX
    for m in state.by_model.values():
        assert all(len(r) == WINDOW for r in m.numeric.values())
        assert len(m.window) == 1000
        assert len(m.track.versions) == 3 and m.track.folded == 17  # versions.keep
        assert all(len(v.window) <= 1000 and len(v.reference) <= 1000 for v in m.track.versions.values())
        assert m.unknown > 0 and m.expired > 0  # outcomes for p(i-600) of another model, and "gone" IDs
    # Fold state is bounded: 800k more predictions may not grow the process by more than a few MB
    # (allocator noise); unbounded pending maps or windows would add hundreds of MB.
    assert grown < 16 * 1024 * 1024, f"RSS grew by {grown / 2**20:.1f} MiB"
    assert time.process_time() - started < 60
