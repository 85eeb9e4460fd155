"""Alert delivery as Alertmanager has loaded it: is the Watchdog's dead man's switch wired to a
heartbeat service, and does a critical alert page someone (PagerDuty, Opsgenie)?"""

from __future__ import annotations

from typing import Any

from tradewatch.alerting.amapi import integrations, routed_receivers
from tradewatch.doctor.checks import OK, WARN, Check

HEARTBEAT_DOC = "docs/alerting.md#dead-mans-switch"


def delivery_checks(config: dict[str, Any], mode: str) -> list[Check]:
    route = config.get("route") or {}
    watchdog = integrations(config, routed_receivers(route, {"alertname": "Watchdog", "severity": "info"}))
    if watchdog:
        where = ", ".join(sorted({f"{i.receiver} ({i.name})" for i in watchdog}))
        heartbeat = Check("alertmanager", "deadmans-switch", OK, f"the Watchdog pings {where}")
    else:
        how = (
            "write the ping URL to secrets/heartbeat_url (no trailing newline), then: "
            "docker compose restart alertmanager"
            if mode == "compose"
            else "`tradewatch dev` pings its local stand-in; `--secrets-dir DIR` with DIR/heartbeat_url pings yours"
        )
        heartbeat = Check(
            "alertmanager",
            "deadmans-switch",
            WARN,
            "dead man's switch not configured: nobody is told when Prometheus or Alertmanager stops",
            advice=f"{how}; see {HEARTBEAT_DOC}",
        )
    labels = {"alertname": "Any", "severity": "critical", "team": "trading"}
    critical = integrations(config, routed_receivers(route, labels))
    pagers = sorted({i.name for i in critical if i.name in ("pagerduty", "opsgenie")})
    if pagers:
        paging = Check("alertmanager", "paging", OK, f"critical alerts page through {', '.join(pagers)}")
    else:
        paging = Check(
            "alertmanager",
            "paging",
            WARN,
            "no paging channel: critical alerts go to " + (", ".join(sorted({i.name for i in critical})) or "nobody"),
            advice="write a PagerDuty routing key to secrets/pagerduty_routing_key or an Opsgenie API key to "
            "secrets/opsgenie_api_key; see docs/alerting.md#paging",
        )
    return [heartbeat, paging]
