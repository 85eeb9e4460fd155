"""Confidence-based performance estimation (CBPE) of a classifier's accuracy while outcomes are pending.

As NannyML's CBPE (https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html):
the expected accuracy of a set of predictions is the mean probability that each prediction is
right, i.e. the mean (calibrated) confidence of the predicted class. It needs no labels, so it is
available the moment the predictions are made, hours before their outcomes.

Calibration: NannyML fits an isotonic regression of correctness on confidence on the reference
(when that improves the calibration); we correct by bins, on the same 10 equal-width right-closed
bins as the calibration error: a confidence in a bin holding at least ``MIN_BIN`` reference outcomes
is shifted by that bin's reference gap (accuracy minus mean confidence), elsewhere it is used as is.
A shift rather than the bin's accuracy itself (histogram binning, Zadrozny and Elkan, 2001) keeps the
spread within a bin. As NannyML, we calibrate only when it is needed: when the reference ECE is more
than twice what sampling alone gives a calibrated model of that size (per bin, the mean absolute
deviation of a binomial share, sqrt(2/pi) x sqrt(c (1 - c) / n_b)); otherwise the raw confidences
are used, and the estimate equals NannyML's (compared once with NannyML 0.13.1, see
docs/model-exporter.md).

Validity. On the reference itself the uncalibrated estimate's error is bounded by the expected
calibration error: |mean(conf) - accuracy| = |sum_b n_b/n (conf_b - acc_b)| <= sum_b n_b/n
|conf_b - acc_b| = ECE. On new data the estimate stays right as long as P(correct | confidence) is
what it was on the reference (covariate shift only); a concept shift (the same confidence now
right less often) is exactly what it cannot see. That is why the realized accuracy is checked
against the estimate made for the same predictions once their outcomes arrive
(:func:`estimate_error`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tradewatch.model import stats

BINS = 10
MIN_BIN = 10  # reference outcomes a bin needs before its accuracy replaces the raw confidence


def _bin(conf: np.ndarray) -> np.ndarray:
    # Right-closed bins (0, 0.1], ..., (0.9, 1], as stats.expected_calibration_error.
    return np.searchsorted(np.arange(1, BINS) / BINS, conf, side="left")


def calibration_map(ref_conf: np.ndarray, ref_correct: np.ndarray) -> np.ndarray:
    """Per bin, reference accuracy minus mean confidence (0 where the bin has fewer than ``MIN_BIN``)."""
    out = np.zeros(BINS)
    if ref_conf.size == 0:
        return out
    idx = _bin(ref_conf)
    n = np.bincount(idx, minlength=BINS)
    hits = np.bincount(idx, weights=ref_correct, minlength=BINS)
    conf = np.bincount(idx, weights=ref_conf, minlength=BINS)
    ok = n >= MIN_BIN
    out[ok] = (hits[ok] - conf[ok]) / n[ok]
    seen = n > 0
    mean_conf = conf[seen] / n[seen]
    ece = float(np.sum(np.abs(hits[seen] - conf[seen]))) / ref_conf.size
    noise = float(np.sum(n[seen] * np.sqrt(2 / np.pi * mean_conf * (1 - mean_conf) / n[seen]))) / ref_conf.size
    if ece <= 2 * noise:  # calibrated as far as the reference can tell: leave the confidences alone
        out[:] = 0.0
    return out


def calibrated(conf: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    return np.clip(conf + mapping[_bin(conf)], 0.0, 1.0)


def estimated_accuracy(conf: np.ndarray, mapping: np.ndarray | None = None) -> float:
    """Expected accuracy of predictions with these confidences (NaN = no confidence given)."""
    conf = conf[~np.isnan(conf)]
    if conf.size == 0:
        return math.nan
    return float(np.mean(conf if mapping is None else calibrated(conf, mapping)))


def split(rows: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) arrays of outcome rows (correct, confidence) that have a confidence."""
    if not rows:
        return np.empty(0), np.empty(0)
    arr = np.asarray(rows, dtype=float)
    keep = ~np.isnan(arr[:, 1])
    return arr[keep, 1], arr[keep, 0]


def estimate_error(rows: Sequence[tuple[float, float]], mapping: np.ndarray | None) -> float:
    """Estimate minus realized accuracy over the same labelled predictions (> 0: the estimate was high)."""
    conf, correct = split(rows)
    if conf.size == 0:
        return math.nan
    return estimated_accuracy(conf, mapping) - float(np.mean(correct))


def reference_calibration_error(rows: Sequence[tuple[float, float]]) -> float:
    """ECE of the raw confidences on the reference: the bound of the uncalibrated estimate there."""
    conf, correct = split(rows)
    return stats.expected_calibration_error(conf, correct) if conf.size else math.nan
