"""Every incident scenario of the simulator fires, through a real Prometheus 2.42 and Alertmanager
0.25, the alerts docs/simulator.md names for it, within its (shortened) incident.

A stack of its own with the demo settings of `tradewatch dev` (risk limits, AI budget, the recorded
model reference at the simulator's speed, demo drift windows), in test mode (1 s intervals, every
`for` capped at 5 s) with the simulator at --speed 10. The exact set each scenario fires at the
shipped intervals and speed 1 is checked by tests/rules/test_scenario_series.py; flash-crash and
exchange-outage are covered by test_alerting.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tradewatch.devstack.command import demo_exporter_env
from tradewatch.devstack.stack import DevStack
from tradewatch.devstack.testing import TEST_SIMULATOR_ARGS, live_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SPEED = dict(zip(TEST_SIMULATOR_ARGS[::2], TEST_SIMULATOR_ARGS[1::2], strict=True))["--speed"]

#: scenario -> (incident seconds, alerts that must fire before it ends)
SCENARIOS = {
    "stale-feed": (40, {"MarketDataStale"}),
    "slow-execution": (60, {"ExecutionLatencyHigh", "SlippageHigh"}),
    "model-drift": (90, {"ModelAccuracyDecline", "FeatureDrift"}),
    # the 1 h burn rate of a fresh stack divides by the whole hour: a few minutes of spike
    "ai-cost-spike": (180, {"AICostOverBudget"}),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = demo_exporter_env(tmp_path_factory.mktemp("demo"), environ={"TRADEWATCH_SIM_SPEED": SPEED})
    with live_stack(
        scenarios=("normal",), warmup_seconds=5, threshold_overrides={"market_data_stale_seconds": 10}, exporter_env=env
    ) as s:
        yield s


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


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_fires_its_alerts_within_its_incident(stack: DevStack, scenario: str) -> None:
    incident, wanted = SCENARIOS[scenario]
    warmup = 3
    stack.start_simulator(
        scenario, "--warmup", str(warmup), "--incident", str(incident), "--rate", "4", "--speed", SPEED
    )
    seen = fired_during(stack, warmup + incident, wanted)
    print(f"{scenario}: first firing after the start (s): {seen}")
    assert wanted <= set(seen), f"{scenario}: {sorted(wanted - set(seen))} did not fire; fired: {seen}"
    stack.start_simulator("normal", *TEST_SIMULATOR_ARGS)
