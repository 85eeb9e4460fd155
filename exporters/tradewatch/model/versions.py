"""Model versions: the latest K versions of each model, tracked side by side (part of the event fold).

A :class:`VersionTracker` lives in each :class:`~tradewatch.model.state.ModelFold`. It keeps one
:class:`VersionStats` per version for the ``versions.keep`` most recently *first seen* versions;
when a further version appears, the oldest one is folded away and its ``model_version`` series
disappear (the model-level series keep counting it). The newest version is the one **in
production**, since its first prediction's event time.

Per version: predictions, inference latency, confidence, the last ``performance.window``
predictions' confidences (for CBPE, :mod:`tradewatch.model.cbpe`), the last ``performance.window``
outcomes (realized accuracy, calibration error, and the confidences of exactly those predictions,
so an estimate can be checked once the labels are in), and the version's own reference for CBPE:
its first ``performance.window`` outcomes.

Everything is event time and bounded: K versions x (two rings of ``performance.window`` + one
reference of ``performance.window``). The last ``performance.window`` prediction IDs of the model
are kept too, to report the share still waiting for an outcome.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import Any

import numpy as np

from tradewatch.model.buffers import Histogram, Ring


class VersionStats:
    """One version of one model."""

    __slots__ = (
        "conf_n",
        "conf_sum",
        "first_seen",
        "last_seen",
        "latency",
        "outcomes",
        "predictions",
        "recent_conf",
        "reference",
        "reference_rows",
        "reference_source",
        "window",
    )

    def __init__(self, first_seen: float, window: int, latency_buckets: tuple[float, ...]):
        self.first_seen = first_seen
        self.last_seen = first_seen
        self.predictions = 0
        self.outcomes = 0
        self.latency = Histogram(latency_buckets)
        self.conf_sum = 0.0
        self.conf_n = 0
        self.recent_conf = Ring(window, np.float64)  # confidences of the latest predictions (NaN: none)
        self.window: deque[tuple[float, float]] = deque(maxlen=window)  # (correct, confidence) of outcomes
        self.reference: list[tuple[float, float]] = []  # the version's first `window` outcomes
        # Feature reference of this version (drift): rows and where it came from (0 / "" while none).
        self.reference_rows = 0
        self.reference_source = ""

    def dump(self) -> dict[str, Any]:
        return {
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "predictions": self.predictions,
            "outcomes": self.outcomes,
            "latency": self.latency.dump(),
            "conf": [self.conf_sum, self.conf_n],
            "recent_conf": self.recent_conf.dump(),
            "window": [[_null(c), _null(p)] for c, p in self.window],
            "reference": [[_null(c), _null(p)] for c, p in self.reference],
            "reference_rows": self.reference_rows,
            "reference_source": self.reference_source,
        }

    @classmethod
    def load(cls, d: dict[str, Any], window: int, latency_buckets: tuple[float, ...]) -> VersionStats:
        v = cls(d["first_seen"], window, latency_buckets)
        v.last_seen, v.predictions, v.outcomes = d["last_seen"], d["predictions"], d["outcomes"]
        v.latency = Histogram.load(d["latency"])
        v.conf_sum, v.conf_n = d["conf"]
        v.recent_conf = Ring.load(d["recent_conf"])
        v.window.extend((_nan(c), _nan(p)) for c, p in d["window"])
        v.reference = [(_nan(c), _nan(p)) for c, p in d["reference"]]
        v.reference_rows, v.reference_source = d["reference_rows"], d["reference_source"]
        return v


class VersionTracker:
    """The latest ``keep`` versions of one model, oldest first; the last one is in production."""

    def __init__(self, keep: int, window: int, latency_buckets: tuple[float, ...]):
        self.keep = keep
        self.window_size = window
        self.latency_buckets = latency_buckets
        self.versions: OrderedDict[str, VersionStats] = OrderedDict()
        self.folded = 0  # versions folded away (beyond `keep`)
        self.changes = 0  # times the production version changed (the first version is not a change)
        self.recent_ids: deque[str] = deque(maxlen=window)

    @property
    def production(self) -> str | None:
        return next(reversed(self.versions)) if self.versions else None

    def prediction(self, version: str, ts: float, confidence: float, latency: float, pid: str) -> bool:
        """Count one prediction; True when ``version`` is new (it takes over production)."""
        self.recent_ids.append(pid)
        v = self.versions.get(version)
        new = v is None
        if v is None:
            v = self.versions[version] = VersionStats(ts, self.window_size, self.latency_buckets)
            if len(self.versions) > 1:
                self.changes += 1
            while len(self.versions) > self.keep:
                self.versions.popitem(last=False)
                self.folded += 1
        v.predictions += 1
        v.last_seen = max(v.last_seen, ts)
        v.latency.observe(latency)
        v.recent_conf.push(confidence)
        if not math.isnan(confidence):
            v.conf_sum += confidence
            v.conf_n += 1
        return new

    def outcome(self, version: str | None, correct: float, confidence: float) -> None:
        v = self.versions.get(version) if version is not None else None
        if v is None or math.isnan(correct):  # folded away, or a regressor (no accuracy)
            return
        v.outcomes += 1
        v.window.append((correct, confidence))
        if len(v.reference) < self.window_size:
            v.reference.append((correct, confidence))

    def dump(self) -> dict[str, Any]:
        return {
            "versions": [[name, v.dump()] for name, v in self.versions.items()],
            "folded": self.folded,
            "changes": self.changes,
            "recent_ids": list(self.recent_ids),
        }

    @classmethod
    def load(cls, d: dict[str, Any], keep: int, window: int, latency_buckets: tuple[float, ...]) -> VersionTracker:
        t = cls(keep, window, latency_buckets)
        for name, v in d["versions"]:
            t.versions[name] = VersionStats.load(v, window, latency_buckets)
        while len(t.versions) > keep:  # keep lowered since the snapshot
            t.versions.popitem(last=False)
        t.folded, t.changes = d["folded"], d["changes"]
        t.recent_ids.extend(d["recent_ids"])
        return t


def _null(value: float) -> float | None:
    return None if math.isnan(value) else value


def _nan(value: float | None) -> float:
    return math.nan if value is None else value
