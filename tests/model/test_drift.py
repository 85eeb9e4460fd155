"""Drift detection: false-alarm rate on same-distribution samples, detection of real shifts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from modelfactory import stream

from tradewatch.model.drift import DriftEngine, DriftSettings, categorical_drift, flag, numeric_drift
from tradewatch.model.state import FoldSettings, ModelState

ALPHA = 0.05
SEEDS = 200
N = 1000


DEFAULTS = DriftSettings()


def _features(rng: np.random.Generator, shift: float = 0.0, cat_probs=(0.5, 0.3, 0.2), s=DEFAULTS):
    """Four numeric features and one categorical, reference vs current, through the drift code."""
    out = {}
    for i in range(4):
        out[f"x{i}"] = numeric_drift(rng.normal(0, 1, N), rng.normal(shift if i == 0 else 0.0, 1, N), s)
    ref = rng.choice(3, N, p=[0.5, 0.3, 0.2])
    cur = rng.choice(3, N, p=list(cat_probs))
    out["c"] = categorical_drift(
        {str(k): int(np.sum(ref == k)) for k in range(3)}, {str(k): int(np.sum(cur == k)) for k in range(3)}, 0.0
    )
    return out


@pytest.mark.parametrize("correction", ["bonferroni", "bh"])
def test_false_alarm_rate_is_at_most_alpha(correction):
    s = DriftSettings(alpha=ALPHA, correction=correction)
    any_feature = dataset = 0
    for seed in range(SEEDS):
        features, _share, dataset_drift = flag(_features(np.random.default_rng(seed), s=s), s)
        any_feature += any(f.drifted for f in features.values())
        dataset += dataset_drift
    # Under the null, the corrected family-wise error rate is <= alpha; allow two binomial standard
    # errors for sampling (0.05 + 2 * 0.0154). The dataset alarm needs half the features: far rarer.
    tolerance = 2 * math.sqrt(ALPHA * (1 - ALPHA) / SEEDS)
    assert any_feature / SEEDS <= ALPHA + tolerance
    assert dataset / SEEDS <= ALPHA


def test_mean_shift_of_half_a_standard_deviation_is_detected_every_time():
    s = DriftSettings()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        features, share, _ = flag(_features(rng, shift=0.5, cat_probs=(0.2, 0.3, 0.5)), s)
        assert features["x0"].drifted, seed
        assert features["x0"].corrected_pvalue < 1e-6
        assert features["x0"].psi > s.psi_minor
        assert features["c"].drifted and features["c"].js_distance > 0.1
        assert share >= 2 / 5 - 1e-9


def test_psi_alone_flags_a_feature():
    # A tiny sample cannot make the KS test significant, but the PSI band still flags the change.
    rng = np.random.default_rng(1)
    s = DriftSettings(alpha=1e-300)
    f = numeric_drift(rng.normal(0, 1, 2000), rng.normal(2, 1, 2000), s)
    features, _, _ = flag({"x": f}, s)
    assert f.psi >= 0.25 and features["x"].drifted


def _state(**kw) -> ModelState:
    return ModelState(FoldSettings(reference_size=1000, drift_window=1000, **kw))


def test_pipeline_reports_no_drift_on_a_stable_stream():
    state = _state()
    state.apply_many(stream(2000, seed=11))
    result = DriftEngine(state, DriftSettings(), clock=lambda: 123.0).run()["m"]
    assert set(result.features) == {"x", "y", "c"}
    assert not result.dataset_drift
    assert result.drifted_share == 0.0
    assert result.prediction_psi < 0.1
    assert result.samples == 1000 and result.timestamp == 123.0


def test_pipeline_reports_feature_dataset_and_prediction_drift():
    state = _state()
    state.apply_many(stream(2000, seed=12, shift_after=1000))
    result = DriftEngine(state, DriftSettings()).run()["m"]
    assert result.features["x"].drifted and result.features["c"].drifted
    assert not result.features["y"].drifted
    assert result.drifted_share == pytest.approx(2 / 3)
    assert result.dataset_drift
    assert result.prediction_psi > 0.1  # the up/down balance follows x
    assert math.isnan(result.features["c"].ks_pvalue) and not math.isnan(result.features["c"].chi2_pvalue)


def test_no_result_before_min_samples():
    state = _state()
    state.apply_many(stream(1400, seed=13))
    engine = DriftEngine(state, DriftSettings(min_samples=500))
    assert engine.run() == {}  # 400 predictions after the 1000-row reference
    state.apply_many(stream(200, seed=14))
    assert "m" in engine.run()


def test_a_feature_that_stops_arriving_is_reported_missing_and_drifted():
    state = _state()
    state.apply_many(stream(1000, seed=15, outcome_every=0))
    for event in stream(600, seed=16, outcome_every=0):
        event["features"] = {"y": event["features"]["y"]}  # x and c no longer sent
        state.apply(event)
    result = DriftEngine(state, DriftSettings()).run()["m"]
    for name in ("x", "c"):
        f = result.features[name]
        assert f.missing_ratio == 1.0 and f.drifted, name
    assert math.isnan(result.features["x"].ks_pvalue) and math.isnan(result.features["c"].chi2_pvalue)
    assert result.features["y"].missing_ratio == 0.0 and not result.features["y"].drifted
