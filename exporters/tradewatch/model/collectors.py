"""Collectors of the model exporter: one per data source, fresh families on every scrape.

The counters and histograms here are state of the event fold (:mod:`tradewatch.model.state`), not
long-lived prometheus_client objects, so that a journal replay or snapshot restores them exactly;
they are exposed as Counter/Histogram families built at scrape time. Values that do not exist yet
(no outcomes, no drift run) are left out rather than exposed as NaN. Counters exist from 0 once their
labels are known (every class a model predicted, for each of its versions; every call status of a
provider/model pair), so ``increase()`` sees the first event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from tradewatch.core.exemplars import with_exemplars
from tradewatch.model.buffers import Histogram
from tradewatch.model.drift import DriftEngine
from tradewatch.model.events import AI_STATUSES
from tradewatch.model.state import NUMERIC, ModelState, performance


def _histogram(family: HistogramMetricFamily, labels: list[str], h: Histogram) -> None:
    family.add_metric(labels, with_exemplars(h.cumulative(), h.exemplars), h.sum)


def _gauge(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    if value is not None and not math.isnan(value):
        family.add_metric(labels, value)


class PredictionsCollector:
    """Volume, speed and outcome joining, from the prediction and outcome events."""

    def __init__(self, state: ModelState):
        self.state = state

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "tradewatch_model_info", "Always 1 for each model version seen.", labels=["model", "version"]
        )
        predictions = CounterMetricFamily(
            "tradewatch_model_predictions",
            "Predictions by model, version and predicted class (value for regressors).",
            labels=["model", "version", "predicted_class"],
        )
        latency = HistogramMetricFamily(
            "tradewatch_model_inference_latency_seconds", "Inference latency.", labels=["model"]
        )
        confidence = HistogramMetricFamily(
            "tradewatch_model_confidence", "Prediction confidence (0..1).", labels=["model"]
        )
        last = GaugeMetricFamily(
            "tradewatch_model_last_prediction_timestamp_seconds",
            "Event time of the latest prediction.",
            labels=["model"],
        )
        lag = HistogramMetricFamily(
            "tradewatch_model_outcome_lag_seconds", "Prediction to outcome, event time.", labels=["model"]
        )
        pending = GaugeMetricFamily(
            "tradewatch_model_pending_predictions", "Predictions awaiting an outcome.", labels=["model"]
        )
        expired = CounterMetricFamily(
            "tradewatch_model_expired_predictions",
            "Pending predictions dropped (TTL or cap) before an outcome arrived.",
            labels=["model"],
        )
        unknown = CounterMetricFamily(
            "tradewatch_model_unknown_outcomes",
            "Outcomes whose prediction ID was unknown (never seen, or already expired).",
            labels=["model"],
        )
        with self.state.lock:
            for model, m in self.state.by_model.items():
                for version in m.versions.names:
                    info.add_metric([model, version], 1.0)
                classes = sorted({cls for _, cls in m.predictions})
                counts = {(v, c): 0 for v in m.versions.names for c in classes}
                counts.update(m.predictions)
                for (version, cls), n in counts.items():
                    predictions.add_metric([model, version, cls], n)
                _histogram(latency, [model], m.latency)
                _histogram(confidence, [model], m.confidence)
                _histogram(lag, [model], m.lag)
                _gauge(last, [model], m.last_prediction)
                pending.add_metric([model], m.pending)
                expired.add_metric([model], m.expired)
                unknown.add_metric([model], m.unknown)
        return [info, predictions, latency, confidence, last, lag, pending, expired, unknown]


class PerformanceCollector:
    """Rolling-window performance, computed from the bounded outcome window."""

    def __init__(self, state: ModelState):
        self.state = state

    def collect(self) -> Iterable[Metric]:
        def gauge(name: str, doc: str, *extra: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["model", *extra])

        accuracy = gauge("tradewatch_model_accuracy_ratio", "Rolling accuracy (classifiers).")
        precision = gauge("tradewatch_model_precision_ratio", "Rolling precision per class.", "class")
        recall = gauge("tradewatch_model_recall_ratio", "Rolling recall per class.", "class")
        mae = gauge("tradewatch_model_mae", "Rolling mean absolute error (regressors).")
        rmse = gauge("tradewatch_model_rmse", "Rolling root mean squared error (regressors).")
        win = gauge("tradewatch_model_win_rate_ratio", "Share of outcomes with positive P&L.")
        pnl = gauge("tradewatch_model_pnl", "Rolling P&L attributed to the model.")
        ece = gauge("tradewatch_model_calibration_error", "Expected calibration error (10 equal-width bins).")
        brier = gauge(
            "tradewatch_model_brier_score", "Brier score (multi-class from probabilities, else binary on confidence)."
        )
        vs_ref = gauge(
            "tradewatch_model_accuracy_vs_reference_ratio",
            "Rolling accuracy / reference accuracy (regressors: reference MAE / rolling MAE).",
        )
        with self.state.lock:
            inputs = {model: m.performance_inputs() for model, m in self.state.by_model.items()}
        window = self.state.s.performance_window
        perf = {model: performance(*args, window) for model, args in inputs.items()}
        for model, p in perf.items():
            _gauge(accuracy, [model], p.accuracy)
            for cls, v in sorted(p.precision.items()):
                _gauge(precision, [model, cls], v)
            for cls, v in sorted(p.recall.items()):
                _gauge(recall, [model, cls], v)
            _gauge(mae, [model], p.mae)
            _gauge(rmse, [model], p.rmse)
            _gauge(win, [model], p.win_rate)
            _gauge(pnl, [model], p.pnl)
            _gauge(ece, [model], p.calibration_error)
            _gauge(brier, [model], p.brier)
            _gauge(vs_ref, [model], p.vs_reference)
        return [accuracy, precision, recall, mae, rmse, win, pnl, ece, brier, vs_ref]


class DriftCollector:
    """The reference sets and the latest scheduled drift results (never computed here)."""

    def __init__(self, state: ModelState, engine: DriftEngine):
        self.state = state
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        def gauge(name: str, doc: str, *extra: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["model", *extra])

        rows = gauge("tradewatch_model_reference_samples", "Rows in the reference set.")
        start = gauge("tradewatch_model_reference_start_timestamp_seconds", "Start of the reference period.")
        end = gauge("tradewatch_model_reference_end_timestamp_seconds", "End of the reference period.")
        psi = gauge("tradewatch_model_feature_psi", "Population stability index vs reference.", "feature")
        ks_stat = gauge("tradewatch_model_feature_ks_statistic", "Two-sample KS statistic.", "feature")
        ks_p = gauge("tradewatch_model_feature_ks_pvalue", "KS p-value (uncorrected).", "feature")
        chi2_p = gauge("tradewatch_model_feature_chi2_pvalue", "Chi-square p-value (uncorrected).", "feature")
        js = gauge("tradewatch_model_feature_js_distance", "Jensen-Shannon distance, base 2.", "feature")
        missing = gauge("tradewatch_model_feature_missing_ratio", "Missing or non-finite share.", "feature")
        drifted = gauge("tradewatch_model_feature_drifted", "1 when the feature drifted.", "feature")
        corrected = gauge(
            "tradewatch_model_feature_corrected_pvalue",
            "KS or chi-square p-value corrected across the model's features (compare with drift.alpha).",
            "feature",
        )
        rank = gauge("tradewatch_model_feature_drift_rank", "1 = the model's most drifted feature.", "feature")
        recon = gauge(
            "tradewatch_model_multivariate_reconstruction_error", "PCA reconstruction error of the drift window."
        )
        recon_ref = gauge(
            "tradewatch_model_multivariate_reference_reconstruction_error",
            "PCA reconstruction error of the reference.",
        )
        recon_ratio = gauge(
            "tradewatch_model_multivariate_drift_ratio", "Window / reference reconstruction error (1 = unchanged)."
        )
        share = gauge("tradewatch_model_drifted_features_ratio", "Share of features that drifted.")
        dataset = gauge("tradewatch_model_dataset_drift", "1 when the drifted share reaches drift.dataset_share.")
        pred_psi = gauge("tradewatch_model_prediction_psi", "PSI of predicted classes or values vs reference.")
        last_run = gauge("tradewatch_model_drift_last_run_timestamp_seconds", "Unix time of the last drift run.")
        seconds = gauge("tradewatch_model_drift_computation_seconds", "Duration of the last drift run.")
        with self.state.lock:
            refs = {model: m.reference for model, m in self.state.by_model.items() if m.reference is not None}
        for model, ref in refs.items():
            rows.add_metric([model], ref.rows)
            _gauge(start, [model], ref.start)
            _gauge(end, [model], ref.end)
        for model, result in sorted(self.engine.results().items()):
            for i, feature in enumerate(result.ranking(), 1):
                rank.add_metric([model, feature], i)
            if result.multivariate is not None:
                _gauge(recon, [model], result.multivariate.error)
                _gauge(recon_ref, [model], result.multivariate.reference_error)
                _gauge(recon_ratio, [model], result.multivariate.ratio)
            for feature, f in sorted(result.features.items()):
                labels = [model, feature]
                _gauge(corrected, labels, f.corrected_pvalue)
                _gauge(psi, labels, f.psi)
                _gauge(missing, labels, f.missing_ratio)
                drifted.add_metric(labels, float(f.drifted))
                if f.kind == NUMERIC:
                    _gauge(ks_stat, labels, f.ks_statistic)
                    _gauge(ks_p, labels, f.ks_pvalue)
                else:
                    _gauge(chi2_p, labels, f.chi2_pvalue)
                    _gauge(js, labels, f.js_distance)
            _gauge(share, [model], result.drifted_share)
            dataset.add_metric([model], float(result.dataset_drift))
            _gauge(pred_psi, [model], result.prediction_psi)
            last_run.add_metric([model], result.timestamp)
            seconds.add_metric([model], result.seconds)
        return [
            rows,
            start,
            end,
            psi,
            ks_stat,
            ks_p,
            chi2_p,
            js,
            missing,
            drifted,
            corrected,
            rank,
            recon,
            recon_ref,
            recon_ratio,
            share,
            dataset,
            pred_psi,
            last_run,
            seconds,
        ]


class AICostCollector:
    """AI/LLM calls, tokens and spend, from the ai_call events."""

    def __init__(self, state: ModelState, monthly_budget_usd: float):
        self.state = state
        self.budget = monthly_budget_usd

    def collect(self) -> Iterable[Metric]:
        calls = CounterMetricFamily(
            "tradewatch_ai_calls", "AI/LLM calls by status.", labels=["provider", "model", "status"]
        )
        tokens = CounterMetricFamily(
            "tradewatch_ai_tokens", "Tokens by kind (prompt, completion).", labels=["provider", "model", "kind"]
        )
        cost = CounterMetricFamily(
            "tradewatch_ai_cost_usd",
            "Spend in USD (given, or from the price table).",
            labels=["provider", "model"],
            unit="usd",
        )
        projected = GaugeMetricFamily(
            "tradewatch_ai_projected_monthly_cost_usd", "Spend over the last 24 h of event time x 30.", unit="usd"
        )
        budget = GaugeMetricFamily("tradewatch_ai_monthly_budget_usd", "Configured monthly budget.", unit="usd")
        latency = HistogramMetricFamily("tradewatch_ai_call_latency_seconds", "AI call latency.", labels=["provider"])
        with self.state.lock:
            pairs = sorted({(p, m) for p, m, _ in self.state.ai_calls})
            counts = {(p, m, st): 0 for p, m in pairs for st in AI_STATUSES}
            counts.update(self.state.ai_calls)
            for key, n in counts.items():
                calls.add_metric(list(key), n)
            for key, n in self.state.ai_tokens.items():
                tokens.add_metric(list(key), n)
            for key, usd in self.state.ai_cost.items():
                cost.add_metric(list(key), usd)
            for provider, h in self.state.ai_latency.items():
                _histogram(latency, [provider], h)
            projected.add_metric([], self.state.projected_monthly_cost())
        if self.budget > 0:  # 0 = no budget configured; a 0 series would make budget alerts fire
            budget.add_metric([], self.budget)
        return [calls, tokens, cost, projected, budget, latency]
