"""Models folder: model performance & drift, AI cost."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from tradewatch.dashboards import exemplars
from tradewatch.dashboards.common import (
    GREEN,
    ORANGE,
    RED,
    Context,
    bars,
    dashboard_link,
    falling,
    new_dashboard,
    onoff,
    q,
    quantiles,
    query_var,
    rising,
    row,
    single,
    states,
    steps,
    tbl,
    ts,
)
from tradewatch.dashboards.model_versions import version_rows

MODEL = 'model=~"$model"'
FEATURE = 'feature=~"$feature"'
PROVIDER = 'provider=~"$provider"'
AI_MODEL = 'model=~"$ai_model"'
# PSI bands: < 0.1 no change, 0.1-0.25 moderate, above the major band (the alert level) major.
PSI_MODERATE = 0.1


def model(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "model",
        "TradeWatch / Model performance & drift",
        "Can we still trust the models? Accuracy and calibration against outcomes, confidence, latency, "
        "and drift: per-feature PSI and KS, the drifted share and prediction drift.",
        ["models"],
        ctx,
    ).variables(
        [
            query_var("model", "Model", "label_values(tradewatch_model_info, model)", "Model name."),
            query_var(
                "feature",
                "Feature",
                f"label_values(tradewatch_model_feature_psi{{{MODEL}}}, feature)",
                "Input feature of the selected models.",
            ),
        ]
    )
    board = board.link(dashboard_link("ai-cost", "AI cost"))
    psi_major = ctx.t("prediction_psi_high")

    board = board.with_row(row("Performance"))
    board = board.with_panel(
        ts(
            "Accuracy",
            "Rolling accuracy of classifiers against their outcomes.",
            [q(f"tradewatch_model_accuracy_ratio{{{MODEL}}}", "{{model}}")],
            unit="percentunit",
            min_val=0,
            max_val=1,
        )
    )
    board = board.with_panel(
        ts(
            "Accuracy vs reference (concept drift)",
            "Rolling accuracy / reference accuracy (for regressors "
            "reference error / rolling error). Dashed: the ModelAccuracyDecline level.",
            [q(f"tradewatch_model_accuracy_vs_reference_ratio{{{MODEL}}}", "{{model}}")],
            unit="percentunit",
            thresholds=falling(None, ctx.t("accuracy_vs_reference_low_ratio")),
            links=[ctx.runbook("ModelAccuracyDecline")],
        )
    )
    board = board.with_panel(
        tbl(
            "Precision and recall by class",
            "Rolling precision and recall per predicted class.",
            [
                q(f"tradewatch_model_precision_ratio{{{MODEL}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_recall_ratio{{{MODEL}}}", instant=True, fmt="table"),
            ],
            unit="percentunit",
            hide=("Time", "__name__", "instance", "job"),
        )
    )
    board = board.with_panel(
        ts(
            "Calibration",
            "Expected calibration error (10 bins) and Brier score; lower is better.",
            [
                q(f"tradewatch_model_calibration_error{{{MODEL}}}", "ECE {{model}}"),
                q(f"tradewatch_model_brier_score{{{MODEL}}}", "Brier {{model}}"),
            ],
            unit="short",
        )
    )
    board = board.with_panel(
        ts(
            "Median confidence",
            "Median prediction confidence over 15 m. Dashed: the ModelLowConfidence level.",
            [
                q(
                    f"histogram_quantile(0.5, sum by (le, model)"
                    f" (rate(tradewatch_model_confidence_bucket{{{MODEL}}}[15m])))",
                    "{{model}}",
                )
            ],
            unit="percentunit",
            min_val=0,
            max_val=1,
            thresholds=falling(None, ctx.t("confidence_low_ratio")),
            links=[ctx.runbook("ModelLowConfidence")],
        )
    )
    board = board.with_panel(
        ts(
            "Model P&L and win rate",
            "Rolling P&L attributed to the model, and its share of positive outcomes.",
            [
                q(f"tradewatch_model_pnl{{{MODEL}}}", "P&L {{model}}"),
                q(f"tradewatch_model_win_rate_ratio{{{MODEL}}}", "win rate {{model}}"),
            ],
            unit="short",
        )
    )
    board = board.with_panel(
        ts(
            "Predictions by class",
            "Predictions per second, by model and predicted class.",
            [
                q(
                    f"sum by (model, predicted_class)"
                    f" (rate(tradewatch_model_predictions_total{{{MODEL}}}[$__rate_interval]))",
                    "{{model}} {{predicted_class}}",
                )
            ],
            unit="ops",
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Inference latency",
            "p50 and p99 inference latency. Dashed: the ModelLatencyHigh p99 level.",
            exemplars.first(
                quantiles(f"tradewatch_model_inference_latency_seconds_bucket{{{MODEL}}}", "model", (0.5, 0.99))
            ),
            unit="s",
            thresholds=rising(None, ctx.t("model_latency_p99_seconds")),
            links=[ctx.runbook("ModelLatencyHigh")],
        )
    )
    board = board.with_panel(
        ts(
            "Time since last prediction",
            "Seconds since each model's latest prediction. Dashed: the ModelNoPredictions level.",
            [q(f"time() - tradewatch_model_last_prediction_timestamp_seconds{{{MODEL}}}", "{{model}}")],
            unit="s",
            thresholds=rising(None, ctx.t("model_silent_seconds")),
            links=[ctx.runbook("ModelNoPredictions")],
        )
    )
    board = board.with_panel(
        ts(
            "Outcome bookkeeping",
            "Predictions awaiting an outcome, and the median prediction-to-outcome lag.",
            [
                q(f"tradewatch_model_pending_predictions{{{MODEL}}}", "pending {{model}}"),
                q(
                    f"histogram_quantile(0.5, sum by (le, model)"
                    f" (rate(tradewatch_model_outcome_lag_seconds_bucket"
                    f"{{{MODEL}}}[$__rate_interval])))",
                    "median lag (s) {{model}}",
                ),
            ],
            unit="short",
        )
    )

    board = board.with_row(row("Drift"))
    board = board.with_panel(
        bars(
            "Feature PSI",
            "Population stability index of each feature vs the reference set. Bands: below "
            f"{PSI_MODERATE} no change, up to {psi_major} moderate, above it major.",
            [q(f"tradewatch_model_feature_psi{{{MODEL},{FEATURE}}}", "{{model}} {{feature}}", instant=True)],
            thresholds=steps((None, GREEN), (PSI_MODERATE, ORANGE), (psi_major, RED)),
            w=12,
            h=10,
            links=[ctx.runbook("FeatureDrift")],
        )
    )
    board = board.with_panel(
        ts(
            "KS statistic by feature",
            "Two-sample Kolmogorov-Smirnov statistic of numeric features vs reference.",
            [q(f"tradewatch_model_feature_ks_statistic{{{MODEL},{FEATURE}}}", "{{model}} {{feature}}")],
            unit="short",
            h=10,
        )
    )
    board = board.with_panel(
        tbl(
            "Drift tests per feature",
            "Latest p-values (KS for numeric, chi-square for categorical features), "
            "Jensen-Shannon distance, missing share and the exporter's drift verdict (1 = drifted).",
            [
                q(f"tradewatch_model_feature_ks_pvalue{{{MODEL},{FEATURE}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_feature_chi2_pvalue{{{MODEL},{FEATURE}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_feature_js_distance{{{MODEL},{FEATURE}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_feature_missing_ratio{{{MODEL},{FEATURE}}}", instant=True, fmt="table"),
                q(f"tradewatch_model_feature_drifted{{{MODEL},{FEATURE}}}", instant=True, fmt="table"),
            ],
            w=24,
            hide=("Time", "__name__", "instance", "job"),
        )
    )
    board = board.with_panel(
        ts(
            "Drifted share of features",
            "Share of features that drifted; dataset drift is declared at the exporter's drift.dataset_share.",
            [q(f"tradewatch_model_drifted_features_ratio{{{MODEL}}}", "{{model}}")],
            unit="percentunit",
            min_val=0,
            max_val=1,
            links=[ctx.runbook("FeatureDrift")],
        )
    )
    board = board.with_panel(
        states(
            "Dataset drift",
            "1 while the drifted share is at or above drift.dataset_share.",
            [q(f"tradewatch_model_dataset_drift{{{MODEL}}}", "{{model}}")],
            mappings=onoff("stable", "DRIFT"),
            h=8,
        )
    )
    board = board.with_panel(
        ts(
            "Prediction drift (PSI)",
            "PSI of the predicted classes/values vs the reference. Dashed: the ModelPredictionDrift level.",
            [q(f"tradewatch_model_prediction_psi{{{MODEL}}}", "{{model}}")],
            unit="short",
            thresholds=rising(PSI_MODERATE, psi_major),
            links=[ctx.runbook("ModelPredictionDrift")],
        )
    )
    board = board.with_panel(
        ts(
            "Drift computation",
            "Duration of the last drift computation and the reference set size.",
            [
                q(f"tradewatch_model_drift_computation_seconds{{{MODEL}}}", "duration (s) {{model}}"),
                q(f"tradewatch_model_reference_samples{{{MODEL}}}", "reference rows {{model}}"),
            ],
            unit="short",
        )
    )
    return version_rows(board, ctx)


def ai_cost(ctx: Context) -> db.Dashboard:
    board = new_dashboard(
        "ai-cost",
        "TradeWatch / AI cost",
        "What do the AI/LLM calls cost, and will we stay in budget? Spend per day by provider and model, "
        "tokens, projected month against the budget, error rate and latency.",
        ["models", "ai"],
        ctx,
    ).variables(
        [
            query_var(
                "provider",
                "Provider",
                "label_values(tradewatch_ai_calls_total, provider)",
                "AI/LLM provider.",
            ),
            query_var(
                "ai_model",
                "AI model",
                f"label_values(tradewatch_ai_calls_total{{{PROVIDER}}}, model)",
                "Model of the selected providers.",
            ),
        ]
    )
    board = board.link(dashboard_link("model", "Model performance & drift"))
    sel = f"{PROVIDER},{AI_MODEL}"
    calls = f"tradewatch_ai_calls_total{{{sel}}}"

    board = board.with_row(row("Spend"))
    board = board.with_panel(
        single(
            "Spend, last 24 h",
            "Spend over the last 24 hours, selected providers and models.",
            [q(f"sum(increase(tradewatch_ai_cost_usd_total{{{sel}}}[1d]))", "USD")],
            unit="currencyUSD",
            w=6,
        )
    )
    board = board.with_panel(
        single(
            "Projected month",
            "Spend over the last 24 h x 30 (all providers).",
            [q("sum(tradewatch_ai_projected_monthly_cost_usd)", "USD")],
            unit="currencyUSD",
            w=6,
        )
    )
    board = board.with_panel(
        single(
            "Monthly budget",
            "Configured monthly budget.",
            [q("sum(tradewatch_ai_monthly_budget_usd)", "USD")],
            unit="currencyUSD",
            w=6,
            graph=False,
        )
    )
    board = board.with_panel(
        single(
            "Projected / budget",
            "Projected month / budget. Red at the AICostOverBudget level.",
            [
                q(
                    "sum(tradewatch_ai_projected_monthly_cost_usd) / sum(tradewatch_ai_monthly_budget_usd)",
                    "ratio",
                )
            ],
            unit="percentunit",
            w=6,
            thresholds=rising(None, ctx.t("ai_budget_ratio")),
            links=[ctx.runbook("AICostOverBudget")],
        )
    )
    board = board.with_panel(
        ts(
            "Cost per day by provider and model",
            "Rolling 24 h spend by provider and model.",
            [
                q(
                    f"sum by (provider, model) (increase(tradewatch_ai_cost_usd_total{{{sel}}}[1d]))",
                    "{{provider}} {{model}}",
                )
            ],
            unit="currencyUSD",
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Spend rate",
            "Spend per hour by provider and model (5 m rate x 3600).",
            [
                q(
                    f"sum by (provider, model) (rate(tradewatch_ai_cost_usd_total{{{sel}}}[5m])) * 3600",
                    "{{provider}} {{model}}",
                )
            ],
            unit="currencyUSD",
            stack=True,
        )
    )

    board = board.with_row(row("Usage"))
    board = board.with_panel(
        ts(
            "Tokens per second",
            "Prompt and completion tokens per second by model.",
            [
                q(
                    f"sum by (model, kind) (rate(tradewatch_ai_tokens_total{{{sel}}}[$__rate_interval]))",
                    "{{model}} {{kind}}",
                )
            ],
            unit="short",
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Cost per 1k tokens",
            "Spend / tokens x 1000 over 1 h, by model.",
            [
                q(
                    f"sum by (model) (rate(tradewatch_ai_cost_usd_total{{{sel}}}[1h])) * 1000"
                    f" / sum by (model) (rate(tradewatch_ai_tokens_total{{{sel}}}[1h]))",
                    "{{model}}",
                )
            ],
            unit="currencyUSD",
        )
    )
    board = board.with_panel(
        ts(
            "Calls by status",
            "Calls per second by status (ok, error, timeout, rate_limited).",
            [q(f"sum by (status) (rate({calls}[$__rate_interval]))", "{{status}}")],
            unit="ops",
            stack=True,
        )
    )
    board = board.with_panel(
        ts(
            "Error rate by provider",
            "Share of calls that did not succeed (error, timeout, rate limited), 5 m.",
            [
                q(
                    f'(sum by (provider) (rate(tradewatch_ai_calls_total{{status!="ok",{sel}}}[5m]))'
                    f" or sum by (provider) (rate({calls}[5m])) * 0) / sum by (provider) (rate({calls}[5m]))",
                    "{{provider}}",
                )
            ],
            unit="percentunit",
            min_val=0,
        )
    )
    board = board.with_panel(
        ts(
            "Call latency by provider",
            "p50 and p99 AI call latency.",
            quantiles(f"tradewatch_ai_call_latency_seconds_bucket{{{PROVIDER}}}", "provider", (0.5, 0.99)),
            unit="s",
            w=24,
        )
    )
    return board
