"""Collector of the per-version series, CBPE estimates and the outcome wait (``model_versions``).

Only the ``versions.keep`` latest versions of each model have series; a version folded away loses
its ``model_version`` series (the model-level ones go on counting it). The numpy work (a few
arrays of ``performance.window``) runs on copies, outside the state lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from tradewatch.model import cbpe, stats
from tradewatch.model.state import CLASSIFIER, ModelState


@dataclass(frozen=True)
class VersionView:
    """What one version's series are made from (copied under the lock)."""

    model: str
    version: str
    production: bool
    first_seen: float
    predictions: int
    outcomes: int
    latency: tuple[list[tuple[str, int]], float]
    mean_confidence: float
    recent_conf: np.ndarray
    window: list[tuple[float, float]]
    reference: list[tuple[float, float]]
    classifier: bool


@dataclass(frozen=True)
class Estimates:
    accuracy: float
    calibration_error: float
    reference_accuracy: float
    reference_calibration_error: float
    estimated_accuracy: float
    estimate_error: float


def estimates(v: VersionView, reference_min: int) -> Estimates:
    """Realized accuracy and ECE of the window; CBPE estimate calibrated on the version's reference."""
    nan = math.nan
    conf, correct = cbpe.split(v.window)
    accuracy = float(np.mean([c for c, _ in v.window])) if v.window else nan
    ece = stats.expected_calibration_error(conf, correct) if conf.size else nan
    ref_ready = len(v.reference) >= reference_min
    ref_conf, ref_correct = cbpe.split(v.reference)
    mapping = cbpe.calibration_map(ref_conf, ref_correct) if ref_ready else None
    return Estimates(
        accuracy,
        ece,
        float(np.mean([c for c, _ in v.reference])) if ref_ready else nan,
        cbpe.reference_calibration_error(v.reference) if ref_ready else nan,
        cbpe.estimated_accuracy(v.recent_conf, mapping) if v.classifier else nan,
        cbpe.estimate_error(v.window, mapping) if v.classifier else nan,
    )


def views(state: ModelState) -> tuple[list[VersionView], dict[str, tuple[float, float, int, int, str | None, bool]]]:
    """Copies of every kept version, and per model (waiting share, since, changes, folded, version,
    reference missing)."""
    out: list[VersionView] = []
    models: dict[str, tuple[float, float, int, int, str | None, bool]] = {}
    with state.lock:
        pending = state.pending
        for model, m in state.by_model.items():
            t = m.track
            prod = t.production
            for name, v in t.versions.items():
                out.append(
                    VersionView(
                        model,
                        name,
                        name == prod,
                        v.first_seen,
                        v.predictions,
                        v.outcomes,
                        (v.latency.cumulative(), v.latency.sum),
                        v.conf_sum / v.conf_n if v.conf_n else math.nan,
                        v.recent_conf.values(),
                        list(v.window),
                        list(v.reference),
                        m.kind == CLASSIFIER,
                    )
                )
            ids = t.recent_ids
            waiting = sum(1 for pid in ids if pid in pending) / len(ids) if ids else math.nan
            since = t.versions[prod].first_seen if prod is not None else math.nan
            # Only after a version change: a model's first version capturing its reference is the normal start.
            missing = prod is not None and t.changes > 0 and m.reference_version not in (prod, "*")
            models[model] = (waiting, since, t.changes, t.folded, prod, missing)
    return out, models


class VersionsCollector:
    def __init__(self, state: ModelState):
        self.state = state

    def collect(self) -> Iterable[Metric]:
        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["model", "model_version"])

        production = gauge("tradewatch_model_production_info", "1 for the version in production (newest first seen).")
        since = GaugeMetricFamily(
            "tradewatch_model_production_since_timestamp_seconds",
            "Event time of the first prediction of the version in production.",
            labels=["model"],
        )
        changes = CounterMetricFamily(
            "tradewatch_model_version_changes", "Times a new version took over production.", labels=["model"]
        )
        folded = CounterMetricFamily(
            "tradewatch_model_versions_folded", "Versions dropped beyond versions.keep.", labels=["model"]
        )
        missing = gauge(
            "tradewatch_model_reference_missing",
            "1 while the version in production has no drift reference of its own (capturing, or none).",
        )
        waiting = GaugeMetricFamily(
            "tradewatch_model_outcome_waiting_ratio",
            "Share of the model's last performance.window predictions still waiting for an outcome.",
            labels=["model"],
        )
        first = gauge("tradewatch_model_version_first_prediction_timestamp_seconds", "First prediction's event time.")
        predictions = CounterMetricFamily(
            "tradewatch_model_version_predictions", "Predictions per version.", labels=["model", "model_version"]
        )
        outcomes = CounterMetricFamily(
            "tradewatch_model_version_outcomes", "Outcomes joined per version.", labels=["model", "model_version"]
        )
        latency = HistogramMetricFamily(
            "tradewatch_model_version_inference_latency_seconds",
            "Inference latency per version.",
            labels=["model", "model_version"],
        )
        confidence = gauge("tradewatch_model_version_mean_confidence_ratio", "Mean confidence of all predictions.")
        accuracy = gauge("tradewatch_model_version_accuracy_ratio", "Realized accuracy, last performance.window.")
        ece = gauge("tradewatch_model_version_calibration_error", "ECE of the last performance.window outcomes.")
        ref_acc = gauge("tradewatch_model_version_reference_accuracy_ratio", "Accuracy, first window of outcomes.")
        ref_ece = gauge(
            "tradewatch_model_version_reference_calibration_error",
            "ECE on the version's reference: bounds the confidence-based estimate there.",
        )
        estimated = gauge(
            "tradewatch_model_version_estimated_accuracy_ratio",
            "CBPE: expected accuracy of the last performance.window predictions, labelled or not.",
        )
        error = gauge(
            "tradewatch_model_version_accuracy_estimate_error",
            "CBPE estimate minus realized accuracy over the same labelled predictions.",
        )
        reference_min = self.state.s.performance_window
        versions, models = views(self.state)
        for model, (w, t0, n_changes, n_folded, prod, miss) in sorted(models.items()):
            if not math.isnan(w):
                waiting.add_metric([model], w)
            if prod is not None:
                since.add_metric([model], t0)
                missing.add_metric([model, prod], float(miss))
            changes.add_metric([model], n_changes)
            folded.add_metric([model], n_folded)
        for v in versions:
            labels = [v.model, v.version]
            if v.production:
                production.add_metric(labels, 1.0)
            first.add_metric(labels, v.first_seen)
            predictions.add_metric(labels, v.predictions)
            outcomes.add_metric(labels, v.outcomes)
            buckets, total = v.latency
            latency.add_metric(labels, buckets, total)
            e = estimates(v, reference_min)
            for family, value in (
                (confidence, v.mean_confidence),
                (accuracy, e.accuracy if v.classifier else math.nan),
                (ece, e.calibration_error),
                (ref_acc, e.reference_accuracy),
                (ref_ece, e.reference_calibration_error),
                (estimated, e.estimated_accuracy),
                (error, e.estimate_error),
            ):
                if not math.isnan(value):
                    family.add_metric(labels, value)
        return [
            production,
            since,
            changes,
            folded,
            missing,
            waiting,
            first,
            predictions,
            outcomes,
            latency,
            confidence,
            accuracy,
            ece,
            ref_acc,
            ref_ece,
            estimated,
            error,
        ]
