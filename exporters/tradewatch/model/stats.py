"""Drift and performance statistics, as pure functions over numpy arrays.

Everything here is a thin, documented layer over numpy and scipy so the formulas are checkable
against independent computations (tests/model/test_stats.py). Choices and their sources:

* PSI (population stability index) = sum_i (a_i - e_i) * ln(a_i / e_i), where e_i is the share of
  the reference in bin i and a_i the share of the current window. Numeric bins are cut at the
  reference's deciles (10 bins, open-ended outer bins) so every bin holds ~10% of the reference;
  empty bins get ``PSI_EPSILON`` so the logarithm stays finite. Bands < 0.1 stable, 0.1-0.25 minor
  shift, >= 0.25 major shift come from credit-risk scorecard practice (Siddiqi, *Credit Risk
  Scorecards*, 2006; Yurdakul, *Statistical properties of the population stability index*, 2018).
* Numeric features: two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``).
* Categorical features: chi-square test of homogeneity on the 2 x k table of reference and
  current counts (``scipy.stats.chi2_contingency``) and the Jensen-Shannon distance with base 2
  (``scipy.spatial.distance.jensenshannon``, 0 = identical, 1 = disjoint).
* Multiple testing across a model's features: Bonferroni by default (as Alibi Detect's
  feature-wise detectors do), Benjamini-Hochberg optional (``scipy.stats.false_discovery_control``).
* Dataset drift when at least 50% of the features drift (Evidently's default ``drift_share``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSI_EPSILON = 1e-4
PSI_MINOR = 0.1
PSI_MAJOR = 0.25


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (deciles for 10 bins), duplicates removed.

    With k inner edges there are k + 1 bins; the outer bins are open so current values outside
    the reference range still land somewhere.
    """
    ref = reference[np.isfinite(reference)]
    if ref.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of the finite ``values`` in each bin (right-closed, as pandas.qcut)."""
    finite = values[np.isfinite(values)]
    counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=edges.size + 1)
    return counts / max(finite.size, 1)


def psi_from_shares(expected: np.ndarray, actual: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """sum((a - e) * ln(a / e)) with empty bins set to ``epsilon``."""
    e = np.clip(np.asarray(expected, dtype=float), epsilon, None)
    a = np.clip(np.asarray(actual, dtype=float), epsilon, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = 10, epsilon: float = PSI_EPSILON) -> float:
    edges = quantile_edges(reference, bins)
    return psi_from_shares(bin_shares(reference, edges), bin_shares(current, edges), epsilon)


def psi_counts(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """PSI of two count vectors over the same categories."""
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    return psi_from_shares(ref / max(ref.sum(), 1.0), cur / max(cur.sum(), 1.0), epsilon)


def missing_ratio(values: np.ndarray) -> float:
    """Share of NaN or infinite values (missing values are stored as NaN)."""
    if values.size == 0:
        return 0.0
    return float(1.0 - np.count_nonzero(np.isfinite(values)) / values.size)


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test on the finite values."""
    ref = reference[np.isfinite(reference)]
    cur = current[np.isfinite(current)]
    if ref.size == 0 or cur.size == 0:
        return math.nan, math.nan
    result = stats.ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def chi2_pvalue(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """p-value of the chi-square homogeneity test on the 2 x k table (empty columns dropped)."""
    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        # One category in all: the distributions cannot differ in shape.
        return 1.0 if table.shape[1] >= 1 and (table.sum(axis=1) > 0).all() else math.nan
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so 0..1) between two count vectors."""
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    if ref.sum() == 0 or cur.sum() == 0:
        return math.nan
    return float(jensenshannon(ref, cur, base=2))


def correct_pvalues(pvalues: Sequence[float], method: str = "bonferroni") -> np.ndarray:
    """Adjust p-values for testing several features at once; NaN (no test) stays NaN.

    ``bonferroni``: min(1, p x m). ``bh``: Benjamini-Hochberg adjusted p-values.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0:
        return out
    if method == "bonferroni":
        out[valid] = np.minimum(1.0, p[valid] * m)
    elif method == "bh":
        out[valid] = stats.false_discovery_control(p[valid], method="bh")
    else:
        raise ValueError(f"unknown correction {method!r}")
    return out


# --------------------------------------------------------------------------- calibration


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE = sum_b (n_b / n) x |accuracy_b - mean confidence_b| over equal-width bins of (0, 1].

    Bins are right-closed ((0, 0.1], ..., (0.9, 1]); confidence 0 falls in the first bin.
    """
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return math.nan
    # Right-closed bins via searchsorted on k / bins (exact decimal edges: ceil(0.7 * 10) would be 8).
    idx = np.searchsorted(np.arange(1, bins) / bins, conf, side="left")
    conf_sum = np.bincount(idx, weights=conf, minlength=bins)
    hit_sum = np.bincount(idx, weights=hit, minlength=bins)
    return float(np.sum(np.abs(hit_sum - conf_sum)) / conf.size)


def brier_binary(confidence: np.ndarray, correct: np.ndarray) -> float:
    """mean((confidence - correct)^2): the predicted class's confidence against whether it was right."""
    conf = np.asarray(confidence, dtype=float)
    if conf.size == 0:
        return math.nan
    return float(np.mean((conf - np.asarray(correct, dtype=float)) ** 2))


def brier_multiclass_term(probabilities: dict[str, float], actual: str) -> float:
    """sum_k (p_k - [k == actual])^2 for one outcome (classes absent from ``probabilities`` have p 0)."""
    total = sum((p - (1.0 if k == actual else 0.0)) ** 2 for k, p in probabilities.items())
    if actual not in probabilities:
        total += 1.0
    return total


@dataclass(frozen=True)
class Classification:
    accuracy: float
    precision: dict[str, float]
    recall: dict[str, float]


def classification(predicted: Sequence[str], actual: Sequence[str]) -> Classification:
    """Accuracy, and precision/recall per class (classes with no predicted/actual rows omitted)."""
    pred = np.asarray(predicted, dtype=object)
    act = np.asarray(actual, dtype=object)
    if pred.size == 0:
        return Classification(math.nan, {}, {})
    hit = pred == act
    precision: dict[str, float] = {}
    recall: dict[str, float] = {}
    for cls in sorted(set(pred.tolist()) | set(act.tolist())):
        is_pred = pred == cls
        is_act = act == cls
        tp = np.count_nonzero(hit & is_pred)
        if is_pred.any():
            precision[cls] = tp / np.count_nonzero(is_pred)
        if is_act.any():
            recall[cls] = tp / np.count_nonzero(is_act)
    return Classification(float(np.mean(hit)), precision, recall)
