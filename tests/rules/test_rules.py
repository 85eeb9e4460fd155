"""Prometheus configuration and rules: generated files current, promtool checks, unit-test coverage,
label/annotation conventions, thresholds used from the one thresholds file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.conftest import require_binary

from tradewatch.devstack import render

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "prometheus"
DASHBOARD_UIDS = {
    "tradewatch-overview",
    "tradewatch-trading",
    "tradewatch-execution",
    "tradewatch-risk",
    "tradewatch-model",
    "tradewatch-ai-cost",
    "tradewatch-data-quality",
    "tradewatch-system",
    "tradewatch-logs",
    "tradewatch-alerts",
}
REQUIRED_ALERTS = {
    "ExporterDown",
    "TargetDown",
    "ComponentDown",
    "ProbeFailing",
    "HostHighCpu",
    "HostHighMemory",
    "DiskSpaceLow",
    "DiskPredictedFull",
    "KillSwitchActivated",
    "CircuitBreakerOpen",
    "OrderRejectionRateHigh",
    "FillRatioLow",
    "ExecutionLatencyHigh",
    "SlippageHigh",
    "DrawdownExcessive",
    "DailyLossNearLimit",
    "DailyLossLimitBreached",
    "PositionLimitUsageHigh",
    "ConcentrationHigh",
    "MarketDataStale",
    "MarketDataGaps",
    "EventsRejected",
    "ModelPredictionDrift",
    "FeatureDrift",
    "ModelLowConfidence",
    "ModelLatencyHigh",
    "ModelAccuracyDecline",
    "ModelNoPredictions",
    "AICostOverBudget",
    "ErrorRateHigh",
    "PrometheusRuleEvaluationFailures",
    "PrometheusNotificationsFailing",
    "AlertmanagerNotificationsFailing",
    "Watchdog",
}


def run(*cmd: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_committed_files_equal_generator_output():
    stale = render.stale_committed()
    assert not stale, f"run `tradewatch dev render` and commit: {[str(p) for p in stale]}"


def test_promtool_check_config_and_rules():
    promtool = require_binary("promtool")
    res = run(promtool, "check", "config", str(PROM / "prometheus.yml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{len(render.RULE_DOMAINS)} rule files found" in res.stdout + res.stderr


def test_promtool_check_rules():
    promtool = require_binary("promtool")
    files = sorted(str(p) for p in (PROM / "rules").glob("*.yml"))
    res = run(promtool, "check", "rules", *files)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == len(render.RULE_DOMAINS)


def test_malformed_thresholds_file_is_rejected_with_every_problem(tmp_path):
    path = tmp_path / "thresholds.yml"
    path.write_text(
        "thresholds:\n  - name: a\n    value: high\n    unit: ratio\n    meaning: x\n  - name: b\n    value: 1\n"
    )
    with pytest.raises(render.RenderError) as err:
        render.load_thresholds(path)
    assert "entry 0" in str(err.value) and "entry 1" in str(err.value)


def test_promtool_unit_tests_pass():
    promtool = require_binary("promtool")
    files = sorted(str(p) for p in (PROM / "tests").glob("*_test.yml"))
    assert len(files) == len(render.RULE_DOMAINS)
    res = run(promtool, "test", "rules", *files, cwd=PROM / "tests")
    assert res.returncode == 0, res.stdout + res.stderr


def test_native_config_is_valid_and_uses_loopback(tmp_path):
    promtool = require_binary("promtool")
    opts = render.NativeOptions(
        ports={
            "prometheus": 19090,
            "alertmanager": 19093,
            "system-exporter": 19811,
            "trading-exporter": 19812,
            "model-exporter": 19813,
        },
        test_mode=True,
    )
    (tmp_path / "rules").mkdir()
    for domain, text in render.render_rule_sources().items():
        (tmp_path / "rules" / f"{domain}.yml").write_text(render.shorten_rules(text, interval="1s", max_for="5s"))
    doc = render.render_prometheus("native", opts)
    (tmp_path / "prometheus.yml").write_text(render.dump_yaml(doc))
    res = run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert res.returncode == 0, res.stdout + res.stderr
    targets = [t for job in doc["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert targets and all(t.startswith("127.0.0.1:") for t in targets)
    assert {j["job_name"] for j in doc["scrape_configs"]} == {
        "prometheus",
        "alertmanager",
        "system-exporter",
        "trading-exporter",
        "trading-exporter-critical",
        "model-exporter",
    }
    assert all(j["scrape_interval"] == "1s" for j in doc["scrape_configs"])
    shortened = yaml.safe_load((tmp_path / "rules" / "trading.yml").read_text())
    fors = [r["for"] for g in shortened["groups"] for r in g["rules"] if "for" in r]
    assert fors and max(render.duration_seconds(f) for f in fors) == 5


def test_compose_config_targets_and_intervals():
    doc = yaml.safe_load((PROM / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert {job: j["static_configs"][0]["targets"][0] for job, j in jobs.items()} == {
        "prometheus": "prometheus:9090",
        "alertmanager": "alertmanager:9093",
        "grafana": "grafana:3000",
        "loki": "loki:3100",
        "alloy": "alloy:12345",
        "system-exporter": "system-exporter:9811",
        "trading-exporter": "trading-exporter:9812",
        "trading-exporter-critical": "trading-exporter:9812",
        "model-exporter": "model-exporter:9813",
    }
    assert jobs["trading-exporter"]["scrape_interval"] == "5s"
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    trading = yaml.safe_load((PROM / "rules" / "trading.yml").read_text())
    assert {g["name"]: g["interval"] for g in trading["groups"]} == {
        "tradewatch-trading-recording": "5s",
        "tradewatch-trading-critical": "1s",
        "tradewatch-trading": "5s",
    }


def test_required_alerts_exist(alerts):
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert set(names) >= REQUIRED_ALERTS, REQUIRED_ALERTS - set(names)


def test_alert_labels_and_annotations(alerts):
    for a in alerts:
        name = a["alert"]
        assert a["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert a["labels"]["team"] in {"trading", "ml", "data", "platform"}, name
        ann = a["annotations"]
        assert set(ann) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        assert ann["runbook_url"] == f"{render.RUNBOOK_BASE}/{name}.md", name
        assert (ROOT / "docs" / "runbooks" / f"{name}.md").is_file(), f"no runbook for {name}"
        m = re.fullmatch(re.escape(render.GRAFANA_URL) + r"/d/([a-z-]+)", ann["dashboard_url"])
        assert m and m.group(1) in DASHBOARD_UIDS, (name, ann["dashboard_url"])
        assert "{{ $value" in ann["description"], f"{name}: description must quote the value"
        assert "threshold" in ann["description"], f"{name}: description must quote the threshold"


def test_prometheus_242_compatible_syntax():
    for path in (PROM / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            assert set(group) <= {"name", "interval", "rules", "limit"}, (path.name, group["name"])


def test_thresholds_file_is_the_single_source(alerts):
    thresholds = render.load_thresholds()
    sources = {d: (PROM / "rules.in" / f"{d}.yml").read_text() for d in render.RULE_DOMAINS}
    used: dict[str, set[str]] = {}
    for text in sources.values():
        for rule in yaml.safe_load(text)["groups"]:
            for r in rule["rules"]:
                if "alert" in r:
                    for name in re.findall(r"\[\[([a-z0-9_]+)(?::pct)?\]\]", yaml.safe_dump(r)):
                        used.setdefault(name, set()).add(r["alert"])
    assert set(used) == set(thresholds), "thresholds declared but unused, or used but undeclared"
    for name, t in thresholds.items():
        assert set(t.alerts) == used[name], f"{name}: 'alerts' says {t.alerts}, rules use it in {used[name]}"
        assert t.unit and t.meaning
    # and no literal re-typing of a threshold in the alert expressions of the rendered rules:
    rendered = {a["alert"]: a for a in alerts}
    for name, t in thresholds.items():
        for alert in t.alerts:
            rule = rendered[alert]
            assert render._fmt(t.value) in rule["expr"] + rule.get("for", ""), (name, alert)


def test_unknown_threshold_is_an_error():
    with pytest.raises(render.RenderError, match="no_such"):
        render.substitute("x > [[no_such]]", render.load_thresholds())


def test_threshold_override_changes_rendered_rule():
    text = render.render_rule_sources(overrides={"drawdown_excessive_ratio": 0.03})["trading"]
    assert "tradewatch_trading_drawdown_ratio >= 0.03" in text
    assert "threshold of 3%" in text


def _unit_tests() -> dict[str, dict[str, list]]:
    """alertname -> {"fires": [case...], "silent": [case...]} over every promtool test file."""
    out: dict[str, dict[str, list]] = {}
    for path in (PROM / "tests").glob("*_test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "fires" if case.get("exp_alerts") else "silent"
                out.setdefault(case["alertname"], {"fires": [], "silent": []})[kind].append(case)
    return out


def test_every_alert_has_a_firing_and_a_silent_unit_test(alerts):
    cases = _unit_tests()
    for a in alerts:
        name = a["alert"]
        if name == "Watchdog":  # always fires by design
            assert cases.get(name, {}).get("fires"), name
            continue
        got = cases.get(name)
        assert got and got["fires"], f"{name} has no promtool case where it fires"
        assert got["silent"], f"{name} has no promtool case where it stays silent"
        for case in got["fires"]:
            for exp in case["exp_alerts"]:
                assert exp["exp_labels"]["severity"] == a["labels"]["severity"], name
                assert set(exp["exp_annotations"]) == set(a["annotations"]), f"{name}: annotations unchecked"


def _catalog() -> set[str]:
    names = set()
    for line in (ROOT / "docs" / "metrics.md").read_text().splitlines():
        m = re.match(r"\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*(\w+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    return names


# Metrics of Prometheus and Alertmanager themselves (not in our catalog).
UPSTREAM = {
    "up",
    "prometheus_rule_evaluation_failures_total",
    "prometheus_notifications_errors_total",
    "alertmanager_notifications_failed_total",
    "prometheus_notifications_alertmanagers_discovered",
}
_PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "increase",
    "max",
    "min",
    "without",
    "and",
    "or",
    "bool",
    "on",
    "time",
    "vector",
    "histogram_quantile",
    "predict_linear",
    "offset",
    "abs",
    "topk",
    "le",
    "ignoring",
    "group_left",
    "count",
    "group",
    "changes",
}


def test_rules_and_runbooks_name_only_catalogued_metrics(alerts):
    catalog = _catalog()
    recorded = set()
    exprs = []
    for path in (PROM / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                recorded.add(rule.get("record"))
                exprs.append(rule["expr"])
    for runbook in (ROOT / "docs" / "runbooks").glob("*.md"):
        exprs += re.findall(r"```promql\n(.*?)```", runbook.read_text(), re.S)
    unknown = set()
    for expr in exprs:
        expr = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', "", expr)
        for word in re.findall(r"[a-z_:][a-z0-9_:]*", expr):
            if (
                word.startswith(("tradewatch_", "prometheus_", "alertmanager_")) or ":" in word
            ) and word not in catalog | recorded | UPSTREAM:
                unknown.add(word)
    assert not unknown, f"not in docs/metrics.md nor a recording rule: {sorted(unknown)}"
    assert len(catalog) > 100


def test_docs_alert_table_matches_the_rules(alerts):
    rows = {}
    for line in (ROOT / "docs" / "alerting.md").read_text().splitlines():
        m = re.match(r"\| \[(\w+)\]\(runbooks/\1\.md\) \| (\w+) \| (\w+) \|", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    assert rows == {a["alert"]: (a["labels"]["severity"], a["labels"]["team"]) for a in alerts}


def test_runbooks_quote_current_thresholds():
    thresholds = render.load_thresholds()
    for path in (ROOT / "docs" / "runbooks").glob("*.md"):
        for name, value in re.findall(r"^- `([a-z0-9_]+)` = ([0-9.]+) ", path.read_text(), re.M):
            assert float(value) == thresholds[name].value, f"{path.name}: {name} says {value}"


def test_thresholds_agree_with_the_trading_exporter_defaults():
    # The trading exporter exposes its own staleness settings as gauges for dashboards; the alert
    # thresholds live here, so the two defaults must not drift apart.
    from tradewatch.trading.settings import settings

    defaults = {s.key: s.default for s in settings()}
    thresholds = render.load_thresholds()
    assert thresholds["market_data_stale_seconds"].value == defaults["market_data.stale_seconds"]
    assert thresholds["heartbeat_max_age_seconds"].value == defaults["heartbeat.timeout"]
