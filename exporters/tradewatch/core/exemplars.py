"""OpenMetrics exemplars on histogram buckets: the latest correlated observation of each bucket.

A fold's histogram keeps one :class:`BucketExemplars` (allocated on the first event that carries a
``correlation_id``), so memory is one small tuple per bucket, whatever the stream. The exemplar's
label set is ``{correlation_id="..."}``: at most 14 + 64 characters, inside the 128 UTF-8
characters the OpenMetrics specification allows. Its timestamp is the event time, so a bucket's
exemplar exposed again at the next scrape is the same exemplar, and Prometheus stores it once.
Exemplars are only written in the OpenMetrics exposition (``tradewatch.core.exposition``).
"""

from __future__ import annotations

from typing import Any

from prometheus_client.samples import Exemplar

from tradewatch.core.correlation import FIELD


class BucketExemplars:
    """Per (non-cumulative) bucket: (correlation_id, value, event time) of its latest observation."""

    __slots__ = ("slots",)

    def __init__(self, buckets: int):
        self.slots: list[tuple[str, float, float | None] | None] = [None] * buckets

    @classmethod
    def note(
        cls, held: BucketExemplars | None, buckets: int, index: int, value: float, event: dict[str, Any]
    ) -> BucketExemplars:
        """Record ``event``'s observation in bucket ``index``; returns the (maybe new) holder."""
        if held is None:
            held = cls(buckets)
        ts = event.get("ts")
        held.slots[index] = (event[FIELD], value, ts if ts.__class__ in (int, float) else None)
        return held

    def exemplar(self, index: int) -> Exemplar | None:
        slot = self.slots[index]
        if slot is None:
            return None
        return Exemplar({FIELD: slot[0]}, slot[1], slot[2])


def with_exemplars(buckets: list[tuple[str, float]], held: BucketExemplars | None) -> list[tuple[Any, ...]]:
    """Cumulative ``(le, count)`` buckets with each bucket's exemplar as a third item where one exists."""
    if held is None:
        return buckets
    out: list[tuple[Any, ...]] = []
    for i, bucket in enumerate(buckets):
        ex = held.exemplar(i)
        out.append(bucket if ex is None else (*bucket, ex))
    return out
