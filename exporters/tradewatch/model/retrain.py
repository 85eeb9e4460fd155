"""Retraining recommendation per model: rules over drift, CBPE and realized accuracy, and a webhook.

Evaluated after every drift run (the ``model-drift`` periodic task, never at scrape time), for the
version in production of each model:

- ``data_drift``: the data set drifted in the last ``retrain.drift_runs`` drift runs in a row;
- ``estimated_accuracy``: the CBPE estimate is below the version's reference accuracy by at least
  ``retrain.accuracy_margin``;
- ``realized_accuracy``: the realized accuracy of a full window is below it by that margin;
- ``enough_labelled``: at least ``retrain.min_labelled`` outcomes of the version arrived beyond its
  reference, so there is new labelled data to train on.

A model is recommended for retraining when ``enough_labelled`` holds and any of the other three does.
When the recommendation turns on, a JSON body (:func:`body`, documented in docs/model-exporter.md)
is POSTed to ``retrain.webhook_url`` if one is set; a failed POST is counted, logged and retried at
the next run while the recommendation holds. It is sent again only after the recommendation cleared.
"""

from __future__ import annotations

import math
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tradewatch.core.logging import get_logger
from tradewatch.model.drift import ModelDrift
from tradewatch.model.state import ModelState
from tradewatch.model.version_collectors import estimates, views

log = get_logger("tradewatch.model.retrain")

TRIGGERS = ("data_drift", "estimated_accuracy", "realized_accuracy")
CONDITIONS = (*TRIGGERS, "enough_labelled")


@dataclass(frozen=True)
class RetrainSettings:
    drift_runs: int = 3
    accuracy_margin: float = 0.05
    min_labelled: int = 500
    webhook_url: str = ""
    webhook_timeout: float = 5.0


@dataclass
class Advice:
    """The latest evaluation for one model."""

    version: str | None = None
    conditions: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(CONDITIONS, False))
    recommended: bool = False
    notified: bool = False  # the webhook accepted this recommendation
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        return [t for t in TRIGGERS if self.conditions[t]]


def body(model: str, advice: Advice, now: float) -> dict[str, Any]:
    """The webhook's JSON body."""
    return {
        "type": "retrain_recommended",
        "source": "tradewatch-model-exporter",
        "model": model,
        "model_version": advice.version,
        "reasons": advice.reasons,
        "conditions": dict(advice.conditions),
        **advice.figures,
        "ts": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
    }


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else value


class RetrainAdvisor:
    def __init__(
        self,
        state: ModelState,
        settings: RetrainSettings,
        results: Callable[[], dict[str, ModelDrift]],
        clock: Callable[[], float],
    ):
        self.state = state
        self.s = settings
        self.results = results
        self.clock = clock
        self._lock = threading.Lock()
        self._advice: dict[str, Advice] = {}
        self._drift_streak: dict[str, int] = {}
        self._seen_run: dict[str, float] = {}
        self.webhooks: dict[tuple[str, str], int] = {}  # (model, result) -> count

    def webhook_counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self.webhooks)

    def advice(self) -> dict[str, Advice]:
        with self._lock:
            return dict(self._advice)

    def run(self) -> None:
        drift = self.results()
        versions, models = views(self.state)
        window = self.state.s.performance_window
        for model, (_, _, _, _, prod, _) in models.items():
            if prod is None:
                continue
            result = drift.get(model)
            if result is not None and self._seen_run.get(model) != result.timestamp:
                self._seen_run[model] = result.timestamp  # one streak step per drift run
                self._drift_streak[model] = self._drift_streak.get(model, 0) + 1 if result.dataset_drift else 0
            elif result is None:
                self._drift_streak[model] = 0
            view = next(v for v in versions if v.model == model and v.version == prod)
            e = estimates(view, window)
            ref = e.reference_accuracy
            low = ref - self.s.accuracy_margin if math.isfinite(ref) else math.nan
            conditions = {
                "data_drift": self._drift_streak.get(model, 0) >= self.s.drift_runs,
                "estimated_accuracy": math.isfinite(low) and e.estimated_accuracy < low,
                "realized_accuracy": math.isfinite(low) and len(view.window) >= window and e.accuracy < low,
                "enough_labelled": view.outcomes - len(view.reference) >= self.s.min_labelled,
            }
            recommended = conditions["enough_labelled"] and any(conditions[t] for t in TRIGGERS)
            with self._lock:
                old = self._advice.get(model)
                advice = Advice(prod, conditions, recommended, bool(old and old.notified and recommended))
            advice.figures = {
                "reference_accuracy": _finite(ref),
                "estimated_accuracy": _finite(e.estimated_accuracy),
                "realized_accuracy": _finite(e.accuracy),
                "reference_calibration_error": _finite(e.reference_calibration_error),
                "labelled_outcomes": view.outcomes,
                "dataset_drift_runs": self._drift_streak.get(model, 0),
                "top_drifted_features": [] if result is None else result.ranking()[:5],
            }
            if recommended and not advice.notified and self.s.webhook_url:
                advice.notified = self._post(model, body(model, advice, self.clock()))
            with self._lock:
                self._advice[model] = advice

    def _post(self, model: str, payload: dict[str, Any]) -> bool:
        request = urllib.request.Request(
            self.s.webhook_url,
            data=orjson.dumps(payload),
            headers={"Content-Type": "application/json", "User-Agent": "tradewatch-model-exporter"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.s.webhook_timeout) as response:
                ok = 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("retraining webhook failed", extra={"model": model, "error": str(exc)})
            ok = False
        key = (model, "ok" if ok else "error")
        with self._lock:
            self.webhooks[key] = self.webhooks.get(key, 0) + 1
        return ok


class RetrainCollector:
    """``tradewatch_model_retrain_*`` from the advisor's latest evaluation."""

    def __init__(self, advisor: RetrainAdvisor):
        self.advisor = advisor

    def collect(self) -> list[Metric]:
        recommended = GaugeMetricFamily(
            "tradewatch_model_retrain_recommended",
            "1 when retraining is recommended for the version in production.",
            labels=["model", "model_version"],
        )
        condition = GaugeMetricFamily(
            "tradewatch_model_retrain_condition",
            "1 while a retraining rule's condition holds (data_drift, estimated_accuracy, realized_accuracy, "
            "enough_labelled).",
            labels=["model", "condition"],
        )
        webhooks = CounterMetricFamily(
            "tradewatch_model_retrain_webhooks",
            "Retraining webhook POSTs by result (ok, error).",
            labels=["model", "result"],
        )
        advice = self.advisor.advice()
        sent = self.advisor.webhook_counts()
        for model, a in sorted(advice.items()):
            recommended.add_metric([model, a.version or ""], float(a.recommended))
            for name in CONDITIONS:
                condition.add_metric([model, name], float(a.conditions[name]))
            if self.advisor.s.webhook_url:
                for result in ("ok", "error"):
                    webhooks.add_metric([model, result], sent.get((model, result), 0))
        return [recommended, condition, webhooks]
