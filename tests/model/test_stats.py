"""The statistics against hand computations and independent formulas on fixed data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from tradewatch.model import stats


def test_psi_hand_computed_shares():
    # sum((a - e) ln(a / e)) with e = 0.25 each, a = 0.1, 0.2, 0.3, 0.4, worked by hand:
    # -0.15 ln 0.4 + -0.05 ln 0.8 + 0.05 ln 1.2 + 0.15 ln 1.6
    # = 0.137444 + 0.011157 + 0.009116 + 0.070501 = 0.228218
    psi = stats.psi_from_shares([0.25] * 4, [0.1, 0.2, 0.3, 0.4])
    assert psi == pytest.approx(0.228218, abs=1e-6)


def test_psi_numeric_decile_bins_and_epsilon():
    # Reference 0..999: each decile bin holds exactly 100 values. Current: everything in the first
    # bin, so nine bins are empty and take epsilon = 1e-4:
    # (1 - 0.1) ln(1 / 0.1) + 9 (1e-4 - 0.1) ln(1e-4 / 0.1) = 2.072327 + 6.210763 = 8.283089
    reference = np.arange(1000, dtype=float)
    current = np.arange(100, dtype=float) * 0.99
    assert stats.bin_shares(reference, stats.quantile_edges(reference)) == pytest.approx([0.1] * 10)
    assert stats.psi_numeric(reference, current) == pytest.approx(8.283089, abs=1e-5)


def test_psi_numeric_matches_an_independent_loop():
    rng = np.random.default_rng(7)
    reference, current = rng.normal(0, 1, 2000), rng.normal(0.3, 1.2, 1500)
    edges = [-math.inf, *np.quantile(reference, [i / 10 for i in range(1, 10)]), math.inf]
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        e = max(sum(lo < v <= hi for v in reference) / reference.size, 1e-4)
        a = max(sum(lo < v <= hi for v in current) / current.size, 1e-4)
        total += (a - e) * math.log(a / e)
    assert stats.psi_numeric(reference, current) == pytest.approx(total, rel=1e-12)


def test_psi_identical_is_zero_and_nan_ignored():
    x = np.linspace(0, 1, 500)
    assert stats.psi_numeric(x, x) == pytest.approx(0.0, abs=1e-12)
    with_missing = np.concatenate([x, [np.nan, np.inf]])
    assert stats.psi_numeric(x, with_missing) == pytest.approx(0.0, abs=1e-12)


def test_quantile_edges_are_unique():
    edges = stats.quantile_edges(np.array([0.0] * 50 + [1.0] * 50))
    assert list(edges) == sorted(set(edges.tolist()))


def test_ks_known_samples():
    # Disjoint samples of 5: D = 1 and the exact p-value is 2 / C(10, 5) = 2 / 252.
    statistic, p = stats.ks(np.arange(1.0, 6.0), np.arange(6.0, 11.0))
    assert statistic == 1.0
    assert p == pytest.approx(2 / 252)


def test_ks_statistic_is_the_largest_ecdf_gap_and_pvalue_is_scipys():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 300), rng.normal(0.2, 1, 400)
    grid = np.concatenate([a, b])
    gap = np.max(
        np.abs(
            np.searchsorted(np.sort(a), grid, side="right") / a.size
            - np.searchsorted(np.sort(b), grid, side="right") / b.size
        )
    )
    statistic, p = stats.ks(a, np.concatenate([b, [np.nan]]))
    assert statistic == pytest.approx(gap)
    assert p == pytest.approx(sps.ks_2samp(a, b).pvalue)


def test_chi2_pvalue_by_hand_for_two_degrees_of_freedom():
    ref, cur = np.array([10.0, 20.0, 30.0]), np.array([20.0, 20.0, 20.0])
    table = np.vstack([ref, cur])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    # With 2 degrees of freedom the chi-square survival function is exp(-x / 2).
    assert stats.chi2_pvalue(ref, cur) == pytest.approx(math.exp(-chi2 / 2))


def test_chi2_drops_empty_categories_and_handles_one_category():
    assert stats.chi2_pvalue(np.array([10, 0, 30]), np.array([20, 0, 20])) == pytest.approx(
        stats.chi2_pvalue(np.array([10, 30]), np.array([20, 20]))
    )
    assert stats.chi2_pvalue(np.array([5]), np.array([9])) == 1.0


def test_js_distance_hand_values():
    assert stats.js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    # M = (0.75, 0.25); KL(p||M) = 0.207519, KL(q||M) = 0.415037; sqrt(mean) = 0.557923
    assert stats.js_distance(np.array([5, 5]), np.array([7, 0])) == pytest.approx(0.557923, abs=1e-6)
    assert stats.js_distance(np.array([3, 3]), np.array([1, 1])) == pytest.approx(0.0, abs=1e-7)


def test_corrections():
    assert stats.correct_pvalues([0.01, 0.02, 0.5]) == pytest.approx([0.03, 0.06, 1.0])
    assert stats.correct_pvalues([0.01, 0.02, 0.5], "bh") == pytest.approx([0.03, 0.03, 0.5])
    out = stats.correct_pvalues([0.01, math.nan, 0.2])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.4)


def test_missing_ratio():
    assert stats.missing_ratio(np.array([1.0, np.nan, np.inf, 2.0])) == 0.5
    assert stats.missing_ratio(np.array([])) == 0.0


def test_expected_calibration_error_hand_example():
    # Bins (0.9,1]: confidences 0.95, 0.91, hits 1, 0 -> |1 - 1.86| = 0.86; (0.8,0.9]: |0 - 0.85|;
    # (0.1,0.2]: |0 - 0.15|; (0.5,0.6]: |1 - 0.55|. ECE = (0.86 + 0.85 + 0.15 + 0.45) / 5 = 0.462
    conf = np.array([0.95, 0.85, 0.15, 0.55, 0.91])
    hit = np.array([1, 0, 0, 1, 0])
    assert stats.expected_calibration_error(conf, hit) == pytest.approx(0.462)
    assert stats.expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0


def test_brier_scores():
    assert stats.brier_binary(np.array([0.9, 0.6]), np.array([1, 0])) == pytest.approx(0.185)
    probs = {"up": 0.7, "down": 0.2, "flat": 0.1}
    assert stats.brier_multiclass_term(probs, "up") == pytest.approx(0.14)
    assert stats.brier_multiclass_term(probs, "other") == pytest.approx(1.54)


def test_classification_counts():
    result = stats.classification(["a", "a", "b", "b", "c"], ["a", "b", "b", "b", "a"])
    assert result.accuracy == pytest.approx(0.6)
    assert result.precision == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.0})
    assert result.recall == pytest.approx({"a": 0.5, "b": 2 / 3})
