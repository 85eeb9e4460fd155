"""Data drift and prediction drift, computed on a schedule from copies of the bounded windows.

:class:`DriftEngine.run` is the body of a :class:`~tradewatch.core.app.Periodic` task: it copies
each model's windows under the state lock (a few array copies), computes the statistics outside
it, and publishes an immutable :class:`ModelDrift` per model that the collector reads. The
scrape path only reads those results.

Per feature: PSI (both kinds), KS statistic and p-value (numeric), chi-square p-value and
Jensen-Shannon distance (categorical), missing ratio. The p-values of a model's features are
corrected together (Bonferroni or Benjamini-Hochberg); a feature drifts when its corrected
p-value is below alpha or its PSI reaches the major band; the model's data set drifts when the
drifted share reaches ``dataset_share``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradewatch.model import stats
from tradewatch.model.buffers import OVERFLOW
from tradewatch.model.multivariate import Reconstruction, reconstruction
from tradewatch.model.state import CATEGORICAL, MISSING_CODE, NUMERIC, ModelState, Reference


@dataclass(frozen=True)
class DriftSettings:
    min_samples: int = 500
    bins: int = 10
    alpha: float = 0.05
    correction: str = "bonferroni"
    psi_minor: float = stats.PSI_MINOR
    psi_major: float = stats.PSI_MAJOR
    dataset_share: float = 0.5


@dataclass(frozen=True)
class FeatureDrift:
    kind: str
    samples: int
    psi: float
    missing_ratio: float
    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan
    chi2_pvalue: float = math.nan
    js_distance: float = math.nan
    corrected_pvalue: float = math.nan
    drifted: bool = False

    @property
    def pvalue(self) -> float:
        return self.ks_pvalue if self.kind == NUMERIC else self.chi2_pvalue


@dataclass(frozen=True)
class ModelDrift:
    features: dict[str, FeatureDrift]
    drifted_share: float
    dataset_drift: bool
    prediction_psi: float
    samples: int
    timestamp: float
    seconds: float
    multivariate: Reconstruction | None = None

    def ranking(self) -> list[str]:
        """Features, most drifted first: by corrected p-value (smallest first), then by PSI (largest first)."""

        def key(name: str) -> tuple[float, float]:
            f = self.features[name]
            p = f.corrected_pvalue
            return (1.0 if math.isnan(p) else p, -(0.0 if math.isnan(f.psi) else f.psi))

        return sorted(self.features, key=key)


def numeric_drift(reference: np.ndarray, current: np.ndarray, s: DriftSettings) -> FeatureDrift:
    statistic, pvalue = stats.ks(reference, current)
    return FeatureDrift(
        NUMERIC,
        int(current.size),
        stats.psi_numeric(reference, current, s.bins),
        stats.missing_ratio(current),
        ks_statistic=statistic,
        ks_pvalue=pvalue,
    )


MIN_EXPECTED = 5.0  # Cochran's rule: chi-square cells expect at least 5 counts


def common_buckets(
    reference: dict[str, int], current: dict[str, int], window_names: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """A value that one side cannot tell apart (it is in that side's ``__overflow__``) goes to
    ``__overflow__`` on the other side too. A window coded with the reference's values never needs
    it; windows and references from snapshots written before that (each capped first-seen) do."""

    def fold(counts: dict[str, int], other_full: bool, other: Any) -> dict[str, int]:
        if not other_full:
            return counts
        out: dict[str, int] = {}
        for name, n in counts.items():
            key = name if name in other else OVERFLOW
            out[key] = out.get(key, 0) + n
        return out

    window_set = set(window_names)
    return (fold(reference, OVERFLOW in window_set, window_set), fold(current, OVERFLOW in reference, reference))


def equalize(reference: dict[str, int], current: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Both sides bucketed alike: a value too rare to test (expected count below ``MIN_EXPECTED`` on
    the smaller side, from the pooled counts) is ``__overflow__`` on both sides, every other value
    keeps its own bucket on both.

    The rule depends only on the margins of the 2 x k table, which the chi-square test conditions
    on, so merging does not bias it. A kept set chosen by one side's counts (the reference's top
    values) would keep what that side over-sampled and invent drift on unchanged data; a top-k of
    the pooled counts would, with a small reference, hide a value that vanished from the window.
    """
    n_ref, n_cur = sum(reference.values()), sum(current.values())
    if n_ref == 0 or n_cur == 0:
        return reference, current
    scale = min(n_ref, n_cur) / (n_ref + n_cur)
    pooled: dict[str, int] = {}
    for counts in (reference, current):
        for name, n in counts.items():
            pooled[name] = pooled.get(name, 0) + n
    rare = {name for name, n in pooled.items() if n * scale < MIN_EXPECTED and name != OVERFLOW}
    if not rare:
        return reference, current

    def merge(counts: dict[str, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, n in counts.items():
            key = OVERFLOW if name in rare else name
            out[key] = out.get(key, 0) + n
        return out

    return merge(reference), merge(current)


def categorical_drift(reference: dict[str, int], current: dict[str, int], missing: float) -> FeatureDrift:
    reference, current = equalize(reference, current)
    names = sorted(set(reference) | set(current))
    ref = np.array([reference.get(n, 0) for n in names], dtype=float)
    cur = np.array([current.get(n, 0) for n in names], dtype=float)
    return FeatureDrift(
        CATEGORICAL,
        int(cur.sum()),
        stats.psi_counts(ref, cur),
        missing,
        chi2_pvalue=stats.chi2_pvalue(ref, cur),
        js_distance=stats.js_distance(ref, cur),
    )


def flag(features: dict[str, FeatureDrift], s: DriftSettings) -> tuple[dict[str, FeatureDrift], float, bool]:
    """Correct the features' p-values together and flag drift; return (features, share, dataset)."""
    names = list(features)
    corrected = stats.correct_pvalues([features[n].pvalue for n in names], s.correction)
    out: dict[str, FeatureDrift] = {}
    for name, p in zip(names, corrected, strict=True):
        f = features[name]
        significant = not math.isnan(p) and p < s.alpha
        drifted = bool(significant or (not math.isnan(f.psi) and f.psi >= s.psi_major))
        out[name] = FeatureDrift(
            f.kind,
            f.samples,
            f.psi,
            f.missing_ratio,
            f.ks_statistic,
            f.ks_pvalue,
            f.chi2_pvalue,
            f.js_distance,
            float(p),
            drifted,
        )
    share = sum(f.drifted for f in out.values()) / len(out) if out else math.nan
    return out, share, bool(out) and share >= s.dataset_share


@dataclass
class _Copy:
    """What the drift computation needs from one model, copied under the state lock."""

    reference: Reference
    numeric: dict[str, np.ndarray]
    categorical: dict[str, tuple[list[str], np.ndarray]]
    predicted: np.ndarray
    class_names: list[str]


def _counts(names: list[str], codes: np.ndarray) -> tuple[dict[str, int], float]:
    present = codes[codes != MISSING_CODE]
    counts = np.bincount(present, minlength=len(names)) if present.size else np.zeros(len(names), int)
    missing = 1.0 - present.size / codes.size if codes.size else 0.0
    return {n: int(c) for n, c in zip(names, counts, strict=False) if c}, missing


def compute(copy: _Copy, s: DriftSettings, now: float) -> ModelDrift:
    started = time.perf_counter()
    ref = copy.reference
    features: dict[str, FeatureDrift] = {}
    for name, values in copy.numeric.items():
        features[name] = numeric_drift(ref.numeric[name], values, s)
    for name, (names, codes) in copy.categorical.items():
        counts, missing = _counts(names, codes)
        features[name] = categorical_drift(*common_buckets(ref.categorical[name], counts, names), missing)
    features, share, dataset = flag(features, s)
    if ref.predicted_values is not None and copy.predicted.dtype != np.int32:
        prediction_psi = stats.psi_numeric(ref.predicted_values, copy.predicted, s.bins)
    elif ref.predicted_classes and copy.predicted.dtype == np.int32:
        counts, _ = _counts(copy.class_names, copy.predicted)
        expected, counts = equalize(*common_buckets(ref.predicted_classes, counts, copy.class_names))
        names = sorted(set(expected) | set(counts))
        prediction_psi = stats.psi_counts(
            np.array([expected.get(n, 0) for n in names]), np.array([counts.get(n, 0) for n in names])
        )
    else:
        prediction_psi = math.nan
    multivariate = reconstruction(ref.numeric, copy.numeric)
    return ModelDrift(
        features,
        share,
        dataset,
        prediction_psi,
        int(copy.predicted.size),
        now,
        time.perf_counter() - started,
        multivariate,
    )


class DriftEngine:
    """Runs drift for every model with a reference and enough samples; keeps the latest results."""

    def __init__(self, state: ModelState, settings: DriftSettings, clock: Callable[[], float] = time.time):
        self.state = state
        self.s = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._results: dict[str, ModelDrift] = {}

    def _copies(self) -> dict[str, _Copy]:
        out: dict[str, _Copy] = {}
        with self.state.lock:
            for label, m in self.state.by_model.items():
                window = m.predicted_window
                if m.reference is None:  # a new version capturing its reference: old results no longer hold
                    with self._lock:
                        self._results.pop(label, None)
                if m.reference is None or window is None or len(window) < self.s.min_samples:
                    continue
                out[label] = _Copy(
                    m.reference,
                    {k: r.values() for k, r in m.numeric.items()},
                    {k: (list(b.names), r.values()) for k, (b, r) in m.categorical.items()},
                    m.predicted_window.values(),
                    list((m.predicted_book or m.classes).names),
                )
        return out

    def run(self) -> dict[str, ModelDrift]:
        results = {label: compute(copy, self.s, self.clock()) for label, copy in self._copies().items()}
        with self._lock:
            self._results.update(results)
        return results

    def results(self) -> dict[str, ModelDrift]:
        with self._lock:
            return dict(self._results)
