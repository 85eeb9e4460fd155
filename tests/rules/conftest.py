"""Helpers for the rule tests: the rendered rule files as data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "prometheus" / "rules"


def alert_rules() -> list[dict]:
    """Every alerting rule of the committed rule files, with its domain."""
    out = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    out.append({**rule, "domain": path.stem, "group": group["name"]})
    return out


@pytest.fixture(scope="session")
def alerts() -> list[dict]:
    return alert_rules()
