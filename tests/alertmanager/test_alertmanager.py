"""Alertmanager configuration: amtool checks, routing of every alert, the entrypoint's Slack switch,
and inhibition / templates / quiet hours against a real Alertmanager 0.25 on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from tests.conftest import require_binary
from tests.rules.conftest import alert_rules

from tradewatch.devstack import render
from tradewatch.devstack.procs import Managed, free_port
from tradewatch.devstack.quiet import never_now, night_zone
from tradewatch.devstack.receivers import MailCatcher, SlackReceiver

ROOT = Path(__file__).resolve().parents[2]
AM = ROOT / "alertmanager"
CONFIGS = [AM / "alertmanager.yml", AM / "alertmanager.email-only.yml", AM / "alertmanager.channels.yml"]

# The routing contract, one row per alert of prometheus/rules/*.yml (a new alert without a row fails).
EXPECTED_RECEIVER = {
    "Watchdog": "deadmans-switch",
    "ExporterDown": "critical-platform",
    "TargetDown": "warning-platform",
    "ErrorRateHigh": "warning-platform",
    "JournalWriteFailing": "critical-platform",
    "PrometheusRuleEvaluationFailures": "warning-platform",
    "PrometheusNotificationsFailing": "critical-platform",
    "AlertmanagerNotificationsFailing": "critical-platform",
    "ComponentDown": "critical-platform",
    "ComponentDegraded": "warning-platform",
    "ProbeFailing": "warning-platform",
    "HostHighCpu": "warning-platform",
    "HostHighMemory": "warning-platform",
    "DiskSpaceLow": "warning-platform",
    "DiskPredictedFull": "warning-platform",
    "KillSwitchActivated": "critical-trading",
    "CircuitBreakerOpen": "critical-trading",
    "DrawdownExcessive": "critical-trading",
    "DailyLossLimitBreached": "critical-trading",
    "DailyLossNearLimit": "warning-trading",
    "OrderRejectionRateHigh": "warning-trading",
    "FillRatioLow": "warning-trading",
    "ExecutionLatencyHigh": "warning-trading",
    "SlippageHigh": "warning-trading",
    "MeanSlippageHigh": "warning-trading",
    "PositionLimitUsageHigh": "warning-trading",
    "ConcentrationHigh": "warning-trading",
    "MarketDataStale": "critical-data",
    "MarketDataGaps": "warning-data",
    "EventsRejected": "warning-data",
    "ModelPredictionDrift": "warning-ml",
    "FeatureDrift": "info-digest",
    "ModelRetrainRecommended": "info-digest",
    "ModelReferenceMissing": "info-digest",
    "ModelLowConfidence": "warning-ml",
    "ModelLatencyHigh": "warning-ml",
    "ModelAccuracyDecline": "warning-ml",
    "ModelNoPredictions": "warning-ml",
    "AICostOverBudget": "warning-ml",
    # Critical routes carry no mute_time_intervals (test_timings_and_send_resolved): pages in the
    # quiet hours that mute HostHighMemory, and inhibits it on the same instance (INHIBIT_CASES).
    "HostHighMemoryCritical": "critical-platform",
    "TradingSystemCriticalError": "critical-trading",
    "PortfolioStopLossReached": "critical-trading",
    "PortfolioTakeProfitReached": "warning-trading",
    "ApiErrorRatioHigh": "warning-trading",
    "ApiLatencyHigh": "warning-trading",
    "RiskScoreHigh": "warning-trading",
    "VolatilityBreach": "warning-trading",
    "DatasetDrift": "warning-ml",
}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_amtool_check_config(config):
    amtool = require_binary("amtool")
    res = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "10 receivers" in res.stdout and "7 inhibit rules" in res.stdout


def test_every_alert_has_a_routing_case():
    names = {a["alert"] for a in alert_rules()}
    assert names == set(EXPECTED_RECEIVER), {
        "without a case": names - set(EXPECTED_RECEIVER),
        "case for no alert": set(EXPECTED_RECEIVER) - names,
    }


@pytest.mark.parametrize("config", CONFIGS[:2], ids=lambda p: p.name)  # channels.yml: the same tree
def test_routes(config):
    amtool = require_binary("amtool")
    failures = []
    for rule in alert_rules():
        labels = [
            f"alertname={rule['alert']}",
            f"severity={rule['labels']['severity']}",
            f"team={rule['labels']['team']}",
        ]
        expected = EXPECTED_RECEIVER[rule["alert"]]
        res = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={expected}", *labels],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if res.returncode != 0:
            failures.append((rule["alert"], expected, res.stdout.strip() + res.stderr.strip()))
    assert not failures


def test_routes_catch_unknown_team_and_reject_wrong_receiver():
    amtool = require_binary("amtool")
    ok = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={CONFIGS[0]}",
            "--verify.receivers=critical-platform",
            "alertname=New",
            "severity=critical",
            "team=unknown",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={CONFIGS[0]}",
            "--verify.receivers=warning-trading",
            "alertname=KillSwitchActivated",
            "severity=critical",
            "team=trading",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert wrong.returncode != 0


def test_timings_and_send_resolved():
    doc = yaml.safe_load(CONFIGS[0].read_text())
    routes = {r["matchers"][0]: r for r in doc["route"]["routes"]}
    critical = routes['severity="critical"']
    assert render.duration_seconds(critical["group_wait"]) <= 5
    assert "mute_time_intervals" not in critical
    assert all("mute_time_intervals" not in r for r in critical["routes"])
    for sev in ("warning", "info"):
        route = routes[f'severity="{sev}"']
        assert route["mute_time_intervals"] == ["quiet-hours"]
        assert all(r["mute_time_intervals"] == ["quiet-hours"] for r in route.get("routes", []))
    assert render.duration_seconds(routes['severity="info"']["group_interval"]) >= 3600
    for receiver in doc["receivers"]:
        for cfg in receiver.get("slack_configs", []):
            assert cfg["send_resolved"] is True
            assert cfg["api_url_file"] == "/run/secrets/slack_webhook_url"
        for cfg in receiver.get("email_configs", []):
            assert cfg["send_resolved"] is (receiver["name"] != "info-digest")
    assert "smtp_auth_password" not in doc["global"] and "api_url" not in json.dumps(doc).replace("api_url_file", "")


def _entry_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "ALERTMANAGER_CONFIG_DIR": str(AM),
        "ALERTMANAGER_RUN_DIR": str(tmp_path),
        "SLACK_WEBHOOK_URL_FILE": str(tmp_path / "none"),
        "TRADEWATCH_SECRETS_DIR": str(tmp_path / "secrets"),
        "ALERTMANAGER_BIN": "echo",
    }


def _entrypoint(tmp_path: Path, slack_secret: str | None, tz: str | None = None) -> tuple[str, str]:
    secret = tmp_path / "slack_webhook_url"
    if slack_secret is not None:
        secret.write_text(slack_secret)
    env = {**_entry_env(tmp_path), "SLACK_WEBHOOK_URL_FILE": str(secret)}
    if tz:
        env["TRADEWATCH_QUIET_HOURS_TZ"] = tz
    res = subprocess.run(
        ["sh", str(AM / "entrypoint.sh"), "--web.listen-address=:9093"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"--config.file={tmp_path / 'alertmanager.yml'} --web.listen-address=:9093"
    return (tmp_path / "alertmanager.yml").read_text(), res.stderr


def test_entrypoint_switches_slack_on_only_with_a_webhook_secret(tmp_path):
    amtool = require_binary("amtool")
    text, log = _entrypoint(tmp_path, None)
    assert "slack_configs:" not in text and "e-mail only" in log
    text, log = _entrypoint(tmp_path, "")
    assert "slack_configs:" not in text
    text, log = _entrypoint(tmp_path, "https://hooks.slack.com/services/T/B/x", tz="America/New_York")
    assert "slack_configs:" in text and "channels on: slack (+ e-mail)" in log
    assert "location: America/New_York" in text and "Europe/London" not in text
    res = subprocess.run(
        [amtool, "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0, res.stdout


def test_entrypoint_rejects_a_malformed_time_zone(tmp_path):
    env = {**_entry_env(tmp_path), "TRADEWATCH_QUIET_HOURS_TZ": "x#;rm -rf /"}
    res = subprocess.run(["sh", str(AM / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "invalid TRADEWATCH_QUIET_HOURS_TZ" in res.stderr


# --- a real Alertmanager ----------------------------------------------------------------------


class LiveAM:
    def __init__(self, tmp: Path, slack: SlackReceiver, mail: MailCatcher, **native):
        binary = require_binary("prometheus-alertmanager")
        (tmp / "slack_url").write_text(slack.url + "/slack")
        doc = render.render_alertmanager_native(
            render.NativeAlertmanager(
                slack_url_file=str(tmp / "slack_url"),
                smtp_smarthost=mail.smarthost,
                templates_dir=str(AM / "templates"),
                fast=True,
                **native,
            )
        )
        (tmp / "am.yml").write_text(render.dump_yaml(doc))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = Managed(
            "alertmanager",
            [
                binary,
                f"--config.file={tmp / 'am.yml'}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                f"--web.external-url={self.url}",
            ],
            tmp / "am.log",
            f"{self.url}/-/ready",
        ).start()
        self.proc.wait_ready(30)

    def post(self, *alerts: dict, ends_in: float | None = None) -> None:
        now = datetime.now(UTC)
        body = []
        for a in alerts:
            item = {
                "labels": a["labels"],
                "annotations": a.get("annotations", {}),
                # startsAt = now: Alertmanager flushes a new group at once (no group_wait) for an
                # alert that started longer than group_wait ago, which would split grouped alerts.
                "startsAt": now.isoformat(),
                "generatorURL": "http://127.0.0.1:9090/graph",
            }
            if ends_in is not None:
                item["endsAt"] = (now + timedelta(seconds=ends_in)).isoformat()
            body.append(item)
        req = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(req, timeout=10).close()

    def alerts(self) -> dict[str, dict]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as resp:
            return {_key(a): a for a in json.loads(resp.read())}


def _key(alert: dict) -> str:
    labels = alert["labels"]
    return f"{labels['alertname']}/{labels.get('case', '')}/{labels['severity']}"


def _alert(name: str, severity: str, team: str, case: str, **labels: str) -> dict:
    ann = {
        "summary": f"{name} summary",
        "description": f"{name}: value 42 (threshold 40)",
        "runbook_url": f"{render.RUNBOOK_BASE}/{name}.md",
        "dashboard_url": f"{render.GRAFANA_URL}/d/tradewatch-risk",
    }
    return {
        "labels": {
            "alertname": name,
            "severity": severity,
            "team": team,
            "case": case,
            "environment": "test",
            **labels,
        },
        "annotations": ann,
    }


@pytest.fixture
def receivers():
    slack, mail = SlackReceiver().start(), MailCatcher().start()
    yield slack, mail
    slack.stop()
    mail.stop()


@pytest.fixture
def live_am(tmp_path, receivers):
    am = LiveAM(tmp_path, *receivers, quiet_hours=never_now())
    yield am
    am.proc.stop()


# (source, target, inhibited?) - each pair in its own "case" so they don't interfere.
INHIBIT_CASES = [
    (
        "crit",
        _alert("ExporterDown", "critical", "platform", "crit", instance="a:1"),
        _alert("ExporterDown", "warning", "platform", "crit", instance="a:1"),
        True,
    ),
    (
        "crit-other-instance",
        _alert("ExporterDown", "critical", "platform", "cx", instance="a:1"),
        _alert("ExporterDown", "warning", "platform", "cx", instance="b:1"),
        False,
    ),
    (
        "memory",
        _alert("HostHighMemoryCritical", "critical", "platform", "mem", instance="h:9811"),
        _alert("HostHighMemory", "warning", "platform", "mem", instance="h:9811"),
        True,
    ),
    (
        "memory-other-instance",
        _alert("HostHighMemoryCritical", "critical", "platform", "mem2", instance="h:9811"),
        _alert("HostHighMemory", "warning", "platform", "mem2", instance="g:9811"),
        False,
    ),
    (
        "daily",
        _alert("DailyLossLimitBreached", "critical", "trading", "daily", account="main"),
        _alert("DailyLossNearLimit", "warning", "trading", "daily", account="main"),
        True,
    ),
    (
        "component",
        _alert("ComponentDown", "critical", "platform", "comp", component="router"),
        _alert("ComponentDegraded", "warning", "platform", "comp", component="router"),
        True,
    ),
    (
        "component-other",
        _alert("ComponentDown", "critical", "platform", "comp2", component="router"),
        _alert("ComponentDegraded", "warning", "platform", "comp2", component="feed"),
        False,
    ),
    (
        "breaker",
        _alert("CircuitBreakerOpen", "critical", "trading", "cb", component="exchange-api"),
        _alert("ComponentDown", "critical", "platform", "cb", component="exchange-api"),
        True,
    ),
    (
        "kill-rejections",
        _alert("KillSwitchActivated", "critical", "trading", "kill"),
        _alert("OrderRejectionRateHigh", "warning", "trading", "kill", strategy="m"),
        True,
    ),
    (
        "kill-fill",
        _alert("KillSwitchActivated", "critical", "trading", "kill2"),
        _alert("FillRatioLow", "warning", "trading", "kill2", strategy="m"),
        True,
    ),
    (
        "kill-not-slippage",
        _alert("KillSwitchActivated", "critical", "trading", "kill3"),
        _alert("SlippageHigh", "warning", "trading", "kill3", venue="v"),
        False,
    ),
    (
        "latency-rejections",
        _alert("ExecutionLatencyHigh", "warning", "trading", "lat", venue="v"),
        _alert("OrderRejectionRateHigh", "warning", "trading", "lat", strategy="m"),
        True,
    ),
]


def test_inhibit_rules(live_am):
    # a different environment per case keeps the environment-scoped rules from crossing cases
    for i, (_, src, tgt, _) in enumerate(INHIBIT_CASES):
        src["labels"]["environment"] = tgt["labels"]["environment"] = f"env{i}"
        live_am.post(src, tgt)
    time.sleep(1.5)
    got = live_am.alerts()
    wrong = []
    for name, src, tgt, inhibited in INHIBIT_CASES:
        status = got[_key(tgt)]["status"]
        if bool(status["inhibitedBy"]) != inhibited:
            wrong.append((name, status))
        assert not got[_key(src)]["status"]["inhibitedBy"]
    assert not wrong


def test_templates_render_slack_and_email_then_resolved(live_am, receivers):
    slack, mail = receivers
    alerts = [
        _alert("KillSwitchActivated", "critical", "trading", "t1", instance="t:9812"),
        _alert("KillSwitchActivated", "critical", "trading", "t2", instance="u:9812"),
    ]
    live_am.post(*alerts)
    post = slack.wait_for(lambda p: "KillSwitchActivated" in p.text, 30)
    att = post.payload["attachments"][0]
    assert att["title"] == "[FIRING:2] KillSwitchActivated (critical, team trading)"
    assert att["color"] == "danger"
    assert att["title_link"] == f"{render.GRAFANA_URL}/d/tradewatch-risk"
    text = att["text"]
    assert text.count("KillSwitchActivated summary") == 2  # grouped alerts listed
    assert "value 42 (threshold 40)" in text
    assert "`case=t1 instance=t:9812 `" in text  # where, routing labels left out
    assert f"<{render.RUNBOOK_BASE}/KillSwitchActivated.md|Runbook>" in text
    assert "*Since:* " in text and " UTC" in text
    m = mail.wait_for(lambda m: "KillSwitchActivated" in m.subject, 30)
    assert m.subject == "[TradeWatch FIRING:2] KillSwitchActivated (critical, team trading)"
    assert m.envelope_to == ["trading-oncall@tradewatch.local"]
    assert "Runbook: " + f"{render.RUNBOOK_BASE}/KillSwitchActivated.md" in m.text
    assert f'<a href="{render.RUNBOOK_BASE}/KillSwitchActivated.md">Runbook</a>' in m.html
    # resolve both
    live_am.post(*alerts, ends_in=0)
    res = slack.wait_for(lambda p: "[RESOLVED] KillSwitchActivated" in p.text, 30)
    att = res.payload["attachments"][0]
    assert att["color"] == "good" and "*Resolved:*" in att["text"]
    mail.wait_for(lambda m: m.subject.startswith("[TradeWatch RESOLVED] KillSwitchActivated"), 30)


def test_quiet_hours_mute_warnings_not_critical(tmp_path, receivers):
    slack, mail = receivers
    am = LiveAM(tmp_path, slack, mail, location=night_zone())  # shipped quiet hours, it is night there
    try:
        am.post(
            _alert("SlippageHigh", "warning", "trading", "q1", venue="v"),
            _alert("DrawdownExcessive", "critical", "trading", "q2", account="main"),
        )
        slack.wait_for(lambda p: "DrawdownExcessive" in p.text, 30)
        time.sleep(4)  # two test-mode group intervals: the warning would have been sent by now
        assert not [p for p in slack.messages if "SlippageHigh" in p.text]
        assert "SlippageHigh/q1/warning" in am.alerts()
    finally:
        am.proc.stop()


def test_info_alerts_go_to_the_digest_mail_only(live_am, receivers):
    slack, mail = receivers
    live_am.post(
        _alert("FeatureDrift", "info", "ml", "d1", model="m", feature="volatility"),
        _alert("FeatureDrift", "info", "ml", "d2", model="m", feature="spread"),
    )
    digest = mail.wait_for(lambda m: "FeatureDrift" in m.subject, 30)
    assert digest.envelope_to == ["tradewatch-digest@tradewatch.local"]
    assert "feature=volatility" in digest.text and "feature=spread" in digest.text
    time.sleep(3)
    assert not [p for p in slack.messages if "FeatureDrift" in p.text]
