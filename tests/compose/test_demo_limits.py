"""The simulator's demo limits are the same in compose, .env.example and `tradewatch dev`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tradewatch.devstack.stack import SIMULATOR_MODEL_LIMITS, SIMULATOR_RISK_LIMITS

ROOT = Path(__file__).resolve().parents[2]


def test_compose_and_env_example_ship_the_dev_stacks_demo_limits() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    env_example = dict(re.findall(r"^([A-Z_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M))
    for service, limits in (("trading-exporter", SIMULATOR_RISK_LIMITS), ("model-exporter", SIMULATOR_MODEL_LIMITS)):
        environment = services[service]["environment"]
        for name, value in limits.items():
            assert environment[name] == f"${{{name}:-{value}}}", (service, name)
            assert env_example[name] == value, name
            assert float(value) > 0  # 0 would mean "not set": the alert could not fire
