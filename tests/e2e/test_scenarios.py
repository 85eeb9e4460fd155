"""stale-feed, slow-execution and model-drift fire, through a real Prometheus 2.42 and Alertmanager
0.25, the alerts of scenario_checks.SCENARIOS within their (shortened) incidents: the ones of
those docs/simulator.md names for each that such an incident reaches (a subset, not the exact set).

A stack of its own with the demo settings of `tradewatch dev` (risk limits, AI budget, the recorded
model reference at the simulator's speed, demo drift windows), in test mode (1 s intervals, every
`for` capped at 5 s) with the simulator at --speed 10. ai-cost-spike, the longest (its 1 h burn
rate), has a stack of its own in test_scenario_ai_cost.py, so make test runs it on another worker
alongside these. The exact set each scenario fires at the shipped intervals and speed 1 is checked by
tests/rules/test_scenario_series.py; flash-crash and exchange-outage are covered by test_alerting.py,
broker-api-degraded and losing-symbol (exactly: nothing else fires) by test_scenarios_desk.py.
"""

from __future__ import annotations

import pytest
from tests.e2e.scenario_checks import SCENARIOS, check_scenario

from tradewatch.devstack.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "ai-cost-spike"])
def test_scenario_fires_its_alerts_within_its_incident(demo_stack: DevStack, scenario: str) -> None:
    check_scenario(demo_stack, scenario)
