"""``tradewatch model-exporter``: assembles the fold, the shared ingest machinery, drift and collectors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, Periodic
from tradewatch.core.ingest import ingestor_from_config, mount_ingest, read_token
from tradewatch.core.logging import get_logger
from tradewatch.core.validate import TimeWindow
from tradewatch.model.collectors import (
    AICostCollector,
    DriftCollector,
    PerformanceCollector,
    PredictionsCollector,
)
from tradewatch.model.drift import DriftEngine
from tradewatch.model.events import validator
from tradewatch.model.reference import ReferenceError, load_reference
from tradewatch.model.retrain import RetrainAdvisor, RetrainCollector
from tradewatch.model.settings import drift_settings, fold_settings, retrain_settings
from tradewatch.model.state import ModelState, Reference
from tradewatch.model.version_collectors import VersionsCollector

log = get_logger("tradewatch.model")
NAME = "model-exporter"


class ModelExporter:
    """The running pieces, kept together so tests can reach the state and the drift engine."""

    def __init__(self, config: Any, clock: Callable[[], float] = time.time):
        # clock: receipt times and drift timing (a simulated one in tradewatch.devstack.series)
        self.config = config
        self.exporter = Exporter(NAME, config)
        self.state = ModelState(fold_settings(config))
        problems: list[str] = []

        def load(where: str, model: str, path: str) -> Reference | None:
            try:
                return load_reference(
                    path,
                    max_features=config["limits.max_features"],
                    max_categories=config["limits.max_categories"],
                    model=model,
                )
            except ReferenceError as exc:
                problems.append(f"{where}: {exc}")
                return None

        for model, path in config["reference.files"].items():
            if (ref := load(f"reference.files[{model}]", model, path)) is not None:
                self.state.set_reference(model, ref)
        for model, files in config["reference.version_files"].items():
            for version, path in files.items():
                if (ref := load(f"reference.version_files[{model}][{version}]", model, path)) is not None:
                    self.state.version_refs.setdefault(model, {})[version] = ref
        if problems:
            raise cfg.ConfigError(problems)
        token = read_token(config)
        self.ingestor = ingestor_from_config(
            config, validator(TimeWindow.from_config(config)), self.state, errors=self.exporter.errors
        )
        self.ingestor.clock = clock
        mount_ingest(self.exporter, self.ingestor, token=token)
        self.drift = DriftEngine(self.state, drift_settings(config), clock)
        self.retrain = RetrainAdvisor(self.state, retrain_settings(config), self.drift.results, clock)
        self.exporter.add_task(
            Periodic(
                "model-drift",
                config["drift.interval"],
                self.run_drift,
                on_error=lambda exc: self.exporter.errors.labels("drift").inc(),
            )
        )
        self.exporter.add_collector("model_predictions", PredictionsCollector(self.state))
        self.exporter.add_collector("model_performance", PerformanceCollector(self.state))
        self.exporter.add_collector("model_drift", DriftCollector(self.state, self.drift))
        self.exporter.add_collector("model_versions", VersionsCollector(self.state))
        self.exporter.add_collector("model_retrain", RetrainCollector(self.retrain))
        self.exporter.add_collector("ai_cost", AICostCollector(self.state, config["ai.monthly_budget_usd"]))

    def run_drift(self) -> None:
        """The periodic task: drift, then the retraining rules that read it."""
        self.drift.run()
        self.retrain.run()

    def start(self) -> int:
        return self.exporter.start()

    def stop(self) -> None:
        self.exporter.stop()

    def run(self) -> int:
        return self.exporter.run()


def build(config: Any) -> ModelExporter:
    try:
        return ModelExporter(config)
    except cfg.ConfigError as exc:
        import sys

        sys.stderr.write(f"tradewatch {NAME}: {exc}\n")
        raise SystemExit(2) from None
