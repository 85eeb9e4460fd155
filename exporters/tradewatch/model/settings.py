"""Settings of ``tradewatch model-exporter`` (``--print-settings`` prints them as Markdown)."""

from __future__ import annotations

from typing import Any

from tradewatch.core import config as cfg
from tradewatch.core.app import common_settings
from tradewatch.core.ingest import ingest_settings
from tradewatch.core.validate import time_window_settings
from tradewatch.model.drift import DriftSettings
from tradewatch.model.retrain import RetrainSettings
from tradewatch.model.state import FoldSettings, Price

PORT = 9813


# Examples, not quotes: list prices in USD per 1,000 tokens as published by the providers in 2025.
# Prices change; set `ai.prices` to your contract's. Keys are provider/model or provider/*.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "openai/gpt-4o": {"prompt": 0.0025, "completion": 0.01},
    "openai/gpt-4o-mini": {"prompt": 0.00015, "completion": 0.0006},
    "anthropic/claude-sonnet-4": {"prompt": 0.003, "completion": 0.015},
    "anthropic/claude-3-5-haiku": {"prompt": 0.0008, "completion": 0.004},
}

_price = cfg.Record(
    {
        "prompt": (cfg.number(0.0), None, True),
        "completion": (cfg.number(0.0), None, True),
    }
)


def settings() -> list[cfg.Setting]:
    S = cfg.Setting
    d = DriftSettings()
    f = FoldSettings()
    r = RetrainSettings()
    return [
        *common_settings(PORT),
        *ingest_settings("model-journal", snapshot_every=200_000),
        *time_window_settings(),
        S(
            "performance.window",
            cfg.integer(10, 1_000_000),
            f.performance_window,
            "Outcomes in the rolling performance window; the first window of outcomes is the "
            "reference for the accuracy ratio.",
        ),
        S(
            "pending.max",
            cfg.integer(1, 10_000_000),
            f.pending_max,
            "Predictions awaiting an outcome; the oldest is dropped (and counted as expired) beyond it.",
        ),
        S(
            "pending.ttl",
            cfg.duration(1.0),
            f.pending_ttl_seconds,
            "A pending prediction expires when the newest event time is this much later.",
        ),
        S(
            "drift.window",
            cfg.integer(100, 10_000_000),
            f.drift_window,
            "Most recent predictions per model compared with the reference.",
        ),
        S("drift.interval", cfg.duration(1.0), 60.0, "How often drift is computed (off the scrape path)."),
        S(
            "drift.min_samples",
            cfg.integer(10),
            d.min_samples,
            "Predictions needed in the window before drift is computed.",
        ),
        S("drift.bins", cfg.integer(2, 100), d.bins, "PSI bins, cut at the reference's quantiles."),
        S("drift.psi_minor", cfg.number(0.0), d.psi_minor, "PSI of a minor shift (documentation and dashboards)."),
        S(
            "drift.psi_major",
            cfg.number(0.0, exclusive_min=True),
            d.psi_major,
            "PSI at or above which a feature is flagged as drifted.",
        ),
        S(
            "drift.alpha",
            cfg.number(0.0, 0.5, exclusive_min=True),
            d.alpha,
            "Significance level for the corrected KS / chi-square p-values.",
        ),
        S(
            "drift.correction",
            cfg.choice("bonferroni", "bh"),
            d.correction,
            "Multiple-testing correction across a model's features: bonferroni or bh (Benjamini-Hochberg).",
        ),
        S(
            "drift.dataset_share",
            cfg.number(0.0, 1.0, exclusive_min=True),
            d.dataset_share,
            "Share of drifted features at which the model's data set counts as drifted.",
        ),
        S(
            "reference.size",
            cfg.integer(0),
            f.reference_size,
            "Capture the reference from each model's first N predictions (0: only files).",
        ),
        S(
            "reference.files",
            cfg.mapping_of(cfg.string(allow_empty=False)),
            {},
            "Per model, a JSONL or CSV reference file (model: path); such models are not captured.",
        ),
        S(
            "reference.version_files",
            cfg.mapping_of(cfg.mapping_of(cfg.string(allow_empty=False))),
            {},
            "Per model and version, a reference file ({model: {version: path}}) installed when that version "
            "starts; a new version without one captures its first reference.size predictions.",
        ),
        S(
            "versions.keep",
            cfg.integer(1, 50),
            f.versions_keep,
            "Latest versions per model with their own model_version series (champion, challengers); an older "
            "version's series disappear when a newer one starts.",
        ),
        S(
            "retrain.drift_runs",
            cfg.integer(1, 10_000),
            r.drift_runs,
            "Consecutive drift runs with dataset drift before drift recommends retraining.",
        ),
        S(
            "retrain.accuracy_margin",
            cfg.number(0.0, 1.0),
            r.accuracy_margin,
            "Estimated (CBPE) or realized accuracy this far below the version's reference accuracy recommends "
            "retraining.",
        ),
        S(
            "retrain.min_labelled",
            cfg.integer(0),
            r.min_labelled,
            "Outcomes of the version beyond its reference needed before retraining is recommended.",
        ),
        S(
            "retrain.webhook_url",
            cfg.string(pattern=r"^$|^https?://\S+$"),
            r.webhook_url,
            "POST a JSON body here when retraining becomes recommended (empty: no webhook). Masked in "
            "--check-config and logs, as such URLs often carry a token.",
            secret=True,
        ),
        S(
            "retrain.webhook_timeout",
            cfg.duration(0.1),
            r.webhook_timeout,
            "Timeout of one webhook POST.",
        ),
        S(
            "ai.prices",
            cfg.mapping_of(_price),
            DEFAULT_PRICES,
            "USD per 1,000 prompt and completion tokens by provider/model (or provider/*), used when an "
            "ai_call has no cost_usd. The defaults are examples: set your own.",
        ),
        S("ai.monthly_budget_usd", cfg.number(0.0), 0.0, "Monthly AI budget in USD (0: not exposed)."),
        S("limits.max_models", cfg.integer(1), f.max_models, "Distinct model labels; then __overflow__."),
        S("limits.max_versions", cfg.integer(1), f.max_versions, "Versions per model; then __overflow__."),
        S(
            "limits.max_features",
            cfg.integer(1),
            f.max_features,
            "Features tracked for drift per model (the first seen in the reference); others are ignored.",
        ),
        S(
            "limits.max_classes",
            cfg.integer(2),
            f.max_classes,
            "Classes per model (predicted_class label); then __overflow__. Drift windows also track this "
            "many classes the reference never saw.",
        ),
        S(
            "limits.max_categories",
            cfg.integer(2),
            f.max_categories,
            "New categories per categorical feature a drift window tracks beside the reference's own (a "
            "reference keeps its 20 x this many most frequent); then __overflow__.",
        ),
        S("limits.max_providers", cfg.integer(1), f.max_providers, "AI providers; then __overflow__."),
        S("limits.max_ai_models", cfg.integer(1), f.max_ai_models, "AI models; then __overflow__."),
    ]


def fold_settings(c: Any) -> FoldSettings:
    return FoldSettings(
        performance_window=c["performance.window"],
        pending_max=c["pending.max"],
        pending_ttl_seconds=c["pending.ttl"],
        drift_window=c["drift.window"],
        reference_size=c["reference.size"],
        max_models=c["limits.max_models"],
        max_versions=c["limits.max_versions"],
        max_features=c["limits.max_features"],
        max_classes=c["limits.max_classes"],
        max_categories=c["limits.max_categories"],
        max_providers=c["limits.max_providers"],
        max_ai_models=c["limits.max_ai_models"],
        versions_keep=c["versions.keep"],
        prices={k: Price(v["prompt"], v["completion"]) for k, v in c["ai.prices"].items()},
    )


def drift_settings(c: Any) -> DriftSettings:
    return DriftSettings(
        min_samples=c["drift.min_samples"],
        bins=c["drift.bins"],
        alpha=c["drift.alpha"],
        correction=c["drift.correction"],
        psi_minor=c["drift.psi_minor"],
        psi_major=c["drift.psi_major"],
        dataset_share=c["drift.dataset_share"],
    )


def retrain_settings(c: Any) -> RetrainSettings:
    return RetrainSettings(
        drift_runs=c["retrain.drift_runs"],
        accuracy_margin=c["retrain.accuracy_margin"],
        min_labelled=c["retrain.min_labelled"],
        webhook_url=c["retrain.webhook_url"],
        webhook_timeout=c["retrain.webhook_timeout"],
    )
