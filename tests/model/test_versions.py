"""Versions side by side, the reference that follows the production version, and their bounds."""

from __future__ import annotations

import orjson
from modelfactory import outcome, prediction, stream
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from tradewatch.core import config as cfg
from tradewatch.model.settings import settings
from tradewatch.model.state import FoldSettings, ModelState, Reference
from tradewatch.model.version_collectors import VersionsCollector
from tradewatch.simulate.engine import Simulator
from tradewatch.simulate.model_outcomes import NEW_VERSION


def exposition(state: ModelState) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(VersionsCollector(state))
    out = {}
    for line in generate_latest(registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def relabel(events, version):
    return [dict(e, model_version=version) if e["type"] == "prediction" else e for e in events]


def test_a_version_change_shows_both_versions_side_by_side():
    state = ModelState(FoldSettings(reference_size=100, performance_window=50, drift_window=200))
    state.apply_many(stream(300, seed=1))
    state.apply_many(relabel(stream(120, seed=2, start=1_700_001_000.0), "v2"))
    m = state.by_model["m"]
    x = exposition(state)
    assert x['tradewatch_model_version_predictions_total{model="m",model_version="v1"}'] == 300
    assert x['tradewatch_model_version_predictions_total{model="m",model_version="v2"}'] == 120
    assert x['tradewatch_model_production_info{model="m",model_version="v2"}'] == 1
    assert 'tradewatch_model_production_info{model="m",model_version="v1"}' not in x
    assert x['tradewatch_model_production_since_timestamp_seconds{model="m"}'] == 1_700_001_000.0
    assert x['tradewatch_model_version_changes_total{model="m"}'] == 1
    for version in ("v1", "v2"):
        assert f'tradewatch_model_version_accuracy_ratio{{model="m",model_version="{version}"}}' in x
    # v2's drift reference: its own first 100 predictions, captured again after the change.
    assert m.reference is not None and m.reference.start == 1_700_001_000.0 and m.reference_version == "v2"
    assert x['tradewatch_model_reference_missing{model="m",model_version="v2"}'] == 0


def test_a_new_version_is_without_reference_until_captured():
    state = ModelState(FoldSettings(reference_size=100, performance_window=50, drift_window=200))
    state.apply_many(stream(150, seed=1))
    assert exposition(state)['tradewatch_model_reference_missing{model="m",model_version="v1"}'] == 0  # first version
    state.apply_many(relabel(stream(40, seed=2, start=1_700_001_000.0), "v2"))
    assert state.by_model["m"].reference is None  # drift for v2 waits for its reference
    assert exposition(state)['tradewatch_model_reference_missing{model="m",model_version="v2"}'] == 1


def test_a_version_file_reference_is_installed_when_the_version_starts():
    state = ModelState(FoldSettings(reference_size=100, performance_window=50, drift_window=200))
    ref = Reference.from_rows("file", [{"x": float(i), "y": 0.5, "c": "a"} for i in range(50)], [], [], 50, 50)
    state.version_refs = {"m": {"v2": ref}}
    state.apply_many(stream(150, seed=1))
    state.apply_many(relabel(stream(10, seed=2, start=1_700_001_000.0), "v2"))
    m = state.by_model["m"]
    assert m.reference is ref and m.reference_version == "v2"
    assert exposition(state)['tradewatch_model_reference_missing{model="m",model_version="v2"}'] == 0


def test_versions_keep_bounds_the_series_and_the_memory():
    state = ModelState(FoldSettings(versions_keep=2, performance_window=20, reference_size=10))
    for v in range(200):
        state.apply(prediction(f"p{v}", 1_700_000_000.0 + v, confidence=0.7, version=f"v{v}"))
        state.apply(outcome(f"p{v}", 1_700_000_000.5 + v, "up"))
    track = state.by_model["m"].track
    assert list(track.versions) == ["v198", "v199"]
    x = exposition(state)
    assert x['tradewatch_model_versions_folded_total{model="m"}'] == 198
    assert not any('model_version="v197"' in k for k in x)
    assert len(track.recent_ids) == 20


def test_versions_survive_a_snapshot():
    s = FoldSettings(reference_size=100, performance_window=50, drift_window=200)
    state = ModelState(s)
    state.apply_many(stream(300, seed=1))
    state.apply_many(relabel(stream(120, seed=2, start=1_700_001_000.0), "v2"))
    again = ModelState.load(s, orjson.loads(orjson.dumps(state.dump())))
    assert orjson.dumps(again.dump()) == orjson.dumps(state.dump())
    assert exposition(again) == exposition(state)


def test_versions_keep_is_validated_and_has_an_env_var():
    specs = settings()
    loaded = cfg.load(specs, None, environ={"TRADEWATCH_VERSIONS_KEEP": "5"})
    assert loaded["versions.keep"] == 5
    for bad in ("0", "many"):
        try:
            cfg.load(specs, None, environ={"TRADEWATCH_VERSIONS_KEEP": bad})
        except cfg.ConfigError as exc:
            assert "versions.keep" in str(exc)
        else:
            raise AssertionError(f"versions.keep={bad} accepted")


def test_the_simulator_changes_version():
    sim = Simulator(seed=3, speed=1, rate=0.1, warmup=0, start=1.7e9, log_events=False, version_change=600.0)
    state = ModelState(FoldSettings(reference_size=50, performance_window=50, drift_window=200))
    for ev in sim.events(6000):
        if ev["type"] in ("prediction", "outcome"):
            state.apply(ev)
    x = exposition(state)
    assert x[f'tradewatch_model_production_info{{model="momentum-clf",model_version="{NEW_VERSION}"}}'] == 1
    old = x['tradewatch_model_version_predictions_total{model="momentum-clf",model_version="1.4.0"}']
    new = x[f'tradewatch_model_version_predictions_total{{model="momentum-clf",model_version="{NEW_VERSION}"}}']
    assert old > 0 and new > 0


def test_after_a_version_file_the_model_file_serves_the_next_version():
    state = ModelState(FoldSettings(reference_size=100, performance_window=50, drift_window=200))
    rows = [{"x": float(i), "y": 0.5, "c": "a"} for i in range(50)]
    model_ref = Reference.from_rows("file", rows, [], [], 50, 50)
    state.set_reference("m", model_ref)
    state.version_refs = {"m": {"v2": Reference.from_rows("file", rows[:20], [], [], 50, 50)}}
    state.apply_many(stream(20, seed=1))
    state.apply_many(relabel(stream(20, seed=2, start=1_700_001_000.0), "v2"))
    assert state.by_model["m"].reference_version == "v2"
    state.apply_many(relabel(stream(20, seed=3, start=1_700_002_000.0), "v3"))
    m = state.by_model["m"]
    assert m.reference is model_ref and m.reference_version == "*"
    assert exposition(state)['tradewatch_model_reference_missing{model="m",model_version="v3"}'] == 0
