"""``tradewatch alert test``: a synthetic alert, labelled as a test, sent through Alertmanager to
every receiver its labels route to; waits for the deliveries Alertmanager reports and resolves it.

What is observed: Alertmanager's own notification counters (``alertmanager_notifications_total``,
``..._notification_requests_failed_total``, ``..._notification_latency_seconds_count``). Alertmanager
0.25 labels them by integration only, so another notification of the same integration sent during
the test is counted too (newer releases add ``receiver_name`` with
``--enable-feature=receiver-name-in-metrics``; used when present). Whether the far end shows
the message (the Slack channel, the PagerDuty incident) is for the person running the test to see:
every template puts ``[TEST]`` first for alerts labelled ``tradewatch_test="true"``.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tradewatch.alerting import amapi

ALERT_NAME = "TradeWatchTestAlert"
TEST_LABEL = "tradewatch_test"
DOCS_URL = "http://127.0.0.1:8026/docs/alerting.md#test-alerts"


@dataclass
class Delivery:
    receiver: str
    integration: str
    status: str = "pending"  # delivered | failed | no attempt observed
    detail: str = ""
    seconds: float | None = None


@dataclass
class AlertTestResult:
    labels: dict[str, str]
    receivers: list[str]
    deliveries: list[Delivery] = field(default_factory=list)
    resolved: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.deliveries) and all(d.status == "delivered" for d in self.deliveries)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def synthetic_alert(severity: str, team: str, test_id: str | None = None) -> dict[str, Any]:
    """The synthetic alert (API v2 body item, without times)."""
    test_id = test_id or uuid.uuid4().hex[:8]
    return {
        "labels": {
            "alertname": ALERT_NAME,
            "severity": severity,
            "team": team,
            TEST_LABEL: "true",
            "test_id": test_id,
        },
        "annotations": {
            "summary": f"TEST ALERT ({severity}, team {team}) sent by `tradewatch alert test`: no action needed",
            "description": "A synthetic alert checking that notifications reach this channel. "
            "It resolves itself within a minute.",
            "runbook_url": DOCS_URL,
            "dashboard_url": DOCS_URL,
        },
        "generatorURL": DOCS_URL,
    }


def _post(am_url: str, alert: dict[str, Any], ends_in: float) -> None:
    now = datetime.now(UTC)
    body = {**alert, "startsAt": now.isoformat(), "endsAt": (now + timedelta(seconds=ends_in)).isoformat()}
    amapi.post_alerts(am_url, [body])


def _seconds(text: str) -> float:
    """A Prometheus duration ("5s", "1m30s", "1h") in seconds; 30 s when unreadable."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return 30.0
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * unit[u] for n, u in parts)


def _delta(now: dict, before: dict, metric: str, d: Delivery, by_receiver: bool) -> float:
    key = (metric, d.integration, d.receiver if by_receiver else "")
    return now.get(key, 0.0) - before.get(key, 0.0)


def run(
    am_url: str,
    severity: str = "critical",
    team: str = "platform",
    timeout: float | None = None,
    wait_resolved: bool = False,
    poll: float = 0.5,
) -> AlertTestResult:
    """Send the test alert, wait for its deliveries (``timeout``; by default the routes' group_wait
    plus 30 s), resolve it."""
    config = amapi.am_config(am_url)
    alert = synthetic_alert(severity, team)
    routes = amapi.routed(config.get("route") or {}, alert["labels"])
    receivers = [r["receiver"] for r in routes]
    # Alertmanager sends the first notice after group_wait, the resolved one at the next group_interval.
    resolve_timeout = max(_seconds(str(r["group_interval"])) for r in routes) + 30.0
    if timeout is None:
        timeout = max(_seconds(str(r["group_wait"])) for r in routes) + 30.0
    result = AlertTestResult(alert["labels"], receivers)
    expected = amapi.integrations(config, receivers)
    result.deliveries = [Delivery(i.receiver, i.name) for i in expected]
    counts = {(i.receiver, i.name): i.count for i in expected}
    before = amapi.notification_counters(am_url)
    by_receiver = any(k[2] for k in before)
    started = time.monotonic()
    _post(am_url, alert, ends_in=max(300.0, timeout * 2))
    try:
        _wait(am_url, result.deliveries, counts, before, by_receiver, started, timeout, poll)
    finally:
        _post(am_url, alert, ends_in=0)  # resolves it even when interrupted
    if wait_resolved and result.deliveries:
        result.resolved = _wait_resolved(am_url, result.deliveries, counts, by_receiver, resolve_timeout, poll)
    else:
        result.resolved = "resolve sent: Alertmanager sends the resolved notice after the route's group_interval"
    return result


def _wait(
    am_url: str,
    deliveries: list[Delivery],
    counts: dict[tuple[str, str], int],
    before: dict,
    by_receiver: bool,
    started: float,
    timeout: float,
    poll: float,
) -> None:
    # Without receiver labels, several receivers with the same integration share its counters.
    per_integration: dict[str, int] = {}
    for d in deliveries:
        key = d.receiver if by_receiver else ""
        per_integration[d.integration + "/" + key] = (
            per_integration.get(d.integration + "/" + key, 0) + counts[(d.receiver, d.integration)]
        )
    while True:
        now = amapi.notification_counters(am_url)
        for d in deliveries:
            if d.status != "pending":
                continue
            need = per_integration[d.integration + "/" + (d.receiver if by_receiver else "")]
            sent = _delta(now, before, "alertmanager_notifications", d, by_receiver)
            done = _delta(now, before, "alertmanager_notification_latency_seconds", d, by_receiver)
            failed = _delta(now, before, "alertmanager_notification_requests_failed", d, by_receiver)
            if failed > 0:
                d.status, d.detail = "failed", f"{failed:g} failed request(s): see Alertmanager's log"
                d.seconds = round(time.monotonic() - started, 2)
            elif sent >= need and done >= need:
                d.status, d.seconds = "delivered", round(time.monotonic() - started, 2)
        if all(d.status != "pending" for d in deliveries):
            return
        if time.monotonic() - started > timeout:
            for d in deliveries:
                if d.status == "pending":
                    d.status = "no attempt observed"
                    d.detail = f"nothing sent within {timeout:.0f}s (muted, silenced or inhibited?)"
            return
        time.sleep(poll)


def _wait_resolved(
    am_url: str,
    deliveries: list[Delivery],
    counts: dict[tuple[str, str], int],
    by_receiver: bool,
    timeout: float,
    poll: float,
) -> str:
    before = amapi.notification_counters(am_url)
    delivered = [d for d in deliveries if d.status == "delivered"]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = amapi.notification_counters(am_url)
        if all(_delta(now, before, "alertmanager_notifications", d, by_receiver) > 0 for d in delivered):
            return f"resolved notices sent after {time.monotonic() - started:.1f}s"
        time.sleep(poll)
    return f"no resolved notice observed within {timeout:.0f}s"


def render_text(result: AlertTestResult) -> str:
    labels = " ".join(f"{k}={v}" for k, v in result.labels.items())
    lines = [f"test alert {labels}", f"routed to: {', '.join(result.receivers) or 'nothing'}"]
    if not result.deliveries:
        lines.append("no integration: the routed receivers send nothing (no channel configured?)")
    for d in result.deliveries:
        took = f" after {d.seconds:.1f}s" if d.seconds is not None else ""
        detail = f" ({d.detail})" if d.detail else ""
        lines.append(f"  {d.receiver:<20} {d.integration:<10} {d.status}{took}{detail}")
    lines.append(result.resolved)
    lines.append("OK: every integration delivered" if result.ok else "NOT OK: see above")
    return "\n".join(lines)
