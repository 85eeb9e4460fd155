"""Inference latency exemplars: a prediction's correlation_id on the bucket its latency fell in,
in the OpenMetrics exposition only, and not part of the snapshot."""

from __future__ import annotations

from modelfactory import prediction
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tradewatch.core import exposition
from tradewatch.model.collectors import PredictionsCollector
from tradewatch.model.state import ModelState


def test_inference_latency_buckets_carry_the_latest_correlation_id():
    state = ModelState()
    state.apply(prediction("p1", 1000.0, latency=0.003) | {"correlation_id": "dec-1"})
    state.apply(prediction("p2", 1001.0, latency=0.004) | {"correlation_id": "dec-2"})  # same bucket: newer wins
    state.apply(prediction("p3", 1002.0, latency=0.9))  # no ID: no exemplar
    registry = CollectorRegistry()
    registry.register(PredictionsCollector(state))
    body = exposition.openmetrics(registry).decode()
    found = [
        (s.labels["le"], s.exemplar.labels["correlation_id"], s.exemplar.value, float(s.exemplar.timestamp))
        for family in text_string_to_metric_families(body)
        if family.name == "tradewatch_model_inference_latency_seconds"
        for s in family.samples
        if s.exemplar is not None
    ]
    assert len(found) == 1 and found[0][1:] == ("dec-2", 0.004, 1001.0), found
    assert "correlation_id" not in exposition.text(registry).decode()
    assert "correlation_id" not in str(state.to_snapshot())
