"""The shipped rules on the series the exporters really produce, scenario by scenario.

Each case runs a simulator scenario offline through the real trading and model exporters
(tradewatch.devstack.series: built in-process on a simulated clock, scraped every 5 s), hands what
was scraped to promtool as input series with the committed rule files (shipped `for` durations and
intervals, speed 1), and checks which alerts fired by the end of the incident: exactly the ones
docs/simulator.md names for the scenario. A rule that is wrong about what the exporters emit
together (ComponentDown's `or`, once) fails here even when its hand-written unit test passes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from tests.conftest import require_binary

from tradewatch.devstack import render, series

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted(str(p) for p in (ROOT / "prometheus" / "rules").glob("*.yml"))
WARMUP = 60.0

#: scenario -> (seconds simulated = warm-up + default incident, alerts fired by then).
#: Measured with the default seed (42); the table of docs/simulator.md says the same.
EXPECTED: dict[str, tuple[float, set[str]]] = {
    "normal": (1800.0, set()),
    "flash-crash": (
        660.0,
        {
            "KillSwitchActivated",
            "DrawdownExcessive",
            "DailyLossLimitBreached",
            "DailyLossNearLimit",
            "OrderRejectionRateHigh",
            "FillRatioLow",
            "FeatureDrift",
            "DatasetDrift",
            "RiskScoreHigh",
            "VolatilityBreach",
        },
    ),
    "exchange-outage": (
        360.0,
        {
            "CircuitBreakerOpen",
            "ComponentDown",
            "ComponentDegraded",
            "MarketDataStale",
            "OrderRejectionRateHigh",
            "FillRatioLow",
        },
    ),
    "stale-feed": (360.0, {"MarketDataStale"}),
    "slow-execution": (660.0, {"ExecutionLatencyHigh", "SlippageHigh", "MeanSlippageHigh", "ComponentDegraded"}),
    "model-drift": (960.0, {"FeatureDrift", "DatasetDrift", "ModelAccuracyDecline"}),
    "losing-symbol": (660.0, set()),
    "ai-cost-spike": (660.0, {"AICostOverBudget"}),
    "broker-api-degraded": (360.0, {"ApiErrorRatioHigh", "ApiLatencyHigh", "TradingSystemCriticalError"}),
}


def promtool(tmp_path: Path, name: str, doc: dict) -> subprocess.CompletedProcess:
    path = tmp_path / f"{name}_test.yml"
    path.write_text(yaml.safe_dump(doc, width=10**9, sort_keys=False))
    return subprocess.run(
        [require_binary("promtool"), "test", "rules", str(path)], capture_output=True, text=True, timeout=300
    )


def activations(alert: str, seconds: float) -> dict:
    """promql test: the alert's active-since time never changed (one incident, not several)."""
    return {
        "expr": f'count(changes(ALERTS_FOR_STATE{{alertname="{alert}"}}[{int(seconds) + 1}s]) > 0) or vector(0)',
        "eval_time": f"{int(seconds)}s",
        "exp_samples": [{"labels": "{}", "value": 0}],
    }


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_scenario_fires_exactly_its_alerts(scenario: str, tmp_path: Path) -> None:
    seconds, alerts = EXPECTED[scenario]
    cap = series.capture(scenario, seconds, warmup=WARMUP)
    tests = [series.fired_test(seconds, alerts | {"Watchdog"})]
    if scenario == "exchange-outage":  # the breaker cycles open/half-open: one alert all along
        tests[0]["promql_expr_test"].append(activations("CircuitBreakerOpen", seconds))
    res = promtool(tmp_path, scenario, series.promtool_file(cap, RULES, tests))
    assert res.returncode == 0, res.stdout + res.stderr


def test_exporter_restart_is_not_a_market_data_gap(tmp_path: Path) -> None:
    # Threshold 0: any gap fires. A restart (down 60 s, the events of the downtime lost) makes
    # one gap per symbol in the exporter's counter; a symbol that really stops ticking still fires.
    rules = tmp_path / "rules"
    rules.mkdir()
    for domain, text in render.render_rule_sources(overrides={"market_data_gaps_per_10m": 0}).items():
        (rules / f"{domain}.yml").write_text(text)
    files = sorted(str(p) for p in rules.glob("*.yml"))
    restart = series.capture("normal", 480, downtime=(180, 240), backlog="lost")
    assert any(
        k.startswith("tradewatch_market_data_gaps_total") and max(v for v in row if v is not None) >= 1
        for k, row in restart.values.items()
    ), "the restart should have made a gap in the counter"
    silent = {
        "promql_expr_test": [
            {"expr": 'ALERTS{alertname="MarketDataGaps"}', "eval_time": f"{s}s", "exp_samples": []}
            for s in range(240, 481, 15)
        ]
    }
    res = promtool(tmp_path, "restart", series.promtool_file(restart, files, [silent]))
    assert res.returncode == 0, res.stdout + res.stderr

    stale = series.capture("stale-feed", 480, warmup=WARMUP)
    fires = {
        "promql_expr_test": [
            {
                "expr": 'count(ALERTS{alertname="MarketDataGaps",alertstate="firing"})',
                "eval_time": "420s",
                "exp_samples": [{"labels": "{}", "value": 1}],
            }
        ]
    }
    res = promtool(tmp_path, "stale", series.promtool_file(stale, files, [fires]))
    assert res.returncode == 0, res.stdout + res.stderr
