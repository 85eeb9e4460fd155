"""The model fold: joining outcomes, expiry, rolling performance, concept drift, AI cost, caps."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from modelfactory import ai_call, outcome, prediction, stream

from tradewatch.model.buffers import OVERFLOW
from tradewatch.model.reference import ReferenceError, load_reference
from tradewatch.model.state import FoldSettings, ModelState, Price

T0 = 1_700_000_000.0


def fold(events, **kw) -> ModelState:
    state = ModelState(FoldSettings(**kw))
    state.apply_many(events)
    return state


def test_outcomes_join_by_prediction_id_including_late_ones():
    state = fold(
        [
            prediction("p1", T0, "up", confidence=0.8),
            prediction("p2", T0 + 1, "down", confidence=0.6),
            outcome("p2", T0 + 3, "down"),
            outcome("p1", T0 + 7200, "down"),  # two hours late, within the 24 h TTL
        ]
    )
    m = state.by_model["m"]
    assert m.pending == 0 and m.expired == 0 and m.unknown == 0
    assert m.lag.count == 2 and m.lag.sum == pytest.approx(2 + 7200)
    perf = m.performance()
    assert perf.outcomes == 2 and perf.accuracy == 0.5


def test_unknown_prediction_ids_are_counted_per_model():
    state = fold(
        [
            prediction("p1", T0),
            outcome("nope", T0 + 1, "up"),
            outcome("p1", T0 + 2, "up"),
            outcome("p1", T0 + 3, "up"),
            outcome("x", T0 + 4, "up", model="other"),
        ]
    )
    assert state.by_model["m"].unknown == 2  # never seen; and p1 a second time
    assert state.by_model["other"].unknown == 1
    assert state.by_model["m"].performance().outcomes == 1


def test_pending_expire_by_event_time_and_late_outcome_is_then_unknown():
    state = fold([prediction("p1", T0), prediction("p2", T0 + 50), prediction("p3", T0 + 100)], pending_ttl_seconds=60)
    m = state.by_model["m"]
    assert (m.pending, m.expired) == (2, 1)  # p1 is older than 100 - 60
    state.apply(outcome("p1", T0 + 101, "up"))
    assert m.unknown == 1
    state.apply(outcome("p3", T0 + 102, "up"))
    assert (m.pending, m.expired, m.performance().outcomes) == (1, 1, 1)  # p2 (t=50) is within 102 - 60
    state.apply(prediction("p4", T0 + 111))  # the event clock passes 50 + 60: p2 expires
    state.apply(outcome("p2", T0 + 112, "up"))
    assert (m.pending, m.expired, m.unknown) == (1, 2, 2)
    assert list(state.pending) == ["p4"]


def test_pending_cap_drops_the_oldest_as_expired():
    state = fold([prediction(f"p{i}", T0 + i) for i in range(10)], pending_max=4)
    m = state.by_model["m"]
    assert (m.pending, m.expired) == (4, 6)
    assert list(state.pending) == ["p6", "p7", "p8", "p9"]


def test_classifier_performance_numbers():
    events = []
    rows = [
        ("up", "up", 0.9, 5.0),
        ("up", "down", 0.8, -2.0),
        ("down", "down", 0.7, 1.0),
        ("down", "up", 0.6, -1.0),
        ("up", "up", 0.95, 3.0),
    ]
    for i, (pred, act, conf, pnl) in enumerate(rows):
        events += [prediction(f"p{i}", T0 + i, pred, confidence=conf), outcome(f"p{i}", T0 + i + 1, act, pnl=pnl)]
    perf = fold(events).by_model["m"].performance()
    assert perf.accuracy == pytest.approx(3 / 5)
    assert perf.precision == pytest.approx({"up": 2 / 3, "down": 1 / 2})
    assert perf.recall == pytest.approx({"up": 2 / 3, "down": 1 / 2})
    assert perf.win_rate == pytest.approx(3 / 5) and perf.pnl == pytest.approx(6.0)
    # Binary Brier on confidence: (0.1^2 + 0.8^2 + 0.3^2 + 0.6^2 + 0.05^2) / 5
    assert perf.brier == pytest.approx((0.01 + 0.64 + 0.09 + 0.36 + 0.0025) / 5)
    # ECE, one outcome per right-closed bin: |1 - 0.95| + |1 - 0.9| + |0 - 0.8| + |1 - 0.7| + |0 - 0.6|
    # = 0.05 + 0.1 + 0.8 + 0.3 + 0.6 = 1.85, over 5 outcomes
    assert perf.calibration_error == pytest.approx(1.85 / 5)
    assert math.isnan(perf.mae)


def test_multiclass_brier_from_probabilities():
    probs = {"up": 0.7, "down": 0.2, "flat": 0.1}
    perf = fold([prediction("p", T0, "up", probabilities=probs), outcome("p", T0 + 1, "up")]).by_model["m"]
    assert perf.performance().brier == pytest.approx(0.14)
    assert perf.confidence.sum == pytest.approx(0.7)  # confidence taken from probabilities[predicted]


def test_regressor_mae_rmse_and_reference_ratio():
    events = []
    errors = [1.0, -1.0, 1.0, -1.0, 3.0, -3.0, 3.0, -3.0]
    for i, err in enumerate(errors):
        events += [prediction(f"p{i}", T0 + i, 10.0), outcome(f"p{i}", T0 + i + 1, 10.0 + err)]
    m = fold(events, performance_window=4).by_model["m"]
    perf = m.performance()
    assert m.predictions == {("v1", "value"): 8}
    assert perf.mae == pytest.approx(3.0) and perf.rmse == pytest.approx(3.0)
    assert math.isnan(perf.accuracy)
    assert perf.vs_reference == pytest.approx(1.0 / 3.0)  # reference MAE 1 / rolling MAE 3


def test_concept_drift_ratio_is_rolling_over_first_window_accuracy():
    events = []
    for i, correct in enumerate([1, 1, 1, 0, 1, 0, 0, 0]):  # reference accuracy 0.75, then 0.25
        events += [prediction(f"p{i}", T0 + i, "up"), outcome(f"p{i}", T0 + i, "up" if correct else "down")]
    m = fold(events[:8], performance_window=4).by_model["m"]
    assert m.performance().vs_reference == 1.0  # rolling window == reference window
    m = fold(events, performance_window=4).by_model["m"]
    assert m.performance().accuracy == 0.25
    assert m.performance().vs_reference == pytest.approx(0.25 / 0.75)


def test_reference_is_captured_from_the_first_predictions_with_its_time_range():
    state = fold(stream(1500, seed=1, outcome_every=0), reference_size=1000, drift_window=2000)
    m = state.by_model["m"]
    ref = m.reference
    assert ref.source == "captured" and ref.rows == 1000
    assert (ref.start, ref.end) == (T0, T0 + 999)
    assert ref.kinds == {"x": "numeric", "y": "numeric", "c": "categorical"}
    assert sum(ref.categorical["c"].values()) == 1000
    assert sum(ref.predicted_classes.values()) == 1000
    assert len(m.numeric["x"]) == 500 and len(m.predicted_window) == 500  # only what came after


def test_drift_windows_are_bounded_ring_buffers():
    m = fold(stream(3000, seed=2, outcome_every=0), reference_size=100, drift_window=500).by_model["m"]
    assert len(m.numeric["x"]) == 500 and m.numeric["x"].n == 2900
    assert m.numeric["x"].buf.size == 500


def test_missing_and_wrong_typed_features_are_nan_in_the_window():
    events = [prediction(f"r{i}", T0 + i, features={"x": float(i), "c": "a"}) for i in range(10)]
    events += [
        prediction("a", T0 + 20, features={"x": None, "c": None}),
        prediction("b", T0 + 21, features={"x": "text", "c": 3}),
        prediction("c", T0 + 22, features={}),
    ]
    m = fold(events, reference_size=10).by_model["m"]
    x = m.numeric["x"].values()
    assert np.isnan(x).all()
    book, ring = m.categorical["c"]
    assert list(ring.values()) == [-1, book.code("3"), -1]


def test_label_caps_use_overflow():
    events = [
        prediction(f"p{i}", T0 + i, f"class{i % 5}", model=f"model{i % 4}", version=f"v{i % 3}") for i in range(60)
    ]
    state = fold(events, max_models=2, max_versions=2, max_classes=3)
    assert list(state.by_model) == ["model0", "model1", OVERFLOW]
    labels = {k for m in state.by_model.values() for k in m.predictions}
    assert {v for v, _ in labels} <= {"v0", "v1", "v2", OVERFLOW}
    assert all(len(m.versions.names) <= 3 and len(m.classes.names) <= 4 for m in state.by_model.values())
    assert OVERFLOW in state.by_model[OVERFLOW].classes.names


def test_ai_cost_given_or_priced_and_projected_from_the_last_24h():
    prices = {"openai/gpt-4o": Price(0.0025, 0.01), "local/*": Price(0.0, 0.0)}
    day = 86400.0
    state = fold(
        [
            ai_call(T0, prompt=1000, completion=100, cost=None),  # 0.0025 + 0.001 = 0.0035
            ai_call(T0 + 10, cost=1.0, status="timeout"),
            ai_call(T0 + day + 60, provider="local", model="llama", prompt=500, completion=5),
            ai_call(T0 + day + 120, provider="anthropic", model="claude-x", cost=None),  # unpriced: 0
            ai_call(T0 + day + 180, cost=2.0, status="rate_limited", latency=12.0),
        ],
        prices=prices,
    )
    assert state.ai_cost[("openai", "gpt-4o")] == pytest.approx(3.0035)
    assert state.ai_cost[("anthropic", "claude-x")] == 0.0 and state.unpriced == {"anthropic/claude-x": 1}
    assert state.ai_calls[("openai", "gpt-4o", "timeout")] == 1
    assert state.ai_tokens[("local", "llama", "prompt")] == 500
    # The first two calls are more than 24 h before the newest one: only the 2.0 remains.
    assert state.projected_monthly_cost() == pytest.approx(2.0 * 30)
    assert state.ai_latency["openai"].count == 3


def test_snapshot_round_trip_is_exact():
    events = [*stream(3000, seed=5, shift_after=2000), ai_call(T0 + 5, cost=0.5)]
    state = fold(events, reference_size=500, drift_window=1000, performance_window=200)
    data = orjson.loads(orjson.dumps(state.to_snapshot(), option=orjson.OPT_SERIALIZE_NUMPY))
    restored = ModelState(state.s)
    restored.from_snapshot(data)
    assert orjson.dumps(restored.dump()) == orjson.dumps(state.dump())
    more = stream(200, seed=6)
    state.apply_many(more)
    restored.apply_many(more)
    assert orjson.dumps(restored.dump()) == orjson.dumps(state.dump())


def test_reference_files_jsonl_and_csv(tmp_path):
    jsonl = tmp_path / "ref.jsonl"
    jsonl.write_bytes(
        b'{"features": {"x": 1.0, "c": "a"}, "predicted": "up", "ts": "2026-01-01T00:00:00Z"}\n'
        b'{"x": 2.5, "c": "b", "predicted": "down", "ts": 1767225660}\n\n'
    )
    ref = load_reference(jsonl, max_features=10, max_categories=10)
    assert (ref.source, ref.rows, ref.kinds) == ("file", 2, {"x": "numeric", "c": "categorical"})
    assert (ref.start, ref.end) == (1767225600.0, 1767225660.0)
    assert ref.predicted_classes == {"up": 1, "down": 1}
    csv = tmp_path / "ref.csv"
    csv.write_text("x,c,predicted\n1.5,a,0.2\n,b,0.4\n3,a,0.1\n")
    ref = load_reference(csv, max_features=10, max_categories=10)
    assert ref.rows == 3 and ref.start is None
    assert np.isnan(ref.numeric["x"][1]) and ref.numeric["x"][2] == 3.0
    assert ref.categorical["c"] == {"a": 2, "b": 1}
    assert list(ref.predicted_values) == [0.2, 0.4, 0.1]
    log = tmp_path / "events.jsonl"  # a recorded event log: other types and models are skipped
    log.write_bytes(
        b"\n".join(
            orjson.dumps(e)
            for e in [
                prediction("a", T0, "up", features={"x": 1.0}),
                outcome("a", T0 + 1, "up"),
                ai_call(T0),
                prediction("b", T0 + 2, "down", features={"x": 2.0}, model="other"),
                prediction("c", T0 + 3, "down", features={"x": 3.0}),
            ]
        )
    )
    ref = load_reference(log, max_features=10, max_categories=10, model="m")
    assert ref.rows == 2 and list(ref.numeric["x"]) == [1.0, 3.0] and (ref.start, ref.end) == (T0, T0 + 3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": 1}\nnot json\n')
    with pytest.raises(ReferenceError, match=r"bad\.jsonl:2"):
        load_reference(bad, max_features=10, max_categories=10)


def test_file_reference_windows_survive_a_snapshot(tmp_path):
    path = tmp_path / "ref.jsonl"
    path.write_text("\n".join(orjson.dumps({"x": float(i)}).decode() for i in range(50)))
    ref = load_reference(path, max_features=10, max_categories=10)
    state = ModelState(FoldSettings(reference_size=0, drift_window=100))
    state.set_reference("m", ref)
    state.apply_many(prediction(f"p{i}", T0 + i, features={"x": 1.0}) for i in range(30))
    restored = ModelState(state.s)
    restored.set_reference("m", ref)
    restored.from_snapshot(orjson.loads(orjson.dumps(state.to_snapshot())))
    m = restored.by_model["m"]
    assert len(m.numeric["x"]) == 30 and m.reference.source == "file"
