"""The model exporter over real HTTP: ingest, bad input, replay, exposition, catalog, promtool."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import requests
from modelfactory import ai_call, outcome, prediction, stream
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry
from tests.conftest import ROOT, require_binary

from tradewatch.core import config as cfg
from tradewatch.model.collectors import (
    AICostCollector,
    DriftCollector,
    PerformanceCollector,
    PredictionsCollector,
)
from tradewatch.model.drift import DriftEngine, DriftSettings
from tradewatch.model.exporter import ModelExporter
from tradewatch.model.retrain import RetrainAdvisor, RetrainCollector, RetrainSettings
from tradewatch.model.settings import settings
from tradewatch.model.state import FoldSettings, ModelState, Price
from tradewatch.model.version_collectors import VersionsCollector

GOLDEN = Path(__file__).parent / "golden" / "model-metrics.prom"
OWN = re.compile(r"^(tradewatch_model_|tradewatch_ai_)")


def make(tmp_path: Path, **overrides) -> ModelExporter:
    values = {
        "http.port": 0,
        "journal.path": str(tmp_path / "journal"),
        "reference.size": 200,
        "drift.min_samples": 100,
        "drift.interval": 3600,
        "ai.monthly_budget_usd": 500.0,
        "log.level": "warning",
        **overrides,
    }
    return ModelExporter(cfg.load(settings(), None, environ={}, overrides=values))


@pytest.fixture
def running(tmp_path):
    exporters = []

    def start(**overrides):
        exp = make(tmp_path, **overrides)
        port = exp.start()
        exporters.append(exp)
        return exp, f"http://127.0.0.1:{port}"

    yield start
    for exp in exporters:
        exp.stop()


def post(url: str, payload, **headers) -> requests.Response:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return requests.post(f"{url}/v1/events", data=body, headers=headers, timeout=10)


def scrape(url: str) -> str:
    return requests.get(f"{url}/metrics", timeout=10).text


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def own(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if OWN.match(line))


def test_ingest_and_scrape(running):
    exp, url = running()
    events = [*stream(600, seed=3, shift_after=300), ai_call(1700000100.0, cost=0.25)]
    for i in range(0, len(events), 250):
        r = post(url, events[i : i + 250])
        assert r.status_code == 200 and r.json()["rejected"] == []
    exp.drift.run()
    s = samples(scrape(url))
    assert s['tradewatch_events_accepted_total{type="prediction"}'] == 600
    assert s['tradewatch_model_info{model="m",version="v1"}'] == 1
    assert sum(v for k, v in s.items() if k.startswith("tradewatch_model_predictions_total")) == 600
    assert s['tradewatch_model_pending_predictions{model="m"}'] == 300
    assert s['tradewatch_model_reference_samples{model="m"}'] == 200
    assert s['tradewatch_model_feature_drifted{feature="x",model="m"}'] == 1
    assert 'tradewatch_model_feature_chi2_pvalue{feature="c",model="m"}' in s
    assert s['tradewatch_ai_cost_usd_total{model="gpt-4o",provider="openai"}'] == 0.25
    assert s["tradewatch_ai_monthly_budget_usd"] == 500
    for collector in ("model_predictions", "model_performance", "model_drift", "ai_cost"):
        assert s[f'tradewatch_scrape_collector_success{{collector="{collector}"}}'] == 1


def test_bad_input_is_rejected_with_reasons_counted_and_survived(running):
    _exp, url = running()
    r = post(url, b"{not json")
    assert r.status_code == 400 and r.json()["rejected"][0]["reason"] == "invalid_json"
    r = post(
        url,
        [
            prediction("ok", 1_700_000_000.0),
            {"type": "prediction", "ts": 1, "event_id": "b"},
            {"type": "outcome", "ts": "soon", "event_id": "c", "model": "m", "prediction_id": "x", "actual": "up"},
            42,
        ],
    )
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 1
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [
        (1, "missing_field"),
        (2, "invalid_timestamp"),
        (3, "not_an_object"),
    ]
    assert all(x["message"] for x in body["rejected"])
    bad = prediction("p", 1.0, features={"x": [1]})
    r = post(url, [bad, {**bad, "event_id": "q", "features": {}, "confidence": 7}])
    assert r.status_code == 422
    assert [x["reason"] for x in r.json()["rejected"]] == ["wrong_type", "out_of_range"]
    # NaN features are accepted as missing (lenient encoders send them); NaN confidence is not.
    r = post(
        url,
        b'{"type":"prediction","ts":5,"event_id":"n1","model":"m","model_version":"v1",'
        b'"prediction_id":"n1","features":{"x":NaN},"predicted":"up","latency_seconds":0.1}',
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = post(
        url,
        b'{"type":"prediction","ts":5,"event_id":"n2","model":"m","model_version":"v1",'
        b'"prediction_id":"n2","features":{},"predicted":"up","confidence":NaN,"latency_seconds":0.1}',
    )
    assert r.status_code == 422 and r.json()["rejected"][0]["reason"] == "non_finite"
    assert post(url, [prediction("ok", 1_700_000_000.0)]).json()["duplicates"] == 0  # new event_id
    s = samples(scrape(url))
    for reason, n in {
        "invalid_json": 1,
        "missing_field": 1,
        "invalid_timestamp": 1,
        "not_an_object": 1,
        "wrong_type": 1,
        "out_of_range": 1,
        "non_finite": 1,
    }.items():
        assert s[f'tradewatch_events_rejected_total{{reason="{reason}"}}'] == n, reason
    assert s['tradewatch_events_accepted_total{type="prediction"}'] == 3
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200


def test_bearer_token_from_file(running, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    _, url = running(**{"ingest.token_file": str(token)})
    assert post(url, [prediction("p", 1.0)]).status_code == 401
    assert post(url, [prediction("p", 1.0)], Authorization="Bearer wrong").status_code == 401
    assert post(url, [prediction("p", 1.0)], Authorization="Bearer s3cret").status_code == 200
    assert samples(scrape(url))['tradewatch_events_rejected_total{reason="unauthorized"}'] == 2


@pytest.mark.parametrize("shutdown", ["clean", "crash"])
def test_replay_restores_state_exactly(tmp_path, shutdown):
    first = make(tmp_path, **{"journal.snapshot_every": 700})
    url = f"http://127.0.0.1:{first.start()}"
    events = stream(900, seed=4, shift_after=450)
    events += [ai_call(1_700_000_000.0 + i, cost=0.01) for i in range(20)]
    for i in range(0, len(events), 200):
        assert post(url, events[i : i + 200]).status_code == 200
    first.ingestor.maintain()  # takes the snapshot (700 events due), so replay = snapshot + journal tail
    assert post(url, stream(50, seed=9)).status_code == 200
    first.run_drift()
    before_state = orjson.dumps(first.state.dump())
    before = own(scrape(url))
    if shutdown == "clean":
        first.stop()
    else:  # no snapshot at exit: the journal alone must bring everything back
        first.exporter.http.stop()
        first.ingestor.close(snapshot=False)
    second = make(tmp_path, **{"journal.snapshot_every": 700})
    try:
        url2 = f"http://127.0.0.1:{second.start()}"
        assert orjson.dumps(second.state.dump()) == before_state
        second.run_drift()
        drop = re.compile(r"^tradewatch_model_drift_(computation_seconds|last_run_timestamp_seconds)")
        after = own(scrape(url2))
        keep = lambda text: [x for x in text.splitlines() if not drop.match(x)]  # noqa: E731
        assert keep(after) == keep(before)
    finally:
        second.stop()


def _golden_exposition() -> str:
    state = ModelState(
        FoldSettings(
            reference_size=300, drift_window=300, performance_window=100, prices={"openai/gpt-4o": Price(0.0025, 0.01)}
        )
    )
    events = stream(600, seed=21, shift_after=300)
    events += [
        prediction(f"r{i}", 1_700_000_000.0 + i, 2.0 + i % 3, model="vol", version="3", latency=0.002 * i)
        for i in range(10)
    ]
    events += [outcome(f"r{i}", 1_700_000_030.0 + i, 2.5, model="vol", pnl=i - 4.5) for i in range(10)]
    events += [
        ai_call(1_700_000_000.0 + 60 * i, status=["ok", "error", "timeout", "rate_limited"][i % 4]) for i in range(8)
    ]
    state.apply_many(events)
    engine = DriftEngine(state, DriftSettings(min_samples=100), clock=lambda: 1_700_001_000.0)
    engine.run()
    advisor = RetrainAdvisor(state, RetrainSettings(min_labelled=50), engine.results, lambda: 1_700_001_000.0)
    advisor.run()
    registry = CollectorRegistry()
    for c in (
        PredictionsCollector(state),
        PerformanceCollector(state),
        DriftCollector(state, engine),
        VersionsCollector(state),
        RetrainCollector(advisor),
        AICostCollector(state, 250.0),
    ):
        registry.register(c)
    text = generate_latest(registry).decode()
    return re.sub(r"(tradewatch_model_drift_computation_seconds\{[^}]*\}) .*", r"\1 <duration>", text)


def test_golden_exposition():
    text = _golden_exposition()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "exposition changed; rerun with UPDATE_GOLDEN=1 and review the diff"


def _catalog() -> set[str]:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    section = doc.split("## Model exporter", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.M))


def test_every_catalog_row_is_exposed_and_nothing_else():
    text = _golden_exposition()
    exposed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            exposed.add(line.split()[2])  # counters already carry _total in the text format
    assert exposed == _catalog()


def test_promtool_accepts_the_exposition(running):
    promtool = require_binary("promtool")
    exp, url = running()
    post(url, [*stream(400, seed=2), ai_call(1700000000.0)])
    exp.drift.run()
    text = scrape(url)
    assert "tradewatch_model_feature_psi" in text
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_process_serves_ingests_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "TRADEWATCH_JOURNAL_PATH": str(tmp_path / "j"),
        "TRADEWATCH_DRIFT_INTERVAL": "1s",
        "TRADEWATCH_REFERENCE_SIZE": "100",
        "TRADEWATCH_DRIFT_MIN_SAMPLES": "50",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradewatch", "model-exporter", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"exporter exited: {proc.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "exporter not ready within 20 s"
            time.sleep(0.1)
        assert post(url, stream(300, seed=8, shift_after=100)).json()["rejected"] == []
        deadline = time.monotonic() + 10
        while 'tradewatch_model_dataset_drift{model="m"} 1.0' not in scrape(url):  # the Periodic task ran
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()
    assert (tmp_path / "j" / "snapshot.json").exists()


def test_reference_file_from_config_and_a_clear_error_when_missing(tmp_path):
    ref = tmp_path / "ref.csv"
    ref.write_text("x,c,ts\n" + "".join(f"{i / 10},{'ab'[i % 2]},{1_600_000_000 + i}\n" for i in range(300)))
    exp = make(tmp_path, **{"reference.files": {"m": str(ref)}, "reference.size": 0})
    try:
        m = exp.state.by_model["m"]
        assert (m.reference.source, m.reference.rows, m.reference.start) == ("file", 300, 1_600_000_000.0)
        shifted = {"x": 100.0, "c": "a"}
        exp.state.apply_many(prediction(f"p{i}", 1.7e9 + i, features=shifted) for i in range(150))
        result = exp.drift.run()["m"]
        assert result.features["x"].drifted and result.dataset_drift
    finally:
        exp.ingestor.close()
    with pytest.raises(cfg.ConfigError, match=r"reference\.files\[m\].*missing\.jsonl"):
        make(tmp_path / "other", **{"reference.files": {"m": str(tmp_path / "missing.jsonl")}})


def test_reference_per_version_from_config_and_a_clear_error(tmp_path):
    ref = tmp_path / "v2.csv"
    ref.write_text("x,ts\n" + "".join(f"{i / 10},{1_600_000_000 + i}\n" for i in range(300)))
    exp = make(tmp_path, **{"reference.version_files": {"m": {"v2": str(ref)}}})
    try:
        exp.state.apply_many(prediction(f"p{i}", 1.7e9 + i, features={"x": 1.0}) for i in range(10))
        exp.state.apply(prediction("q", 1.7e9 + 20, version="v2", features={"x": 1.0}))
        m = exp.state.by_model["m"]
        assert (m.reference.rows, m.reference.start, m.reference_version) == (300, 1_600_000_000.0, "v2")
    finally:
        exp.ingestor.close()
    with pytest.raises(cfg.ConfigError, match=r"reference\.version_files\[m\]\[v2\].*nope\.jsonl"):
        make(tmp_path / "other", **{"reference.version_files": {"m": {"v2": str(tmp_path / "nope.jsonl")}}})
