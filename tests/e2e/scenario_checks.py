"""What tests/e2e/test_scenarios.py and test_scenario_ai_cost.py check: a simulator scenario fires, through
a real Prometheus 2.42 and Alertmanager 0.25, the alerts docs/simulator.md names for it, within its
(shortened) incident, on a stack with `tradewatch dev`'s demo settings (the ``demo_stack`` fixture of
conftest.py)."""

from __future__ import annotations

import time

from tradewatch.devstack.stack import DevStack
from tradewatch.devstack.testing import TEST_SIMULATOR_ARGS

SPEED = dict(zip(TEST_SIMULATOR_ARGS[::2], TEST_SIMULATOR_ARGS[1::2], strict=True))["--speed"]

#: scenario -> (incident seconds, alerts that must fire before it ends)
SCENARIOS = {
    "stale-feed": (40, {"MarketDataStale"}),
    "slow-execution": (60, {"ExecutionLatencyHigh", "SlippageHigh"}),
    "model-drift": (90, {"ModelAccuracyDecline", "FeatureDrift"}),
    # the 1 h burn rate of a fresh stack divides by the whole hour: a few minutes of spike
    "ai-cost-spike": (180, {"AICostOverBudget"}),
}


def fired_during(stack: DevStack, seconds: float, wanted: set[str]) -> dict[str, float]:
    """Alert name -> seconds after the start at which it was first seen firing, until all of
    ``wanted`` have fired or ``seconds`` pass. Alerts already active before (an earlier scenario's,
    same labels and active-since time) do not count."""

    def key(alert: dict) -> tuple:
        return alert["activeAt"], tuple(sorted(alert["labels"].items()))

    before = {key(a) for a in stack.prometheus_alerts()}
    start, seen = time.monotonic(), {}
    while time.monotonic() - start < seconds and not wanted <= set(seen):
        for alert in stack.prometheus_alerts():
            if alert["state"] == "firing" and key(alert) not in before:
                seen.setdefault(alert["labels"]["alertname"], round(time.monotonic() - start, 1))
        time.sleep(1)
    return seen


def check_scenario(stack: DevStack, scenario: str) -> None:
    """Run ``scenario`` until its alerts fire or its incident ends, then back to normal."""
    incident, wanted = SCENARIOS[scenario]
    warmup = 3
    stack.start_simulator(
        scenario, "--warmup", str(warmup), "--incident", str(incident), "--rate", "4", "--speed", SPEED
    )
    seen = fired_during(stack, warmup + incident, wanted)
    print(f"{scenario}: first firing after the start (s): {seen}")
    assert wanted <= set(seen), f"{scenario}: {sorted(wanted - set(seen))} did not fire; fired: {seen}"
    stack.start_simulator("normal", *TEST_SIMULATOR_ARGS)
