"""``tradewatch model-exporter`` subcommand."""

from __future__ import annotations

import argparse

from tradewatch.cli import exporter_command


def register(sub: argparse._SubParsersAction) -> None:
    def settings():
        from tradewatch.model.settings import settings as model_settings

        return model_settings()

    def build(config):
        # scipy (imported by the exporter) costs ~60 MB and 0.7 s: load it only for this command.
        from tradewatch.model.exporter import build as build_exporter

        return build_exporter(config)

    exporter_command(
        sub,
        "model-exporter",
        "model performance, data and concept drift, AI/LLM cost (port 9813)",
        "Ingests prediction, outcome and ai_call events on POST /v1/events (journaled, replayed at "
        "start-up) and exposes live model performance, drift against a reference and AI spend "
        "on /metrics. See docs/model-exporter.md.",
        settings,
        build,
    )
