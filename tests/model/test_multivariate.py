"""PCA reconstruction drift: unchanged data scores about 1, a broken correlation well above it."""

from __future__ import annotations

import numpy as np

from tradewatch.model.multivariate import MAX_ROWS, reconstruction


def correlated(rng, n, rho):
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return {"a": a, "b": b, "c": rng.normal(size=n)}


def test_unchanged_scores_about_one_and_a_broken_correlation_is_seen():
    rng = np.random.default_rng(5)
    ref = correlated(rng, 3000, 0.95)
    same = reconstruction(ref, correlated(rng, 2000, 0.95))
    broken = reconstruction(ref, correlated(rng, 2000, -0.95))  # each marginal as before
    assert 0.9 < same.ratio < 1.1
    assert broken.ratio > 1.5


def test_missing_values_too_few_features_and_bounded_rows():
    rng = np.random.default_rng(6)
    ref = correlated(rng, 12_000, 0.9)
    cur = correlated(rng, 500, 0.9)
    cur["a"][::7] = np.nan
    result = reconstruction(ref, cur)  # more than MAX_ROWS reference rows: strided, still fine
    assert ref["a"].size > MAX_ROWS and 0.8 < result.ratio < 1.3
    assert reconstruction({"a": ref["a"]}, {"a": cur["a"]}) is None
