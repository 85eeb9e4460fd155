"""The model exporter's state: a pure fold over the event log.

:meth:`ModelState.apply` takes one validated event (``prediction``, ``outcome``, ``ai_call``) and
updates the state; nothing in it reads the wall clock, so replaying the journal rebuilds the
state exactly, and :meth:`ModelState.dump` / :meth:`ModelState.load` give the snapshot form.
Time-based rules (pending-prediction TTL, the 24 h cost window) run on *event* time: the largest
``ts`` seen so far.

Caps never invent drift: the drift windows are coded with the reference's own categories and
predicted classes (plus up to the cap of new ones), and the drift test keeps the cap's worth of most
frequent values *pooled* over both sides, summing the rest as ``__overflow__`` on both sides alike
(:func:`tradewatch.model.drift.equalize`). Choosing by the reference's counts alone would keep the
values the reference over-sampled and show drift on unchanged data.

Everything is bounded: label sets by :class:`~tradewatch.model.buffers.Codebook` caps, pending
predictions by count and TTL, the performance window and the drift windows by size. Drift itself
is computed elsewhere (:mod:`tradewatch.model.drift`) on a schedule, from copies of the windows.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from tradewatch.core.validate import MAX_STRING
from tradewatch.model import stats
from tradewatch.model.buffers import OVERFLOW, Codebook, Histogram, Ring, decode_array, encode_array
from tradewatch.model.performance import CLASSIFIER, Performance, performance
from tradewatch.model.versions import VersionTracker

log = logging.getLogger("tradewatch.model.state")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LAG_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 604800.0)
AI_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)

REGRESSOR = "regressor"
NUMERIC = "numeric"
CATEGORICAL = "categorical"
MISSING_CODE = -1
COST_WINDOW_MINUTES = 24 * 60
MONTH_DAYS = 30


@dataclass(frozen=True)
class Price:
    """USD per 1,000 tokens."""

    prompt: float
    completion: float


@dataclass(frozen=True)
class FoldSettings:
    performance_window: int = 1000
    pending_max: int = 100_000
    pending_ttl_seconds: float = 86400.0
    drift_window: int = 10_000
    reference_size: int = 1000
    max_models: int = 20
    max_versions: int = 10
    max_features: int = 50
    max_classes: int = 20
    max_categories: int = 50
    max_providers: int = 10
    max_ai_models: int = 30
    versions_keep: int = 3
    prices: Mapping[str, Price] = field(default_factory=dict)


def event_time(value: Any) -> float:
    """Epoch seconds from a number or an RFC 3339 string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).timestamp()


def _number(value: Any) -> float:
    """A finite float, else NaN (missing, wrong type or non-finite)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        out = float(value)
        return out if math.isfinite(out) else math.nan
    return math.nan


def _category(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# A reference stores up to this many times the cap of categories (classes) per feature (model), so
# the drift test can choose its kept set from both sides; beyond it the rarest are __overflow__.
REFERENCE_VALUES_PER_CAP = 20


def top_counts(counts: dict[str, int], limit: int) -> dict[str, int]:
    """The ``limit`` most frequent keys (ties: first seen), the rest summed as ``__overflow__``."""
    ranked = [kv for kv in counts.items() if kv[0] != OVERFLOW]
    if len(ranked) <= limit:
        return counts
    ranked.sort(key=lambda kv: -kv[1])  # stable: ties keep first-seen order
    out = dict(ranked[:limit])
    out[OVERFLOW] = counts.get(OVERFLOW, 0) + sum(n for _, n in ranked[limit:])
    return out


def reference_book(counts: dict[str, int], new: int) -> Codebook:
    """A window codebook: every value the reference kept, then up to ``new`` values it never saw."""
    names = [k for k in counts if k != OVERFLOW]
    return Codebook(len(names) + new, names)


# --------------------------------------------------------------------------- reference


@dataclass
class Reference:
    """A model's baseline: feature distributions and the predicted-class or value distribution."""

    source: str  # "captured" or "file"
    rows: int
    start: float | None
    end: float | None
    kinds: dict[str, str]  # feature -> numeric | categorical
    numeric: dict[str, np.ndarray]  # NaN = missing
    categorical: dict[str, dict[str, int]]  # feature -> category -> count
    predicted_classes: dict[str, int] | None = None
    predicted_values: np.ndarray | None = None

    @classmethod
    def from_rows(
        cls,
        source: str,
        rows: list[dict[str, Any]],
        predicted: list[Any],
        times: list[float],
        max_features: int,
        max_categories: int,
    ) -> Reference:
        """Build from raw feature mappings; a feature is numeric when every present value is a number.

        Categorical features keep their most frequent values up to ``REFERENCE_VALUES_PER_CAP`` x the
        cap (:func:`top_counts`); predicted classes are bounded when the reference is installed (the
        class cap is the model's).
        """
        names: list[str] = []
        for row in rows:
            for name in row:
                # Names become label values: the identifier rules (validated at ingest; a journal or
                # file from before that may still hold others, which are not tracked).
                if (
                    name not in names
                    and len(names) < max_features
                    and isinstance(name, str)
                    and 0 < len(name) <= MAX_STRING
                ):
                    names.append(name)
        kinds: dict[str, str] = {}
        numeric: dict[str, np.ndarray] = {}
        categorical: dict[str, dict[str, int]] = {}
        for name in names:
            present = [row.get(name) for row in rows]
            values = [v for v in present if v is not None]
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                kinds[name] = NUMERIC
                numeric[name] = np.array([_number(v) for v in present], dtype=np.float64)
            else:
                kinds[name] = CATEGORICAL
                counts: dict[str, int] = {}
                for v in present:
                    cat = _category(v)
                    if cat is not None:
                        counts[cat] = counts.get(cat, 0) + 1
                categorical[name] = top_counts(counts, max_categories * REFERENCE_VALUES_PER_CAP)
        ref = cls(
            source, len(rows), min(times) if times else None, max(times) if times else None, kinds, numeric, categorical
        )
        given = [p for p in predicted if p is not None]
        if given and all(isinstance(p, int | float) and not isinstance(p, bool) for p in given):
            ref.predicted_values = np.array([_number(p) for p in given], dtype=np.float64)
        elif given:
            classes: dict[str, int] = {}
            for p in given:
                key = str(p)
                classes[key] = classes.get(key, 0) + 1
            ref.predicted_classes = classes
        return ref

    def dump(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "start": self.start,
            "end": self.end,
            "kinds": self.kinds,
            "numeric": {k: encode_array(v) for k, v in self.numeric.items()},
            "categorical": self.categorical,
            "predicted_classes": self.predicted_classes,
            "predicted_values": (None if self.predicted_values is None else encode_array(self.predicted_values)),
        }

    @classmethod
    def load(cls, d: dict[str, Any]) -> Reference:
        return cls(
            d["source"],
            d["rows"],
            d["start"],
            d["end"],
            d["kinds"],
            {k: decode_array(v) for k, v in d["numeric"].items()},
            d["categorical"],
            d["predicted_classes"],
            None if d["predicted_values"] is None else decode_array(d["predicted_values"]),
        )


# --------------------------------------------------------------------------- per model


class ModelFold:
    """Everything kept for one model label."""

    def __init__(self, s: FoldSettings):
        self.s = s
        self.kind: str | None = None
        self.versions = Codebook(s.max_versions)
        self.classes = Codebook(s.max_classes)
        self.predictions: dict[tuple[str, str], int] = {}
        self.latency = Histogram(LATENCY_BUCKETS)
        self.confidence = Histogram(CONFIDENCE_BUCKETS)
        self.lag = Histogram(LAG_BUCKETS)
        self.last_prediction: float | None = None
        self.pending = 0
        self.expired = 0
        self.unknown = 0
        # Outcome window: (predicted label, actual label, correct, confidence, brier term,
        # absolute error, squared error, pnl); NaN where a field does not apply.
        self.window: deque[tuple[str, str, float, float, float, float, float, float]] = deque(
            maxlen=s.performance_window
        )
        self.outcomes = 0
        # Reference performance: the first `performance_window` outcomes (correct or abs error).
        self.ref_n = 0
        self.ref_sum = 0.0
        # Reference capture (first N predictions) and the drift windows that follow it.
        self.reference: Reference | None = None
        self.capture_rows: list[dict[str, Any]] = []
        self.capture_predicted: list[Any] = []
        self.capture_times: list[float] = []
        self.numeric: dict[str, Ring] = {}
        self.categorical: dict[str, tuple[Codebook, Ring]] = {}
        self.predicted_window: Ring | None = None
        # Codes of predicted_window (classifiers): the reference's classes; None in snapshots written
        # before it, whose windows were coded with ``classes``.
        self.predicted_book: Codebook | None = None
        # Versions side by side (tradewatch.model.versions); the version the drift reference belongs
        # to ("*": a model-level reference file, valid for every version).
        self.track = VersionTracker(s.versions_keep, s.performance_window, LATENCY_BUCKETS)
        self.reference_version: str | None = None

    # ------------------------------------------------------------------ predictions
    def set_reference(self, ref: Reference) -> None:
        s = self.s
        keep = REFERENCE_VALUES_PER_CAP
        ref.categorical = {k: top_counts(c, s.max_categories * keep) for k, c in ref.categorical.items()}
        if ref.predicted_classes:
            ref.predicted_classes = top_counts(ref.predicted_classes, s.max_classes * keep)
        self.reference = ref
        self.capture_rows, self.capture_predicted, self.capture_times = [], [], []
        size = self.s.drift_window
        self.numeric = {name: Ring(size, np.float64) for name in ref.numeric}
        self.categorical = {
            name: (reference_book(counts, self.s.max_categories), Ring(size, np.int32))
            for name, counts in ref.categorical.items()
        }
        self.predicted_window = None
        self.predicted_book = (
            reference_book(ref.predicted_classes, self.s.max_classes)
            if ref.predicted_classes
            else Codebook(self.s.max_classes)
        )

    def observe_features(self, features: Mapping[str, Any], predicted: Any, ts: float) -> None:
        ref = self.reference
        if ref is None:
            if self.s.reference_size > 0:
                self.capture_rows.append(
                    {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in features.items()}
                )
                self.capture_predicted.append(predicted)
                self.capture_times.append(ts)
                if len(self.capture_rows) >= self.s.reference_size:
                    self.set_reference(
                        Reference.from_rows(
                            "captured",
                            self.capture_rows,
                            self.capture_predicted,
                            self.capture_times,
                            self.s.max_features,
                            self.s.max_categories,
                        )
                    )
                    self.reference_version = self.track.production
            return
        for name, ring in self.numeric.items():
            ring.push(_number(features.get(name)))
        for name, (book, ring) in self.categorical.items():
            cat = _category(features.get(name))
            ring.push(MISSING_CODE if cat is None else book.code(cat))
        if self.predicted_window is None:  # created here: the model's kind is known by now
            dtype = np.int32 if self.kind == CLASSIFIER else np.float64
            self.predicted_window = Ring(self.s.drift_window, dtype)
        if self.predicted_window.buf.dtype == np.int32:
            self.predicted_window.push((self.predicted_book or self.classes).code(str(predicted)))
        else:
            self.predicted_window.push(_number(predicted))

    # ------------------------------------------------------------------ outcomes
    def restart_capture(self) -> None:
        """A new version without a reference file: capture its first ``reference.size`` predictions."""
        self.reference = None
        self.reference_version = None
        self.capture_rows, self.capture_predicted, self.capture_times = [], [], []
        self.numeric, self.categorical, self.predicted_window = {}, {}, None

    def record_outcome(
        self, predicted: Any, confidence: float, probabilities: Mapping[str, float] | None, actual: Any, pnl: float
    ) -> float:
        """Add one outcome to the window; returns whether it was correct (NaN for regressors)."""
        nan = math.nan
        if self.kind == CLASSIFIER:
            act = _category(actual) or ""
            correct = 1.0 if str(predicted) == act else 0.0
            if probabilities:
                brier = stats.brier_multiclass_term(probabilities, act)
            elif not math.isnan(confidence):
                brier = (confidence - correct) ** 2
            else:
                brier = nan
            row = (self.classes(str(predicted)), self.classes(act), correct, confidence, brier, nan, nan, pnl)
            score = correct
        else:
            err = _number(actual) - _number(predicted)
            row = ("", "", nan, nan, nan, abs(err), err * err, pnl)
            score = abs(err)
        self.window.append(row)
        self.outcomes += 1
        if self.ref_n < self.s.performance_window and not math.isnan(score):
            self.ref_n += 1
            self.ref_sum += score
        return row[2]

    def performance_inputs(self) -> tuple[str | None, list[tuple[Any, ...]], int, float]:
        """What :func:`performance` needs, copied (cheap) so the numpy work runs outside the lock."""
        return self.kind, list(self.window), self.ref_n, self.ref_sum

    def performance(self) -> Performance:
        return performance(*self.performance_inputs(), self.s.performance_window)

    # ------------------------------------------------------------------ snapshot
    def dump(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "versions": self.versions.dump(),
            "classes": self.classes.dump(),
            "predictions": [[v, c, n] for (v, c), n in self.predictions.items()],
            "latency": self.latency.dump(),
            "confidence": self.confidence.dump(),
            "lag": self.lag.dump(),
            "last_prediction": self.last_prediction,
            "pending": self.pending,
            "expired": self.expired,
            "unknown": self.unknown,
            "window": [list(r) for r in self.window],
            "outcomes": self.outcomes,
            "ref_n": self.ref_n,
            "ref_sum": self.ref_sum,
            "reference": None if self.reference is None else self.reference.dump(),
            "capture": [self.capture_rows, self.capture_predicted, self.capture_times],
            "numeric": {k: r.dump() for k, r in self.numeric.items()},
            "categorical": {k: [b.dump(), r.dump()] for k, (b, r) in self.categorical.items()},
            "predicted_window": None if self.predicted_window is None else self.predicted_window.dump(),
            "predicted_book": None if self.predicted_book is None else self.predicted_book.dump(),
            "track": self.track.dump(),
            "reference_version": self.reference_version,
        }

    @classmethod
    def load(cls, s: FoldSettings, d: dict[str, Any]) -> ModelFold:
        m = cls(s)
        m.kind = d["kind"]
        m.versions = Codebook.load(d["versions"])
        m.classes = Codebook.load(d["classes"])
        m.predictions = {(v, c): n for v, c, n in d["predictions"]}
        m.latency, m.confidence, m.lag = (Histogram.load(d[k]) for k in ("latency", "confidence", "lag"))
        m.last_prediction, m.pending, m.expired, m.unknown = (
            d["last_prediction"],
            d["pending"],
            d["expired"],
            d["unknown"],
        )
        m.window.extend(tuple(_nan(x) for x in r) for r in d["window"])
        m.outcomes, m.ref_n, m.ref_sum = d["outcomes"], d["ref_n"], d["ref_sum"]
        m.reference = None if d["reference"] is None else Reference.load(d["reference"])
        m.capture_rows, m.capture_predicted, m.capture_times = d["capture"]
        m.numeric = {k: Ring.load(r) for k, r in d["numeric"].items()}
        m.categorical = {k: (Codebook.load(b), Ring.load(r)) for k, (b, r) in d["categorical"].items()}
        m.predicted_window = None if d["predicted_window"] is None else Ring.load(d["predicted_window"])
        book = d.get("predicted_book")
        m.predicted_book = None if book is None else Codebook.load(book)
        if "track" in d:  # snapshots written before versions were tracked start afresh
            m.track = VersionTracker.load(d["track"], s.versions_keep, s.performance_window, LATENCY_BUCKETS)
            m.reference_version = d["reference_version"]
        return m


def _nan(value: Any) -> Any:
    """JSON has no NaN: snapshots carry it as null."""
    return math.nan if value is None else value


# --------------------------------------------------------------------------- the fold


class ModelState:
    """All models plus AI cost; thread-safe (ingest writes, collectors and the drift task read)."""

    def __init__(self, settings: FoldSettings | None = None):
        self.s = settings or FoldSettings()
        self.lock = threading.RLock()
        self.models = Codebook(self.s.max_models)
        self.by_model: dict[str, ModelFold] = {}
        # prediction_id -> (model label, ts, predicted, confidence, probabilities, version); oldest first.
        self.pending: OrderedDict[str, tuple[str, float, Any, float, dict[str, float] | None, str | None]] = (
            OrderedDict()
        )
        # Reference files per model and version, and per model (configuration: reference.version_files,
        # reference.files).
        self.version_refs: dict[str, dict[str, Reference]] = {}
        self.model_refs: dict[str, Reference] = {}
        self.clock = -math.inf  # largest event ts seen
        self.providers = Codebook(self.s.max_providers)
        self.ai_models = Codebook(self.s.max_ai_models)
        self.ai_calls: dict[tuple[str, str, str], int] = {}
        self.ai_tokens: dict[tuple[str, str, str], int] = {}
        self.ai_cost: dict[tuple[str, str], float] = {}
        self.ai_latency: dict[str, Histogram] = {}
        self.ai_cost_by_minute: dict[int, float] = {}
        self.ai_clock = -math.inf
        self.unpriced: dict[str, int] = {}
        self.events = 0

    def model(self, name: str) -> ModelFold:
        label = self.models(name)
        fold = self.by_model.get(label)
        if fold is None:
            fold = self.by_model[label] = ModelFold(self.s)
        return fold

    def set_reference(self, model: str, ref: Reference) -> None:
        """Install a reference loaded from a file (configuration, not an event).

        Called at start-up before the snapshot and replay, and again after a snapshot is loaded
        (the file may have changed): windows of features that keep their kind are kept.
        """
        with self.lock:
            self.model_refs[model] = ref
            m = self.model(model)
            if m.reference is None:
                m.set_reference(ref)
                m.reference_version = "*"
                return
            old_numeric, old_categorical = m.numeric, m.categorical
            old_predicted = m.predicted_window, m.predicted_book
            m.set_reference(ref)
            m.reference_version = "*"
            m.numeric.update({k: r for k, r in old_numeric.items() if k in m.numeric})
            # A window keeps the codebook it was coded with (drift maps names outside the reference).
            m.categorical.update({k: r for k, r in old_categorical.items() if k in m.categorical})
            if old_predicted[0] is not None:
                m.predicted_window, m.predicted_book = old_predicted

    # The ingest Fold protocol (tradewatch.core.ingest).
    def to_snapshot(self) -> dict[str, Any]:
        return self.dump()

    def from_snapshot(self, data: dict[str, Any]) -> None:
        loaded = ModelState.load(self.s, data)
        with self.lock:
            file_refs = {
                k: m.reference
                for k, m in self.by_model.items()
                if m.reference is not None and m.reference.source == "file"
            }
            version_refs, model_refs = self.version_refs, self.model_refs
            for name in list(vars(loaded)):
                if name not in ("lock", "s"):
                    setattr(self, name, getattr(loaded, name))
            self.version_refs, self.model_refs = version_refs, model_refs
        for model, ref in file_refs.items():
            fold = self.by_model.get(model)
            if fold is None or fold.reference_version in (None, "*"):  # not when a version's own file is in use
                self.set_reference(model, ref)

    # ------------------------------------------------------------------ apply
    def apply(self, event: Mapping[str, Any]) -> None:
        with self.lock:
            self._apply(event)

    def apply_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        with self.lock:
            for event in events:
                self._apply(event)

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        ts = event_time(event["ts"])
        self.events += 1
        if ts > self.clock:
            self.clock = ts
        if kind == "prediction":
            self._prediction(event, ts)
        elif kind == "outcome":
            self._outcome(event, ts)
        elif kind == "ai_call":
            self._ai_call(event, ts)
        self._expire()

    def _prediction(self, ev: Mapping[str, Any], ts: float) -> None:
        m = self.model(ev["model"])
        predicted = ev["predicted"]
        is_number = isinstance(predicted, int | float) and not isinstance(predicted, bool)
        if m.kind is None:
            m.kind = REGRESSOR if is_number else CLASSIFIER
        if m.kind == CLASSIFIER:
            predicted = _category(predicted) or ""
            label = m.classes(predicted)
        else:
            label = "value"
        key = (m.versions(str(ev["model_version"])), label)
        m.predictions[key] = m.predictions.get(key, 0) + 1
        m.latency.observe(float(ev["latency_seconds"]), ev)
        probabilities = ev.get("probabilities") or None
        confidence = ev.get("confidence")
        if confidence is None and probabilities and m.kind == CLASSIFIER:
            confidence = probabilities.get(predicted)
        confidence = math.nan if confidence is None else float(confidence)
        if not math.isnan(confidence):
            m.confidence.observe(confidence)
        if m.last_prediction is None or ts > m.last_prediction:
            m.last_prediction = ts
        pid = str(ev["prediction_id"])
        version = str(ev["model_version"])
        if m.track.prediction(version, ts, confidence, float(ev["latency_seconds"]), pid):
            self._new_version(str(ev["model"]), m, version)
        m.observe_features(ev.get("features") or {}, predicted, ts)
        old = self.pending.pop(pid, None)
        if old is not None:  # same ID predicted again: the newer prediction is the one an outcome joins
            self.by_model[old[0]].pending -= 1
        self.pending[pid] = (self.models(ev["model"]), ts, predicted, confidence, probabilities, version)
        m.pending += 1
        if len(self.pending) > self.s.pending_max:
            self._drop_oldest()

    def _outcome(self, ev: Mapping[str, Any], ts: float) -> None:
        entry = self.pending.pop(str(ev["prediction_id"]), None)
        if entry is None:
            self.model(ev["model"]).unknown += 1
            return
        label, pts, predicted, confidence, probabilities, version = entry
        m = self.by_model[label]
        m.pending -= 1
        m.lag.observe(max(0.0, ts - pts))
        pnl = ev.get("pnl")
        correct = m.record_outcome(
            predicted, confidence, probabilities, ev["actual"], math.nan if pnl is None else _number(pnl)
        )
        m.track.outcome(version, correct, confidence)

    def _new_version(self, model: str, m: ModelFold, version: str) -> None:
        """The reference follows the version in production: its file, else a fresh capture.

        A model-level reference file (``reference.files``) stays for every version; without any file
        and with ``reference.size`` 0 the old reference stays and the version shows as without one.
        """
        ref = self.version_refs.get(model, {}).get(version)
        if ref is not None:
            m.set_reference(ref)
            m.reference_version = version
        elif m.track.changes == 0 or m.reference_version == "*":
            return  # the first version captures as always; a model-level file serves every version
        elif model in self.model_refs:  # after a version with its own file, back to the model's
            m.set_reference(self.model_refs[model])
            m.reference_version = "*"
        elif self.s.reference_size > 0:
            m.restart_capture()

    def _drop_oldest(self) -> None:
        _, entry = self.pending.popitem(last=False)
        m = self.by_model[entry[0]]
        m.pending -= 1
        m.expired += 1

    def _expire(self) -> None:
        horizon = self.clock - self.s.pending_ttl_seconds
        pending = self.pending
        while pending:
            entry = pending[next(iter(pending))]
            if entry[1] >= horizon:
                break
            self._drop_oldest()

    def _ai_call(self, ev: Mapping[str, Any], ts: float) -> None:
        provider_raw, model_raw = str(ev["provider"]), str(ev["model"])
        provider, model = self.providers(provider_raw), self.ai_models(model_raw)
        prompt, completion = int(ev["prompt_tokens"]), int(ev["completion_tokens"])
        key = (provider, model, str(ev["status"]))
        self.ai_calls[key] = self.ai_calls.get(key, 0) + 1
        for kind, n in (("prompt", prompt), ("completion", completion)):
            tkey = (provider, model, kind)
            self.ai_tokens[tkey] = self.ai_tokens.get(tkey, 0) + n
        cost = ev.get("cost_usd")
        if cost is None:
            cost = self.price(provider_raw, model_raw, prompt, completion)
        cost = float(cost)
        self.ai_cost[(provider, model)] = self.ai_cost.get((provider, model), 0.0) + cost
        hist = self.ai_latency.get(provider)
        if hist is None:
            hist = self.ai_latency[provider] = Histogram(AI_LATENCY_BUCKETS)
        hist.observe(float(ev["latency_seconds"]))
        minute = int(ts // 60)
        self.ai_cost_by_minute[minute] = self.ai_cost_by_minute.get(minute, 0.0) + cost
        if ts > self.ai_clock:
            self.ai_clock = ts
            oldest = int(ts // 60) - COST_WINDOW_MINUTES
            if len(self.ai_cost_by_minute) > COST_WINDOW_MINUTES + 1:
                for old in [k for k in self.ai_cost_by_minute if k <= oldest]:
                    del self.ai_cost_by_minute[old]

    def price(self, provider: str, model: str, prompt: int, completion: int) -> float:
        """Cost from the price table: ``provider/model``, else ``provider/*``, else 0 (counted)."""
        price = self.s.prices.get(f"{provider}/{model}") or self.s.prices.get(f"{provider}/*")
        if price is None:
            key = f"{provider}/{model}"
            if key not in self.unpriced and len(self.unpriced) < self.s.max_ai_models:
                log.warning("no price for AI model; cost counted as 0 (set ai.prices)", extra={"model": key})
            k = key if key in self.unpriced or len(self.unpriced) < self.s.max_ai_models else OVERFLOW
            self.unpriced[k] = self.unpriced.get(k, 0) + 1
            return 0.0
        return (prompt * price.prompt + completion * price.completion) / 1000.0

    def projected_monthly_cost(self) -> float:
        """Spend in the 24 h of event time up to the latest AI call, x 30."""
        if self.ai_clock == -math.inf:
            return 0.0
        newest = int(self.ai_clock // 60)
        day = sum(c for m, c in self.ai_cost_by_minute.items() if m > newest - COST_WINDOW_MINUTES)
        return day * MONTH_DAYS

    # ------------------------------------------------------------------ snapshot
    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": 1,
                "events": self.events,
                "clock": _finite(self.clock),
                "models": self.models.dump(),
                "by_model": {k: m.dump() for k, m in self.by_model.items()},
                "pending": [[pid, *e] for pid, e in self.pending.items()],
                "providers": self.providers.dump(),
                "ai_models": self.ai_models.dump(),
                "ai_calls": [[*k, n] for k, n in self.ai_calls.items()],
                "ai_tokens": [[*k, n] for k, n in self.ai_tokens.items()],
                "ai_cost": [[*k, c] for k, c in self.ai_cost.items()],
                "ai_latency": {k: h.dump() for k, h in self.ai_latency.items()},
                "ai_cost_by_minute": [[m, c] for m, c in self.ai_cost_by_minute.items()],
                "ai_clock": _finite(self.ai_clock),
                "unpriced": self.unpriced,
            }

    @classmethod
    def load(cls, settings: FoldSettings, d: dict[str, Any]) -> ModelState:
        st = cls(settings)
        st.events = d["events"]
        st.clock = -math.inf if d["clock"] is None else d["clock"]
        st.models = Codebook.load(d["models"])
        st.by_model = {k: ModelFold.load(settings, m) for k, m in d["by_model"].items()}
        st.pending = OrderedDict(
            (pid, (e[0], e[1], e[2], _nan(e[3]), e[4], e[5] if len(e) > 5 else None)) for pid, *e in d["pending"]
        )
        st.providers = Codebook.load(d["providers"])
        st.ai_models = Codebook.load(d["ai_models"])
        st.ai_calls = {(p, m, s): n for p, m, s, n in d["ai_calls"]}
        st.ai_tokens = {(p, m, k): n for p, m, k, n in d["ai_tokens"]}
        st.ai_cost = {(p, m): c for p, m, c in d["ai_cost"]}
        st.ai_latency = {k: Histogram.load(h) for k, h in d["ai_latency"].items()}
        st.ai_cost_by_minute = {int(m): c for m, c in d["ai_cost_by_minute"]}
        st.ai_clock = -math.inf if d["ai_clock"] is None else d["ai_clock"]
        st.unpriced = dict(d["unpriced"])
        return st


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
