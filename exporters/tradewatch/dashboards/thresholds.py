"""Alert thresholds for panel threshold lines, read from prometheus/thresholds.yml.

That file is the one place the alert levels are set (the Prometheus rules are rendered from it),
so a panel's red line is always the level at which the alert fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
THRESHOLDS_FILE = REPO_ROOT / "prometheus" / "thresholds.yml"


@dataclass(frozen=True)
class Thresholds:
    values: dict[str, float]
    alerts: dict[str, list[str]]  # threshold name -> alert names using it


def load(path: Path = THRESHOLDS_FILE) -> Thresholds:
    """Parse the thresholds file; a missing or malformed file is an error, never silent defaults."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SystemExit(f"thresholds file not found: {path} (pass --thresholds)") from exc
    values: dict[str, float] = {}
    alerts: dict[str, list[str]] = {}
    for entry in doc.get("thresholds", []):
        name = entry["name"]
        values[name] = float(entry["value"])
        alerts[name] = list(entry.get("alerts", []))
    return Thresholds(values, alerts)
