"""``tradewatch model-exporter`` subcommand."""

from __future__ import annotations

import argparse

from tradewatch.cli import exporter_command


def register(sub: argparse._SubParsersAction) -> None:
    from tradewatch.model.exporter import build
    from tradewatch.model.settings import settings

    exporter_command(
        sub, "model-exporter", "model performance, data and concept drift, AI/LLM cost (port 9813)",
        "Ingests prediction, outcome and ai_call events on POST /v1/events (journaled, replayed at "
        "start-up) and exposes live model performance, drift against a reference and AI spend "
        "on /metrics. See docs/model-exporter.md.",
        settings, build,
    )
