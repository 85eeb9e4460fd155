"""The report's model-version section: which version ran, when it changed, and what changed with it.

Every number is a PromQL expression at the period's end (kept in the document beside the value, as
in the other sections): the versions the model exporter keeps (``versions.keep``), the production
one and since when, version changes in the period, and per version its accuracy, CBPE estimate,
mean confidence and calibration error, so the new version reads against the one it replaced.
Retraining recommendations in the period and production versions without a reference are named.
"""

from __future__ import annotations

import math
from typing import Any

from tradewatch.report.sections import Section, Table, fnum, fpct, jnum


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else fpct(x)


def s_model_versions(b: Any, sec: Section) -> None:
    R = b.R
    prod = b.by(
        "model_production_version",
        "max by (model, model_version) (tradewatch_model_production_info)",
        "model",
        "model_version",
    )
    if not prod:
        sec.notes.append("No model versions reported in the period (model exporter absent, or no predictions).")
        return
    since = b.by(
        "model_production_since", "max by (model) (tradewatch_model_production_since_timestamp_seconds)", "model"
    )
    changes = b.by(
        "model_version_changes", f"sum by (model) (increase(tradewatch_model_version_changes_total[{R}]))", "model"
    )
    first = b.by(
        "model_version_first_prediction",
        "max by (model, model_version) (tradewatch_model_version_first_prediction_timestamp_seconds)",
        "model",
        "model_version",
    )
    per: dict[str, dict[str, float]] = {}
    for key, metric in (
        ("accuracy", "tradewatch_model_version_accuracy_ratio"),
        ("estimated", "tradewatch_model_version_estimated_accuracy_ratio"),
        ("confidence", "tradewatch_model_version_mean_confidence_ratio"),
        ("ece", "tradewatch_model_version_calibration_error"),
        ("predictions", "tradewatch_model_version_predictions_total"),
    ):
        per[key] = b.by(f"model_version_{key}", f"max by (model, model_version) ({metric})", "model", "model_version")
    retrain = b.by(
        "model_retrain", f"max by (model) (max_over_time(tradewatch_model_retrain_recommended[{R}]))", "model"
    )
    missing = b.by(
        "model_reference_missing",
        "max by (model, model_version) (tradewatch_model_reference_missing)",
        "model",
        "model_version",
    )
    rows = []
    data: dict[str, Any] = {}
    for key in sorted(first):
        model, version = key.split(",", 1)
        is_prod = key in prod
        rows.append(
            [
                model,
                version,
                "production" if is_prod else "previous",
                b.p.when(first[key]),
                fnum(per["predictions"].get(key, math.nan), 0),
                _pct(per["accuracy"].get(key, math.nan)),
                _pct(per["estimated"].get(key, math.nan)),
                _pct(per["confidence"].get(key, math.nan)),
                fnum(per["ece"].get(key, math.nan), 3),
            ]
        )
        data.setdefault(model, {})[version] = {k: jnum(v.get(key, math.nan)) for k, v in per.items()} | {
            "production": is_prod,
            "first_prediction": jnum(first[key]),
        }
    for key in sorted(prod):
        model, version = key.split(",", 1)
        n = changes.get(model, 0.0)
        if n >= 1 and math.isfinite(since.get(model, math.nan)) and since[model] >= b.p.start:
            older = [k for k in first if k.startswith(model + ",") and k != key]
            before = max(older, key=lambda k: first[k]) if older else None
            text = f"{model}: version {version} took over"
            if before is not None:
                old = before.split(",", 1)[1]
                text += (
                    f" from {old} at {b.p.when(since[model])}. Accuracy {_pct(per['accuracy'].get(before, math.nan))}"
                    f" -> {_pct(per['accuracy'].get(key, math.nan))}, estimated (CBPE) "
                    f"{_pct(per['estimated'].get(before, math.nan))} -> {_pct(per['estimated'].get(key, math.nan))}, "
                    f"mean confidence {_pct(per['confidence'].get(before, math.nan))} -> "
                    f"{_pct(per['confidence'].get(key, math.nan))}."
                )
            else:
                text += f" at {b.p.when(since[model])}."
            sec.notes.append(text)
        if missing.get(key, 0.0) >= 1:
            sec.notes.append(f"{model} {version} has no drift reference of its own: its drift is not computed.")
        if retrain.get(model, 0.0) >= 1:
            sec.notes.append(f"Retraining was recommended for {model} in the period.")
    sec.figures.extend(
        [
            ("Version changes", fnum(sum(v for v in changes.values() if math.isfinite(v)), 0)),
            ("Models recommended for retraining", str(sum(1 for v in retrain.values() if v >= 1))),
        ]
    )
    sec.data["versions"] = data
    sec.tables.append(
        Table(
            "Versions side by side (at the end of the period)",
            [
                "model",
                "version",
                "role",
                "first prediction",
                "predictions",
                "accuracy",
                "estimated",
                "mean confidence",
                "ECE",
            ],
            rows,
        )
    )
