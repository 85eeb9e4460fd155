"""CBPE: a hand-computed case, an independent numpy implementation, and the model-drift simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradewatch.model import cbpe
from tradewatch.model.state import FoldSettings, ModelState
from tradewatch.model.version_collectors import estimates, views
from tradewatch.simulate.engine import Simulator


def test_hand_computed_case():
    # Reference: 10 outcomes at confidence 0.75 (7 right) and 4 at 0.35 (too few for their bin).
    ref = [(1.0, 0.75)] * 7 + [(0.0, 0.75)] * 3 + [(1.0, 0.35), (0.0, 0.35), (0.0, 0.35), (0.0, 0.35)]
    conf, correct = cbpe.split(ref)
    mapping = cbpe.calibration_map(conf, correct)
    assert mapping[7] == pytest.approx(0.7)  # bin (0.7, 0.8]
    assert math.isnan(mapping[3])  # 4 outcomes < MIN_BIN: the raw confidence is used
    # Estimate of three pending predictions: 0.7 + 0.7 + 0.35 (raw), / 3.
    assert cbpe.estimated_accuracy(np.array([0.72, 0.8, 0.35]), mapping) == pytest.approx(1.75 / 3)
    assert cbpe.estimated_accuracy(np.array([0.72, 0.8, 0.35])) == pytest.approx((0.72 + 0.8 + 0.35) / 3)
    # ECE on the reference: 10/14 |0.7 - 0.75| + 4/14 |0.25 - 0.35|.
    assert cbpe.reference_calibration_error(ref) == pytest.approx(10 / 14 * 0.05 + 4 / 14 * 0.10)
    # Estimate error on the same labelled predictions: calibrated 0.7 x 10 + 0.35 x 4 over 14, minus 8/14.
    assert cbpe.estimate_error(ref, mapping) == pytest.approx((7.0 + 1.4) / 14 - 8 / 14)


def _numpy_cbpe(ref_conf, ref_correct, conf):
    """Independent: bins by np.ceil on tenths (right-closed), per-bin mean by a loop."""
    edges = np.clip(np.ceil(np.round(ref_conf * 10, 9)) - 1, 0, 9).astype(int)
    cur = np.clip(np.ceil(np.round(conf * 10, 9)) - 1, 0, 9).astype(int)
    out = conf.copy()
    for b in range(10):
        sel = edges == b
        if sel.sum() >= 10:
            out[cur == b] = ref_correct[sel].mean()
    return out.mean()


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_an_independent_implementation(seed):
    rng = np.random.default_rng(seed)
    ref_conf = rng.uniform(0.34, 1.0, 2000)
    ref_correct = (rng.uniform(size=2000) < ref_conf**1.5).astype(float)  # miscalibrated on purpose
    conf = rng.uniform(0.34, 1.0, 700)
    mapping = cbpe.calibration_map(ref_conf, ref_correct)
    assert cbpe.estimated_accuracy(conf, mapping) == pytest.approx(_numpy_cbpe(ref_conf, ref_correct, conf), abs=1e-12)


def test_tracks_realized_accuracy_in_a_model_drift_run():
    """Offline from the simulator's event stream: during and after the model-drift incident, the
    estimate for the last window's labelled predictions stays within the stated error of what was
    realized (reference ECE + 2 standard errors of a window's accuracy), while both fall."""
    window = 200
    state = ModelState(FoldSettings(reference_size=200, performance_window=window, drift_window=1000))
    sim = Simulator(seed=3, scenario="model-drift", speed=1, rate=0.1, warmup=1800, start=1.7e9, log_events=False)
    samples = []
    outcomes = 0
    for ev in sim.events(None):
        if ev["type"] not in ("prediction", "outcome"):
            continue
        state.apply(ev)
        if ev["type"] == "outcome":
            outcomes += 1
            if outcomes > window and outcomes % 25 == 0:
                (view,), _ = views(state)
                e = estimates(view, window)
                samples.append((e.accuracy, e.estimated_accuracy, e.estimate_error, e.reference_calibration_error))
            if outcomes >= 1800:
                break
    acc, est, err, ref_ece = (np.array(c) for c in zip(*samples, strict=True))
    bound = ref_ece + 2 * np.sqrt(acc * (1 - acc) / window)
    assert np.all(np.abs(err) <= bound), np.max(np.abs(err) - bound)
    assert ref_ece[-1] < 0.2  # the simulated model is roughly calibrated on its reference (ECE ~0.12)
    assert acc.max() - acc.min() > 0.15 and est.max() - est.min() > 0.15  # both fell in the incident, and recovered
    assert np.corrcoef(acc, est)[0, 1] > 0.8
