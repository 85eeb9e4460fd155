"""ai-cost-spike fires AICostOverBudget within its incident (tests/e2e/scenario_checks.py), on a demo
stack of its own: the 1 h burn rate makes it the longest scenario (about 140 s), so make test runs
it on another worker alongside test_scenarios.py instead of after the others."""

from __future__ import annotations

import pytest
from tests.e2e.scenario_checks import check_scenario

from tradewatch.devstack.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_ai_cost_spike_fires_its_alert_within_its_incident(demo_stack: DevStack) -> None:
    check_scenario(demo_stack, "ai-cost-spike")
