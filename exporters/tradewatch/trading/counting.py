"""The counting blocks of the trading fold: label caps, counter increments, histograms and their
bucket bounds (split out of ``tradewatch.trading.state``; see its docstring for the fold itself)."""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

from tradewatch.core.exemplars import BucketExemplars

OVERFLOW = "__overflow__"
DEFAULT = "default"  # label value when an optional envelope field (strategy, account, venue) is absent
UNKNOWN = "unknown"  # order attributes of an order we never saw submitted

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Up to 1000 bps either way: a 100 bps top bucket capped every quantile above it (a 197 bps p99
# read as 100). Classic buckets, which Prometheus 2.42 and 3.x both read; the old bounds are a
# subset, so older snapshots load (_migrate_slippage).
SLIPPAGE_BUCKETS = (
    -1000.0, -500.0, -200.0, -100.0, -50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0,
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
)  # fmt: skip
OLD_SLIPPAGE_BUCKETS = (-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class LabelCap:
    """Admits the first ``limit`` distinct values of a label; later ones become ``__overflow__``."""

    __slots__ = ("known", "limit")

    def __init__(self, limit: int, known: list[str] | None = None):
        self.limit = limit
        self.known: dict[str, str] = {v: v for v in known or ()}

    def __call__(self, value: str) -> str:
        out = self.known.get(value)
        if out is not None:
            return out
        if len(self.known) < self.limit:
            self.known[value] = value
            return value
        return OVERFLOW


class Hist:
    """Histogram buckets as plain counts (observe is a bisect and two adds).

    ``exemplars`` (core.exemplars) holds each bucket's latest correlated observation; it is not in
    the snapshot: exemplars are a pointer to recent orders, rebuilt by the journal tail on replay.
    """

    __slots__ = ("bounds", "counts", "exemplars", "sum")

    def __init__(self, bounds: tuple[float, ...], counts: list[int] | None = None, total: float = 0.0):
        self.bounds = bounds
        self.counts = counts or [0] * (len(bounds) + 1)  # last slot: above the largest bound (+Inf)
        self.sum = total
        self.exemplars: BucketExemplars | None = None

    def observe(self, value: float, event: dict[str, Any] | None = None) -> None:
        i = bisect_left(self.bounds, value)
        self.counts[i] += 1
        self.sum += value
        if event is not None and "correlation_id" in event:
            self.exemplars = BucketExemplars.note(self.exemplars, len(self.counts), i, value, event)


def inc(d: dict, key: Any, by: float = 1) -> None:
    d[key] = d.get(key, 0) + by


def hist(
    d: dict[Any, Hist], key: Any, bounds: tuple[float, ...], value: float, event: dict[str, Any] | None = None
) -> None:
    h = d.get(key)
    if h is None:
        h = d[key] = Hist(bounds)
    h.observe(value, event)


def migrate_slippage(counts: list[int]) -> list[int]:
    """Bucket counts of a snapshot taken with OLD_SLIPPAGE_BUCKETS, in SLIPPAGE_BUCKETS.

    Each old bucket's count goes to the new bucket with the same upper bound (cumulative counts stay
    exact at every old bound); the old overflow (> 100 bps) stays in +Inf, as it cannot be placed.
    """
    if len(counts) == len(SLIPPAGE_BUCKETS) + 1:
        return counts
    out = [0] * (len(SLIPPAGE_BUCKETS) + 1)
    for bound, count in zip((*OLD_SLIPPAGE_BUCKETS, math.inf), counts, strict=True):
        out[len(SLIPPAGE_BUCKETS) if bound == math.inf else SLIPPAGE_BUCKETS.index(bound)] += count
    return out
