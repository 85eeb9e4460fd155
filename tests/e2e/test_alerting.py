"""Alerting end to end: simulator/exporter -> Prometheus rules -> Alertmanager -> Slack and e-mail.

The tests run in file order against one stack (tests/e2e/conftest.py); each waits for what it needs.
"""

from __future__ import annotations

import re
import time

import pytest
from tests.e2e.conftest import NIGHT_FROM, event

from tradewatch.devstack import render
from tradewatch.devstack.receivers import Mail, SlackPost

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DELIVERY_TIMEOUT = 90


def runbook(stack, alertname: str) -> str:
    """The runbook link the stack renders: its own docs page unless TRADEWATCH_RUNBOOK_URL says otherwise."""
    return f"{render.runbook_base(default=f'{stack.slack.url}/docs/runbooks')}/{alertname}.md"


def slack_about(alertname: str, status: str = "firing", path: str = "/day"):
    def match(post: SlackPost) -> bool:
        att = (post.payload.get("attachments") or [{}])[0]
        return (
            post.path == path
            and f"] {alertname} (" in att.get("title", "")
            and att.get("title", "").startswith(f"[{status.upper()}")
        )

    return match


def mail_about(alertname: str, to: str, status: str = "firing", night: bool = False):
    def match(mail: Mail) -> bool:
        return (
            to in mail.envelope_to
            and f"] {alertname} (" in mail.subject
            and mail.subject.startswith(f"[TradeWatch {status.upper()}")
            and (str(mail.message["From"]) == NIGHT_FROM) == night
        )

    return match


def firing(stack, alertname: str) -> list[dict]:
    return [a for a in stack.prometheus_alerts() if a["labels"]["alertname"] == alertname and a["state"] == "firing"]


def wait_firing(stack, alertname: str, timeout: float = DELIVERY_TIMEOUT) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not (found := firing(stack, alertname)):
        if time.monotonic() > deadline:
            states = [(a["labels"]["alertname"], a["state"]) for a in stack.prometheus_alerts()]
            raise TimeoutError(f"{alertname} not firing after {timeout}s: {states}")
        time.sleep(0.5)
    return found


def wait_am(stack, predicate, timeout: float = 30) -> dict:
    """The first alert in the (day) Alertmanager matching ``predicate``."""
    deadline = time.monotonic() + timeout
    while True:
        found = [a for a in stack.alertmanager_alerts() if predicate(a)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, "alert never reached Alertmanager"
        time.sleep(0.5)


def test_stack_is_up_and_evaluating(stack):
    assert all(stack.targets_up().values())
    rules = stack._get_json(f"{stack.prometheus_url}/api/v1/rules")["data"]["groups"]
    assert {g["name"] for g in rules} >= {"tradewatch-trading", "tradewatch-stack", "tradewatch-model"}
    assert all(r.get("health") == "ok" for g in rules for r in g["rules"]), "a rule fails to evaluate"
    # the Watchdog is routed to the dead man's switch receiver, never to Slack
    wait_firing(stack, "Watchdog")
    assert not any("Watchdog" in p.text for p in stack.slack.messages)


def test_flash_crash_pages_drawdown_and_kill_switch_and_inhibits_rejections(stack):
    # Rejections for a strategy of our own, so OrderRejectionRateHigh is certain to fire during the
    # kill switch, whatever the simulator's own order flow does.
    stack.start_simulator(
        "flash-crash", "--warmup", "3", "--incident", "30", "--rate", "4", "--speed", "10", "--seed", "7"
    )
    kill = stack.slack.wait_for(slack_about("KillSwitchActivated"), DELIVERY_TIMEOUT)
    att = kill.payload["attachments"][0]
    assert att["color"] == "danger"
    assert "(critical, team trading)" in att["title"]
    assert runbook(stack, "KillSwitchActivated") in att["text"]
    assert "http://localhost:3000/d/tradewatch-risk" in att["text"]
    assert "value 1, threshold: active = 1" in att["text"]
    assert "*Since:*" in att["text"]

    dd = stack.slack.wait_for(slack_about("DrawdownExcessive"), DELIVERY_TIMEOUT)
    text = dd.payload["attachments"][0]["text"]
    m = re.search(r"Account (\S+) is ([0-9.]+)% below its high-water mark, at or above the threshold of 10%", text)
    assert m, text
    assert f"account={m.group(1)}" in text
    assert float(m.group(2)) >= 10.0
    assert dd.payload["attachments"][0]["title_link"] == "http://localhost:3000/d/tradewatch-risk"

    # the loss is also over the daily limit (5000 of the 100k balance): breached pages, "near" is inhibited
    loss = stack.slack.wait_for(slack_about("DailyLossLimitBreached"), DELIVERY_TIMEOUT)
    assert "of its daily loss limit (threshold 100% of the limit)" in loss.payload["attachments"][0]["text"]
    wait_firing(stack, "DailyLossNearLimit")
    near = wait_am(stack, lambda a: a["labels"]["alertname"] == "DailyLossNearLimit")
    assert near["status"]["inhibitedBy"], near["status"]

    mail = stack.mail.wait_for(mail_about("KillSwitchActivated", "trading-oncall@tradewatch.local"), DELIVERY_TIMEOUT)
    assert runbook(stack, "KillSwitchActivated") in mail.text
    assert 'href="http://localhost:3000/d/tradewatch-risk"' in mail.html
    stack.mail.wait_for(mail_about("DrawdownExcessive", "trading-oncall@tradewatch.local"), DELIVERY_TIMEOUT)

    # Inhibition: order rejections while the kill switch is engaged are expected, not paged.
    assert firing(stack, "KillSwitchActivated"), "kill switch must still be active for this check"

    def rejections(first: int, count: int) -> list[dict]:
        out = []
        for i in range(first, first + count):
            oid = f"e2e-inhibit-{i}"
            out += [
                event(
                    "order_submitted",
                    order_id=oid,
                    symbol="BTCUSDT",
                    side="buy",
                    order_type="market",
                    quantity=1,
                    reference_price=100.0,
                    strategy="e2e-inhibit",
                ),
                event("order_rejected", order_id=oid, reason="kill_switch", strategy="e2e-inhibit"),
            ]
        return out

    # two batches: rate() needs the series to exist before it increases
    assert stack.post_events("trading", rejections(0, 1)).get("accepted") == 2
    time.sleep(3)
    answer = stack.post_events("trading", rejections(1, 20))
    assert answer.get("accepted") == 40, answer
    wait_firing(stack, "OrderRejectionRateHigh")
    am = wait_am(
        stack,
        lambda a: a["labels"]["alertname"] == "OrderRejectionRateHigh" and a["labels"].get("strategy") == "e2e-inhibit",
    )
    assert am["status"]["state"] == "suppressed"
    assert am["status"]["inhibitedBy"], am["status"]
    time.sleep(5)  # longer than the test-mode group_wait: it would have been sent by now
    assert not any(slack_about("OrderRejectionRateHigh")(p) and "e2e-inhibit" in p.text for p in stack.slack.messages)


def test_exchange_outage_pages_circuit_breaker_and_stale_data_then_resolves(stack):
    stack.start_simulator(
        "exchange-outage", "--warmup", "3", "--incident", "25", "--rate", "4", "--speed", "10", "--seed", "11"
    )
    cb = stack.slack.wait_for(slack_about("CircuitBreakerOpen"), DELIVERY_TIMEOUT)
    text = cb.payload["attachments"][0]["text"]
    assert "component=exchange-api" in text and "service=exchange-api" in text
    assert runbook(stack, "CircuitBreakerOpen") in text
    breaker_since = {a["activeAt"] for a in firing(stack, "CircuitBreakerOpen")}
    # the feed reports `down` while its heartbeats keep arriving: ComponentDown pages for it
    down = wait_firing(stack, "ComponentDown")
    assert {a["labels"]["component"] for a in down} >= {"market-data-feed"}, down
    stack.slack.wait_for(lambda p: slack_about("ComponentDown")(p) and "market-data-feed" in p.text, DELIVERY_TIMEOUT)
    stale = stack.slack.wait_for(slack_about("MarketDataStale"), DELIVERY_TIMEOUT)
    assert "symbol=" in stale.payload["attachments"][0]["text"]
    assert "threshold of 10 s" in stale.payload["attachments"][0]["text"]
    stack.mail.wait_for(mail_about("MarketDataStale", "data-oncall@tradewatch.local"), DELIVERY_TIMEOUT)
    # recovery: the incident ends, the venue answers again, the breaker closes, ticks resume.
    # Until then the breaker cycles open -> half_open -> open: one alert, never re-activated.
    deadline = time.monotonic() + 120
    while not any(slack_about("CircuitBreakerOpen", "resolved")(p) for p in stack.slack.messages):
        breaker_since |= {
            a["activeAt"] for a in stack.prometheus_alerts() if a["labels"]["alertname"] == "CircuitBreakerOpen"
        }
        assert time.monotonic() < deadline, "CircuitBreakerOpen never resolved"
        time.sleep(0.5)
    assert len(breaker_since) == 1, f"CircuitBreakerOpen re-activated: {sorted(breaker_since)}"
    assert sum(slack_about("CircuitBreakerOpen")(p) for p in stack.slack.messages) == 1
    resolved = stack.slack.wait_for(slack_about("CircuitBreakerOpen", "resolved"), 120)
    assert resolved.payload["attachments"][0]["color"] == "good"
    assert "*Resolved:*" in resolved.payload["attachments"][0]["text"]
    stack.slack.wait_for(slack_about("MarketDataStale", "resolved"), 120)
    stack.mail.wait_for(mail_about("MarketDataStale", "data-oncall@tradewatch.local", "resolved"), 60)


def test_stopping_an_exporter_pages_exporter_down_and_restart_resolves(stack):
    stack.stop_exporter("model")
    try:
        post = stack.slack.wait_for(slack_about("ExporterDown"), DELIVERY_TIMEOUT)
        assert "Exporter model-exporter is down" in post.payload["attachments"][0]["text"]
        stack.mail.wait_for(mail_about("ExporterDown", "platform-oncall@tradewatch.local"), DELIVERY_TIMEOUT)
    finally:
        stack.start_exporter("model")
    stack.slack.wait_for(slack_about("ExporterDown", "resolved"), DELIVERY_TIMEOUT)


def test_warnings_delivered_by_day(stack):
    stack.post_events("trading", [event("position_limit", symbol="E2EUSDT", usage_ratio=0.97)])
    post = stack.slack.wait_for(slack_about("PositionLimitUsageHigh"), DELIVERY_TIMEOUT)
    att = post.payload["attachments"][0]
    assert att["color"] == "warning" and "symbol=E2EUSDT" in att["text"]
    assert "uses 97% of its limit (threshold 90%)" in att["text"]


def test_at_night_only_critical_alerts_are_delivered(stack):
    # The night Alertmanager got the same alerts as the day one, all through the tests above.
    night = [p for p in stack.slack.messages if p.path == "/night"]
    titles = [p.payload["attachments"][0]["title"] for p in night]
    assert any("] KillSwitchActivated (critical" in t for t in titles), titles
    assert all("(critical, " in t for t in titles), titles
    day_warnings = [p for p in stack.slack.messages if p.path == "/day" and "(warning, " in p.text]
    assert day_warnings, "the day Alertmanager must have delivered warnings for this test to mean anything"
    night_mail = [m for m in stack.mail.messages if str(m.message["From"]) == NIGHT_FROM]
    assert night_mail and all("(critical, " in m.subject for m in night_mail)
    # and the muted warning is there in the night Alertmanager, just not sent
    am = [a for a in stack.alertmanager_alerts("night") if a["labels"]["alertname"] == "PositionLimitUsageHigh"]
    assert am, "PositionLimitUsageHigh should be active in the night Alertmanager too"
