"""The e2e stack: real Prometheus, two real Alertmanagers, the exporters, the simulator, a local Slack
webhook receiver and an aiosmtpd server, all on loopback random ports (tradewatch.devstack).

Two Alertmanagers receive the same alerts from Prometheus:
* ``alertmanager`` ("day"): the shipped routing with quiet hours moved to a month that is not now;
* ``night``: the shipped quiet hours with their location set to a zone where it is night right now.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.scenario_checks import SPEED

from tradewatch.devstack.command import demo_exporter_env
from tradewatch.devstack.quiet import never_now, night_zone
from tradewatch.devstack.stack import AlertmanagerSpec, DevStack
from tradewatch.devstack.testing import live_stack

NIGHT_FROM = "TradeWatch night <night@tradewatch.local>"
STALE_OVERRIDE = {"market_data_stale_seconds": 10}


@pytest.fixture(scope="session")
def stack() -> Iterator[DevStack]:
    # Thresholds rendered for speed: market data counts as stale after 10 s instead of 30 s.
    with live_stack(
        scenarios=("normal",),
        warmup_seconds=5,
        threshold_overrides=STALE_OVERRIDE,
        alertmanagers=(
            AlertmanagerSpec("alertmanager", quiet_hours=never_now(), slack_path="/day"),
            AlertmanagerSpec("night", location=night_zone(), slack_path="/night", smtp_from=NIGHT_FROM),
        ),
    ) as s:
        yield s


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """A stack with `tradewatch dev`'s demo settings, one per module (tests/e2e/scenario_checks.py)."""
    env = demo_exporter_env(tmp_path_factory.mktemp("demo"), environ={"TRADEWATCH_SIM_SPEED": SPEED})
    with live_stack(scenarios=("normal",), warmup_seconds=5, threshold_overrides=STALE_OVERRIDE, exporter_env=env) as s:
        yield s


def event(etype: str, **fields: Any) -> dict[str, Any]:
    return {"type": etype, "ts": time.time(), "event_id": f"e2e-{uuid.uuid4()}", **fields}
