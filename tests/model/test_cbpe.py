"""CBPE: a hand-computed case, an independent numpy implementation, and the model-drift simulator."""

from __future__ import annotations

import numpy as np
import pytest

from tradewatch.model import cbpe
from tradewatch.model.state import FoldSettings, ModelState
from tradewatch.model.version_collectors import estimates, views
from tradewatch.simulate.engine import Simulator


def test_hand_computed_case():
    # Reference: 100 outcomes at confidence 0.85 (60 right) and 4 at 0.35 (1 right, too few for their bin).
    ref = [(1.0, 0.85)] * 60 + [(0.0, 0.85)] * 40 + [(1.0, 0.35), (0.0, 0.35), (0.0, 0.35), (0.0, 0.35)]
    conf, correct = cbpe.split(ref)
    mapping = cbpe.calibration_map(conf, correct)
    assert mapping[8] == pytest.approx(0.6 - 0.85)  # bin (0.8, 0.9]: accuracy minus mean confidence
    assert mapping[3] == 0  # 4 outcomes < MIN_BIN: the raw confidence is used
    # Three pending predictions: 0.82 - 0.25, 0.9 - 0.25 (0.9 is in the right-closed bin), 0.35 raw.
    assert cbpe.estimated_accuracy(np.array([0.82, 0.9, 0.35]), mapping) == pytest.approx((0.57 + 0.65 + 0.35) / 3)
    assert cbpe.estimated_accuracy(np.array([0.82, 0.9, 0.35])) == pytest.approx((0.82 + 0.9 + 0.35) / 3)
    # ECE on the reference: 100/104 |0.6 - 0.85| + 4/104 |0.25 - 0.35|.
    assert cbpe.reference_calibration_error(ref) == pytest.approx((25 + 0.4) / 104)
    # Estimate error on the same labelled predictions: (0.6 x 100 + 0.35 x 4) / 104 - 61 / 104.
    assert cbpe.estimate_error(ref, mapping) == pytest.approx(0.4 / 104)


def test_a_calibrated_reference_is_not_recalibrated():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.34, 1.0, 3000)
    mapping = cbpe.calibration_map(conf, (rng.uniform(size=3000) < conf).astype(float))
    assert not mapping.any()


def _numpy_cbpe(ref_conf, ref_correct, conf):
    """Independent: bins by np.ceil on tenths (right-closed), per-bin mean by a loop."""
    edges = np.clip(np.ceil(np.round(ref_conf * 10, 9)) - 1, 0, 9).astype(int)
    cur = np.clip(np.ceil(np.round(conf * 10, 9)) - 1, 0, 9).astype(int)
    out = conf.copy()
    gap = sum(abs(ref_correct[edges == b].sum() - ref_conf[edges == b].sum()) for b in range(10)) / ref_conf.size
    noise = sum(
        np.sqrt(2 / np.pi * ref_conf[edges == b].mean() * (1 - ref_conf[edges == b].mean()) * (edges == b).sum())
        for b in range(10)
        if (edges == b).any()
    )
    if gap <= 2 * noise / ref_conf.size:
        return conf.mean()
    for b in range(10):
        sel = edges == b
        if sel.sum() >= 10:
            out[cur == b] += ref_correct[sel].mean() - ref_conf[sel].mean()
    return np.clip(out, 0, 1).mean()


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
