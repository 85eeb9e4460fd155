"""The two newest scenarios through a real Prometheus 2.42 and Alertmanager 0.25, on a demo stack of
their own (conftest.py ``demo_stack``): each fires exactly the alerts docs/simulator.md names for it
(scenario_checks.check_exactly: before its shortened incident ends, and nothing else but the
Watchdog), in file order on one stack:

* broker-api-degraded fires ApiErrorRatioHigh, ApiLatencyHigh and TradingSystemCriticalError;
* losing-symbol fires nothing, and tradewatch_trading_symbol_realized_pnl (docs/metrics.md) shows
  the first symbol losing over the incident while the others do not.
"""

from __future__ import annotations

import pytest
from tests.e2e.conftest import event
from tests.e2e.scenario_checks import check_exactly, fired_during

from tradewatch.devstack.stack import DevStack
from tradewatch.devstack.testing import TEST_SIMULATOR_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD", "AAPL", "SPY")  # the simulator's default; the first is thin
PNL = "sum by (symbol) (tradewatch_trading_symbol_realized_pnl)"
P95 = 'provider_endpoint:tradewatch_trading_api_call_latency_seconds:quantile_rate5m{quantile="0.95"}'


def test_broker_api_degraded_fires_its_three_alerts(demo_stack: DevStack) -> None:
    # TradingSystemCriticalError does not page a first critical error on a Prometheus that was not
    # scraping 5 m ago (its `up offset 5m`), which this one is not. A warning of the same component
    # and kind first, as a system running for a while may have had, exports the critical count at 0:
    # the scenario's critical error then fires it through increase(), at once.
    kind = {"component": "order-router", "kind": "broker_session_lost"}
    demo_stack.post_events("trading", [event("error", severity="warning", **kind)])
    # Meanwhile the fresh demo stack settles: in about one run of two the model exporter's first
    # drift windows (100 predictions, the LLM sentiment not yet moved) flag `sentiment` ~40 s after
    # the simulator starts, in the normal scenario too. What fires here is the baseline.
    print("normal, first seconds of the stack:", fired_during(demo_stack, 35, None))
    demo_stack.wait_for(f'tradewatch_trading_errors_total{{severity="critical",kind="{kind["kind"]}"}} == 0', 30)
    named = {"ApiErrorRatioHigh", "ApiLatencyHigh", "TradingSystemCriticalError"}
    check_exactly(demo_stack, "broker-api-degraded", 30, named)
    p95 = {r["metric"]["endpoint"]: round(float(r["value"][1]), 2) for r in demo_stack.query(P95)}
    print(f"broker-api-degraded: p95 latency by endpoint (s): {p95}")
    demo_stack.start_simulator("normal", *TEST_SIMULATOR_ARGS)


def test_losing_symbol_fires_nothing_and_its_first_symbol_loses(demo_stack: DevStack) -> None:
    def realized() -> dict[str, float]:
        return {r["metric"]["symbol"]: float(r["value"][1]) for r in demo_stack.query(PNL)}

    before = realized()
    check_exactly(demo_stack, "losing-symbol", 50, set())
    after = realized()
    demo_stack.start_simulator("normal", *TEST_SIMULATOR_ARGS)
    change = {s: round(after.get(s, 0.0) - before.get(s, 0.0), 1) for s in SYMBOLS}
    print(f"losing-symbol: realized P&L over the incident (USD): {change}")
    thin, *others = SYMBOLS
    assert change[thin] < -100, change
    # the others trade a normal book: what they make or lose is noise, far from the thin book's loss
    assert all(change[s] > change[thin] / 4 for s in others), change
