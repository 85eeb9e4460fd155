"""Model dashboard rows for versions (champion / challenger), CBPE, outcome wait, drift ranking, retraining."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from tradewatch.dashboards.common import Context, bars, onoff, q, row, states, tbl, ts

MODEL = 'model=~"$model"'
VERSION = "{{model}} {{model_version}}"


def version_rows(board: db.Dashboard, ctx: Context) -> db.Dashboard:
    """Rows appended to the Model dashboard."""
    board = board.with_row(row("Versions: champion / challenger"))
    board = board.with_panel(
        tbl(
            "Versions side by side",
            "The latest versions.keep versions of each model: which one is in production (newest first "
            "seen), predictions, outcomes, realized and estimated (CBPE) accuracy, calibration, and whether "
            "the production version has a drift reference of its own (1 = missing).",
            [
                q(f"tradewatch_model_production_info{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_version_predictions_total{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_version_outcomes_total{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_version_accuracy_ratio{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_version_estimated_accuracy_ratio{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_version_calibration_error{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_version_mean_confidence_ratio{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_version_first_prediction_timestamp_seconds{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_reference_missing{{{MODEL}}}", instant=True, fmt="table"),
            ],
            w=24,
            hide=("Time", "__name__", "instance", "job"),
            links=[ctx.runbook("ModelReferenceMissing")],
        )
    )
    board = board.with_panel(
        ts(
            "Accuracy by version",
            "Realized accuracy of each version's last performance.window outcomes.",
            [q(f"tradewatch_model_version_accuracy_ratio{{{MODEL}}}", VERSION)],
            unit="percentunit",
            min_val=0,
            max_val=1,
        )
    )
    board = board.with_panel(
        ts(
            "Inference latency p99 by version",
            "99th percentile of each version's inference latency.",
            [
                q(
                    "histogram_quantile(0.99, sum by (model, model_version, le) "
                    f"(rate(tradewatch_model_version_inference_latency_seconds_bucket{{{MODEL}}}[$__rate_interval])))",
                    VERSION,
                )
            ],
            unit="s",
        )
    )
    board = board.with_panel(
        ts(
            "Predictions by version",
            "Prediction rate per version: a challenger in shadow and the champion side by side.",
            [
                q(
                    f"sum by (model, model_version) (rate(tradewatch_model_version_predictions_total{{{MODEL}}}[5m]))",
                    VERSION,
                )
            ],
            unit="reqps",
        )
    )
    board = board.with_panel(
        states(
            "Version in production",
            "Production version and version changes (a new version starting).",
            [
                q(f"tradewatch_model_production_info{{{MODEL}}}", VERSION),
                q(f"increase(tradewatch_model_version_changes_total{{{MODEL}}}[5m])", "change {{model}}"),
                q(f"increase(tradewatch_model_versions_folded_total{{{MODEL}}}[5m])", "folded {{model}}"),
            ],
            mappings=onoff("", "on"),
        )
    )

    board = board.with_panel(
        tbl(
            "Production version, reference and drift runs",
            "Since when the production version runs, the reference period of the drift reference, and the "
            "last drift run (Unix seconds).",
            [
                q(f"tradewatch_model_production_since_timestamp_seconds{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_reference_start_timestamp_seconds{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_reference_end_timestamp_seconds{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_drift_last_run_timestamp_seconds{{{MODEL}}}", instant=True, fmt="table"),
            ],
            unit="dateTimeAsIso",
            hide=("Time", "__name__", "instance", "job"),
        )
    )
    board = board.with_row(row("Performance before the labels (CBPE)"))
    board = board.with_panel(
        ts(
            "Estimated vs realized accuracy",
            "CBPE: expected accuracy of the last predictions from their (reference-calibrated) confidences, "
            "available before the outcomes; beside it the realized accuracy once they arrive and the "
            "reference accuracy. Valid while P(correct | confidence) is as on the reference.",
            [
                q(f"tradewatch_model_version_estimated_accuracy_ratio{{{MODEL}}}", "estimated " + VERSION),
                q(f"tradewatch_model_version_accuracy_ratio{{{MODEL}}}", "realized " + VERSION),
                q(f"tradewatch_model_version_reference_accuracy_ratio{{{MODEL}}}", "reference " + VERSION),
            ],
            unit="percentunit",
            min_val=0,
            max_val=1,
            links=[ctx.runbook("ModelRetrainRecommended")],
        )
    )
    board = board.with_panel(
        ts(
            "Was the estimate right?",
            "Estimate minus realized accuracy over the same labelled predictions, and the calibration "
            "error on the reference (the estimate's error bound there) and now.",
            [
                q(f"tradewatch_model_version_accuracy_estimate_error{{{MODEL}}}", "estimate error " + VERSION),
                q(f"tradewatch_model_version_reference_calibration_error{{{MODEL}}}", "reference ECE " + VERSION),
            ],
            unit="short",
        )
    )
    board = board.with_panel(
        ts(
            "Outcome wait",
            "Share of the last predictions still waiting for their outcome, and the median prediction-to-"
            "outcome delay.",
            [
                q(f"tradewatch_model_outcome_waiting_ratio{{{MODEL}}}", "waiting {{model}}"),
                q(
                    "histogram_quantile(0.5, sum by (model, le) "
                    f"(rate(tradewatch_model_outcome_lag_seconds_bucket{{{MODEL}}}[15m]))) / 3600",
                    "median delay (h) {{model}}",
                ),
            ],
            unit="short",
        )
    )

    board = board.with_panel(
        ts(
            "Outcome joining",
            "Predictions that expired before an outcome (TTL or cap) and outcomes with an unknown prediction.",
            [
                q(f"increase(tradewatch_model_expired_predictions_total{{{MODEL}}}[15m])", "expired {{model}}"),
                q(f"increase(tradewatch_model_unknown_outcomes_total{{{MODEL}}}[15m])", "unknown {{model}}"),
            ],
        )
    )
    board = board.with_row(row("Drift that explains itself"))
    board = board.with_panel(
        bars(
            "Features ranked by drift",
            "Corrected p-value per feature, most drifted first (rank 1): below drift.alpha the feature "
            "drifts. The distance to the threshold is the gap to alpha.",
            [
                q(
                    f"sort(tradewatch_model_feature_corrected_pvalue{{{MODEL}}} "
                    f"and on (model, feature) tradewatch_model_feature_drift_rank{{{MODEL}}} <= 10)",
                    "{{model}} {{feature}}",
                    instant=True,
                )
            ],
            w=12,
            h=10,
            links=[ctx.runbook("FeatureDrift")],
        )
    )
    board = board.with_panel(
        ts(
            "Multivariate drift (PCA reconstruction)",
            "Window / reference PCA reconstruction error of the numeric features: about 1 unchanged, above "
            "it when the features' joint distribution moved (also a changed correlation).",
            [
                q(f"tradewatch_model_multivariate_drift_ratio{{{MODEL}}}", "ratio {{model}}"),
                q(f"tradewatch_model_multivariate_reconstruction_error{{{MODEL}}}", "window {{model}}"),
                q(f"tradewatch_model_multivariate_reference_reconstruction_error{{{MODEL}}}", "reference {{model}}"),
            ],
            unit="short",
            h=10,
        )
    )

    board = board.with_row(row("Retraining"))
    board = board.with_panel(
        states(
            "Retraining recommended",
            "1 when the rules recommend retraining the production version; the conditions below say why.",
            [q(f"tradewatch_model_retrain_recommended{{{MODEL}}}", VERSION)],
            mappings=onoff("no", "RETRAIN"),
            links=[ctx.runbook("ModelRetrainRecommended")],
        )
    )
    board = board.with_panel(
        tbl(
            "Retraining conditions",
            "data_drift (dataset drift for retrain.drift_runs runs), estimated_accuracy / realized_accuracy "
            "(below the reference by retrain.accuracy_margin), enough_labelled (retrain.min_labelled new "
            "outcomes). Webhook POSTs: tradewatch_model_retrain_webhooks_total.",
            [
                q(f"tradewatch_model_retrain_condition{{{MODEL}}}", instant=True, fmt="table"),
            ],
            hide=("Time", "__name__", "instance", "job"),
        )
    )
    return board
