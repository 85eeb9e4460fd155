"""Retraining recommendation and its webhook, with a real local HTTP receiver."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from modelfactory import stream

from tradewatch.model.drift import DriftEngine, DriftSettings
from tradewatch.model.retrain import RetrainAdvisor, RetrainSettings
from tradewatch.model.state import FoldSettings, ModelState


class Receiver(http.server.ThreadingHTTPServer):
    bodies: list[dict]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _advisor(state: ModelState, url: str) -> tuple[DriftEngine, RetrainAdvisor]:
    engine = DriftEngine(state, DriftSettings(min_samples=100), clock=lambda: 1_700_010_000.0)
    settings = RetrainSettings(drift_runs=2, accuracy_margin=0.15, min_labelled=50, webhook_url=url)
    return engine, RetrainAdvisor(state, settings, engine.results, lambda: 1_700_010_000.0)


def _state() -> ModelState:
    state = ModelState(FoldSettings(reference_size=300, performance_window=100, drift_window=300))
    state.apply_many(stream(700, seed=3, model="drifty", shift_after=300, shift=2.0))
    state.apply_many(stream(700, seed=4, model="stable"))
    return state


def test_webhook_fires_for_a_drifting_model_and_not_for_a_stable_one(receiver):
    state = _state()
    engine, advisor = _advisor(state, f"http://127.0.0.1:{receiver.server_address[1]}/retrain")
    engine.run()
    advisor.run()
    assert receiver.bodies == []  # one drift run is not "persisted" (retrain.drift_runs 2)
    for i in range(1, 4):  # each run is a new drift result (its timestamp); sent once while it holds
        engine.clock = lambda i=i: 1_700_010_000.0 + i
        engine.run()
        advisor.run()
    assert [b["model"] for b in receiver.bodies] == ["drifty"]
    body = receiver.bodies[0]
    assert body["type"] == "retrain_recommended" and body["model_version"] == "v1"
    assert body["reasons"] == ["data_drift"] and body["conditions"]["enough_labelled"] is True
    assert body["top_drifted_features"][0] in ("x", "c") and body["labelled_outcomes"] == 350
    advice = advisor.advice()
    assert advice["drifty"].recommended and not advice["stable"].recommended
    assert advisor.webhook_counts() == {("drifty", "ok"): 1}


def test_a_failed_webhook_is_counted_and_retried(receiver):
    port = receiver.server_address[1]
    receiver.shutdown()
    receiver.server_close()  # nothing listens there now
    state = _state()
    engine, advisor = _advisor(state, f"http://127.0.0.1:{port}/retrain")
    for i in range(3):
        engine.clock = lambda i=i: 1_700_010_000.0 + i
        engine.run()
        advisor.run()
    assert advisor.webhook_counts() == {("drifty", "error"): 2}  # runs 2 and 3: recommended, not delivered
    assert not advisor.advice()["drifty"].notified
