"""Every channel through a real Alertmanager 0.25 on loopback into local stand-ins that answer like
the services: the request each service receives, field by field; critical pages, warning does
not; `tradewatch alert test` reaches Slack, e-mail and PagerDuty and resolves itself.
One Alertmanager for the module."""

from __future__ import annotations

import json
import time

import pytest
from tests.alertmanager.test_alertmanager import LiveAM, _alert

from tradewatch.cli import main
from tradewatch.devstack import render
from tradewatch.devstack.quiet import never_now
from tradewatch.devstack.receivers import MailCatcher, SlackReceiver
from tradewatch.devstack.standins import ServiceStandIn

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
OPSGENIE_KEY = "og-0000-test"
BOT_TOKEN = "123456:ABC-def_g"
CHAT_ID = "-1001234"


def _pagerduty(services: ServiceStandIn, action: str, alertname: str, timeout: float) -> dict:
    def match(r) -> bool:
        return r.channel == "pagerduty" and r.json["event_action"] == action and alertname in r.body.decode()

    return services.wait_for(match, timeout).json


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("channels")
    slack, mail, services = SlackReceiver().start(), MailCatcher().start(), ServiceStandIn().start()
    values = {
        "pagerduty_routing_key": ROUTING_KEY,
        "opsgenie_api_key": OPSGENIE_KEY,
        "telegram_bot_token": BOT_TOKEN,
        "telegram_chat_id": CHAT_ID,
        "alert_webhook_url": services.api_url("webhook"),
    }
    for name, value in values.items():
        (tmp / name).write_text(value)
    am = LiveAM(
        tmp,
        slack,
        mail,
        quiet_hours=never_now(),
        channel_secrets={name: str(tmp / name) for name in values},
        channel_api_urls={c: services.api_url(c) for c in ("pagerduty", "opsgenie", "telegram")},
    )
    yield am, slack, mail, services
    am.proc.stop()
    for r in (slack, mail, services):
        r.stop()


def test_each_service_gets_its_request_format_and_resolve(stack):
    am, _, _, services = stack
    alert = _alert("KillSwitchActivated", "critical", "trading", "fmt", instance="t:9812")
    am.post(alert)
    pd = services.wait_for(lambda r: r.channel == "pagerduty" and "KillSwitchActivated" in r.body.decode(), 20).json
    assert pd["routing_key"] == ROUTING_KEY and pd["event_action"] == "trigger"
    assert len(pd["dedup_key"]) == 64  # Alertmanager's hash of the group key
    payload = pd["payload"]
    assert payload["summary"] == "KillSwitchActivated (critical, team trading): KillSwitchActivated summary"
    assert payload["severity"] == "critical" and payload["source"] == "TradeWatch"
    assert (payload["class"], payload["component"], payload["group"]) == ("KillSwitchActivated", "trading", "trading")
    runbook = f"{render.RUNBOOK_BASE}/KillSwitchActivated.md"
    dashboard = f"{render.GRAFANA_URL}/d/tradewatch-risk"
    assert pd["links"] == [{"href": runbook, "text": "Runbook"}, {"href": dashboard, "text": "Dashboard"}]
    details = payload["custom_details"]
    assert details["runbook_url"] == runbook and details["test"] == "false" and details["num_firing"] == "1"
    assert pd["client"] == "TradeWatch" and pd["client_url"] == am.url

    og = services.wait_for(lambda r: r.path == "/opsgenie/v2/alerts" and "KillSwitchActivated" in r.body.decode(), 20)
    assert og.headers["authorization"] == f"GenieKey {OPSGENIE_KEY}"
    body = og.json
    assert body["alias"] == pd["dedup_key"] and body["priority"] == "P1" and body["source"] == "TradeWatch"
    assert body["message"] == payload["summary"]
    assert body["responders"] == [{"name": "trading", "type": "team"}]
    assert body["tags"] == ["tradewatch", "trading", "critical"]
    assert body["details"]["runbook_url"] == runbook and "Runbook: " + runbook in body["description"]

    tg = services.wait_for(lambda r: r.channel == "telegram" and "KillSwitchActivated" in r.body.decode(), 20)
    assert tg.path == f"/telegram/bot{BOT_TOKEN}/sendMessage"
    msg = tg.json
    assert msg["chat_id"] == CHAT_ID and msg["parse_mode"] == "HTML"
    assert msg["text"].startswith("<b>[FIRING:1] KillSwitchActivated (critical, team trading)</b>")
    assert f'<a href="{runbook}">Runbook</a>' in msg["text"]

    hook = services.wait_for(lambda r: r.channel == "webhook" and '"case":"fmt"' in r.body.decode(), 20).json
    assert hook["version"] == "4" and hook["status"] == "firing" and hook["receiver"] == "critical-trading"
    assert hook["alerts"][0]["labels"]["instance"] == "t:9812"

    am.post(alert, ends_in=0)
    resolve = _pagerduty(services, "resolve", "KillSwitchActivated", 20)
    assert resolve["dedup_key"] == pd["dedup_key"] and resolve["routing_key"] == ROUTING_KEY
    services.wait_for(lambda r: r.path == f"/opsgenie/v2/alerts/{pd['dedup_key']}/close", 20)
    services.wait_for(lambda r: r.channel == "webhook" and '"status":"resolved"' in r.body.decode(), 20)


def test_warning_goes_to_chat_not_to_the_pagers(stack):
    am, slack, _, services = stack
    am.post(_alert("SlippageHigh", "warning", "trading", "warn1", venue="v"))
    slack.wait_for(lambda p: "SlippageHigh" in p.text, 20)
    services.wait_for(lambda r: r.channel == "webhook" and '"case":"warn1"' in r.body.decode(), 20)
    services.wait_for(lambda r: r.channel == "telegram" and "SlippageHigh" in r.body.decode(), 20)
    time.sleep(1)
    paged = [
        r for r in services.messages if r.channel in ("pagerduty", "opsgenie") and "SlippageHigh" in r.body.decode()
    ]
    assert not paged


def test_alert_test_command_reports_every_receiver_and_resolves(stack, capsys):
    am, slack, mail, services = stack
    args = ["--severity", "critical", "--team", "trading", "--alertmanager-url", am.url, "--timeout", "20"]
    code = main(["alert", "test", *args, "--wait-resolved", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["ok"], result
    assert result["receivers"] == ["critical-trading"]
    got = {d["integration"]: d["status"] for d in result["deliveries"]}
    assert got == dict.fromkeys(["pagerduty", "opsgenie", "telegram", "webhook", "slack", "email"], "delivered")
    assert result["resolved"].startswith("resolved notices sent")
    # It is labelled a test wherever a person reads it, and the page resolves.
    assert slack.wait_for(lambda p: "TradeWatchTestAlert" in p.text, 5).title.startswith("[TEST] [FIRING:1]")
    assert mail.wait_for(lambda m: "TradeWatchTestAlert" in m.subject, 5).subject.startswith("[TEST] [TradeWatch")
    page = services.wait_for(lambda r: r.channel == "pagerduty" and "TradeWatchTestAlert" in r.body.decode(), 5).json
    assert page["payload"]["summary"].startswith("[TEST] TradeWatchTestAlert (critical, team trading): TEST ALERT")
    assert page["payload"]["custom_details"]["test"] == "true"
    resolve = _pagerduty(services, "resolve", "TradeWatchTestAlert", 10)
    assert resolve["dedup_key"] == page["dedup_key"]
    assert not [a for a in am.alerts().values() if a["labels"]["alertname"] == "TradeWatchTestAlert"]


def test_alert_test_reports_a_failing_channel(stack, capsys):
    """A service refusing the request is reported failed (exit 1), the others delivered."""
    am, _, _, services = stack
    services.failing.add("telegram")
    try:
        code = main(["alert", "test", "--severity", "warning", "--team", "data", "--alertmanager-url", am.url])
    finally:
        services.failing.discard("telegram")
    out = capsys.readouterr().out
    assert code == 1 and "routed to: warning-data" in out and "NOT OK" in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  warning-data")}
    assert set(lines) == {"slack", "telegram", "webhook"}
    assert " failed " in lines["telegram"] and " delivered " in lines["slack"] and " delivered " in lines["webhook"]
