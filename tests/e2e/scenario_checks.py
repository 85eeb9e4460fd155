"""What tests/e2e/test_scenarios.py, test_scenario_ai_cost.py and test_scenarios_desk.py check: a
simulator scenario fires, through a real Prometheus 2.42 and Alertmanager 0.25, alerts
docs/simulator.md names for it within its (shortened) incident, on a stack with `tradewatch dev`'s
demo settings (the ``demo_stack`` fixture of conftest.py): ``check_scenario`` those of
:data:`SCENARIOS` (a subset: what a shortened incident reaches), ``check_exactly`` the whole set
and nothing else."""

from __future__ import annotations

import time

from tradewatch.devstack.stack import DevStack
from tradewatch.devstack.testing import TEST_SIMULATOR_ARGS

SPEED = dict(zip(TEST_SIMULATOR_ARGS[::2], TEST_SIMULATOR_ARGS[1::2], strict=True))["--speed"]

#: scenario -> (incident seconds, alerts that must fire before it ends)
SCENARIOS = {
    "stale-feed": (40, {"MarketDataStale"}),
    "slow-execution": (60, {"ExecutionLatencyHigh", "SlippageHigh"}),
    "model-drift": (90, {"ModelAccuracyDecline", "FeatureDrift", "DatasetDrift"}),
    # the 1 h burn rate of a fresh stack divides by the whole hour: a few minutes of spike
    "ai-cost-spike": (180, {"AICostOverBudget"}),
}


def fired_during(stack: DevStack, seconds: float, wanted: set[str] | None) -> dict[str, float]:
    """Alert name -> seconds after the start at which it was first seen firing, until all of
    ``wanted`` have fired (``None``: never, watch for all of ``seconds``) or ``seconds`` pass.
    Alerts already active before (an earlier scenario's, same labels and active-since time) do
    not count."""

    def key(alert: dict) -> tuple:
        return alert["activeAt"], tuple(sorted(alert["labels"].items()))

    before = {key(a) for a in stack.prometheus_alerts()}
    start, seen = time.monotonic(), {}
    while time.monotonic() - start < seconds and (wanted is None or not wanted <= set(seen)):
        for alert in stack.prometheus_alerts():
            if alert["state"] == "firing" and key(alert) not in before:
                seen.setdefault(alert["labels"]["alertname"], round(time.monotonic() - start, 1))
        time.sleep(1)
    return seen


WARMUP = 3


def run_incident(stack: DevStack, scenario: str, incident: float, wanted: set[str] | None, grace: float = 0) -> dict:
    """Start ``scenario`` (a short warm-up, then ``incident`` s) and watch it (:func:`fired_during`)."""
    stack.start_simulator(
        scenario, "--warmup", str(WARMUP), "--incident", str(incident), "--rate", "4", "--speed", SPEED
    )
    seen = fired_during(stack, WARMUP + incident + grace, wanted)
    print(f"{scenario}: first firing after the start (s): {seen}")
    return seen


def check_scenario(stack: DevStack, scenario: str) -> None:
    """Run ``scenario`` until its alerts fire or its incident ends, then back to normal."""
    incident, wanted = SCENARIOS[scenario]
    seen = run_incident(stack, scenario, incident, wanted)
    assert wanted <= set(seen), f"{scenario}: {sorted(wanted - set(seen))} did not fire; fired: {seen}"
    stack.start_simulator("normal", *TEST_SIMULATOR_ARGS)


def check_exactly(stack: DevStack, scenario: str, incident: float, named: set[str]) -> dict[str, float]:
    """Run ``scenario`` through its incident (and the capped 5 s ``for`` after it): ``named`` fire
    before it ends and nothing else does but the Watchdog. Returns when each fired; the simulator
    is left running (back to normal is the caller's)."""
    seen = run_incident(stack, scenario, incident, None, grace=5)
    in_time = {name for name, at in seen.items() if at <= WARMUP + incident}
    assert named <= in_time, f"{scenario}: {sorted(named - in_time)} did not fire in time; fired: {seen}"
    assert set(seen) - named - {"Watchdog"} == set(), f"{scenario}: fired alerts the docs do not name: {seen}"
    return seen
