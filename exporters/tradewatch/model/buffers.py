"""Bounded containers the model fold is built from: ring buffers, histograms, label caps.

Each one serialises to plain JSON-able data (arrays as base64 of their raw bytes) so a journal
snapshot restores it bit for bit.
"""

from __future__ import annotations

import base64
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tradewatch.core.exemplars import BucketExemplars

OVERFLOW = "__overflow__"


def encode_array(array: np.ndarray) -> dict[str, Any]:
    raw = np.ascontiguousarray(array).tobytes()
    return {"dtype": array.dtype.str, "data": base64.b64encode(raw).decode()}


def decode_array(data: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data["data"]), dtype=np.dtype(data["dtype"])).copy()


class Ring:
    """The last ``size`` values pushed, in a preallocated numpy array (order is not kept)."""

    __slots__ = ("buf", "n", "size")

    def __init__(self, size: int, dtype: Any = np.float64):
        self.size = size
        self.buf = np.empty(size, dtype=dtype)
        self.n = 0  # values ever pushed

    def push(self, value: Any) -> None:
        self.buf[self.n % self.size] = value
        self.n += 1

    def __len__(self) -> int:
        return min(self.n, self.size)

    def values(self) -> np.ndarray:
        """A copy of the held values (safe to use outside the state lock)."""
        return self.buf[: len(self)].copy()

    def dump(self) -> dict[str, Any]:
        return {"size": self.size, "n": self.n, "buf": encode_array(self.buf[: len(self)])}

    @classmethod
    def load(cls, data: dict[str, Any]) -> Ring:
        held = decode_array(data["buf"])
        ring = cls(data["size"], held.dtype)
        ring.buf[: held.size] = held
        ring.n = data["n"]
        return ring


class Histogram:
    """Bucket counts of a Prometheus histogram, kept as state (so replay restores them)."""

    __slots__ = ("bounds", "count", "counts", "exemplars", "sum")

    def __init__(self, bounds: Iterable[float]):
        self.bounds = tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # last = +Inf only
        self.sum = 0.0
        self.count = 0
        self.exemplars: BucketExemplars | None = None  # not dumped: rebuilt by the journal tail

    def observe(self, value: float, event: Mapping[str, Any] | None = None) -> None:
        i = bisect_left(self.bounds, value)  # first bound >= value: `le` semantics
        self.counts[i] += 1
        self.sum += value
        self.count += 1
        if event is not None and "correlation_id" in event:
            self.exemplars = BucketExemplars.note(self.exemplars, len(self.counts), i, value, event)

    def cumulative(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out

    def dump(self) -> dict[str, Any]:
        return {"bounds": self.bounds, "counts": self.counts, "sum": self.sum, "count": self.count}

    @classmethod
    def load(cls, data: dict[str, Any]) -> Histogram:
        h = cls(data["bounds"])
        h.counts = list(data["counts"])
        h.sum = data["sum"]
        h.count = data["count"]
        return h


class Codebook:
    """Label values admitted under a cap, each with a small integer code.

    The first ``limit`` distinct values keep their own label; later ones share ``__overflow__``,
    so a label set (models, classes, categories, providers) can never grow without bound.
    """

    __slots__ = ("codes", "limit", "names")

    def __init__(self, limit: int, names: Iterable[str] = ()):
        self.limit = limit
        self.names: list[str] = list(names)
        self.codes: dict[str, int] = {n: i for i, n in enumerate(self.names)}

    def code(self, value: str) -> int:
        code = self.codes.get(value)
        if code is not None:
            return code
        admitted = len(self.names) - (OVERFLOW in self.codes)
        if admitted >= self.limit or value == OVERFLOW:
            value = OVERFLOW
            code = self.codes.get(value)
            if code is not None:
                return code
        self.codes[value] = len(self.names)
        self.names.append(value)
        return self.codes[value]

    def __call__(self, value: str) -> str:
        """The label to report for ``value``."""
        return self.names[self.code(value)]

    def dump(self) -> dict[str, Any]:
        return {"limit": self.limit, "names": self.names}

    @classmethod
    def load(cls, data: dict[str, Any]) -> Codebook:
        return cls(data["limit"], data["names"])
