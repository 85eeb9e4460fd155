"""The fast path of critical trading alerts (docs/alerting.md, "Alert latency"): a 1 s scrape job
that keeps only the safety series (which the 5 s job drops, so each is one series), a 1 s rule
group that reads only those series, and a 1 s group_wait on the critical routes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tradewatch.devstack import render

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "prometheus"
FAST_GROUP = "tradewatch-trading-critical"
METRIC = re.compile(r"\b(tradewatch_[a-z0-9_]+)")


def _trading_groups() -> dict[str, dict]:
    doc = yaml.safe_load((PROM / "rules" / "trading.yml").read_text())
    return {g["name"]: g for g in doc["groups"]}


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus.ha-a.yml", "prometheus.ha-b.yml"])
def test_fast_job_keeps_only_what_the_normal_job_drops(name: str) -> None:
    jobs = {j["job_name"]: j for j in yaml.safe_load((PROM / name).read_text())["scrape_configs"]}
    normal, fast = jobs[render.CRITICAL_SOURCE_JOB], jobs[render.CRITICAL_JOB]
    assert fast["static_configs"] == normal["static_configs"]
    assert fast["scrape_interval"] == fast["scrape_timeout"] == "1s"
    [drop] = normal["metric_relabel_configs"]
    keep, job = fast["metric_relabel_configs"]
    assert drop == {**keep, "action": "drop"} and keep["action"] == "keep"
    assert set(keep["regex"].split("|")) == set(render.CRITICAL_METRICS)
    # The kept series look as they did from the 5 s job: rules, dashboards and inhibit rules match.
    assert job == {"target_label": "job", "replacement": render.CRITICAL_SOURCE_JOB, "action": "replace"}


def test_fast_group_reads_only_fast_series_and_holds_every_critical_one_it_can() -> None:
    groups = _trading_groups()
    fast = groups[FAST_GROUP]
    assert fast["interval"] == "1s"
    for rule in fast["rules"]:
        used = set(METRIC.findall(rule["expr"]))
        assert used and used <= set(render.CRITICAL_METRICS), (rule["alert"], used)
        assert rule["labels"]["severity"] == "critical" and "for" not in rule, rule["alert"]
    # A critical alert elsewhere that reads only fast series belongs in the fast group.
    for group in (g for n, g in groups.items() if n != FAST_GROUP):
        for rule in group["rules"]:
            if rule.get("labels", {}).get("severity") == "critical":
                assert not set(METRIC.findall(rule["expr"])) <= set(render.CRITICAL_METRICS), rule["alert"]
    assert {r["alert"] for r in fast["rules"]} >= {
        "KillSwitchActivated",
        "CircuitBreakerOpen",
        "DailyLossLimitBreached",
    }


def test_critical_routes_wait_one_second() -> None:
    route = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())["route"]
    [critical] = [r for r in route["routes"] if r["matchers"] == ['severity="critical"']]
    waits = [critical["group_wait"], *(r["group_wait"] for r in critical["routes"])]
    assert waits and all(render.duration_seconds(w) <= 1 for w in waits), waits
