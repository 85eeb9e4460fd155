"""Grafana contact points, notification policies and mute timings mirrored from Alertmanager.

Grafana's own (log) alerts must reach the same people, with the same grouping, timings and quiet
hours as Prometheus' alerts. Rather than maintain two routing trees by hand, this module converts
alertmanager/alertmanager.yml into Grafana's alerting file-provisioning format
(grafana/provisioning/alerting/notifications.yml); tests/grafana/ compare the two independently.

Differences that cannot be mirrored: the Watchdog's dead man's switch (heartbeat) has no Grafana
equivalent and its route is left out; Telegram is left out of Grafana (its Telegram integration
has no API URL setting, so with no secret it could not be pointed at an inert local port like the
others and would call api.telegram.org with a dummy token); Grafana does not expand variables in
mute timings, so the quiet-hours time zone is the one in alertmanager.yml.

Secrets stay files: every secret-bearing setting is ``$__file{...}`` (Grafana expands it in
provisioning values, trimming whitespace) of a path under :data:`SECRETS_DIR`, where
grafana/entrypoint.sh links each non-empty secret of /run/secrets (no copy, never an environment
variable) or writes an inert value for an empty one: a closed local port for URLs, so nothing leaves
the host. The indirection exists because ``$__file`` has no default and Grafana refuses a contact
point with an empty URL or key, while an empty secret means "not configured" here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tradewatch.dashboards.thresholds import REPO_ROOT

ALERTMANAGER_FILE = REPO_ROOT / "alertmanager" / "alertmanager.yml"
#: Filled by grafana/entrypoint.sh (a symlink to /run/secrets/NAME, or an inert value).
SECRETS_DIR = "/tmp/tradewatch-secrets"


def secret_file(name: str) -> str:
    """The provisioning value Grafana replaces with the content of SECRETS_DIR/name."""
    return "$__file{" + f"{SECRETS_DIR}/{name}" + "}"


SLACK_URL = secret_file("slack_webhook_url")
PAGERDUTY_KEY = secret_file("pagerduty_routing_key")
PAGERDUTY_URL = secret_file("pagerduty_url")  # the Events API, or inert without a routing key
OPSGENIE_KEY = secret_file("opsgenie_api_key")
OPSGENIE_URL = secret_file("opsgenie_api_url")
WEBHOOK_URL = secret_file("alert_webhook_url")
TEMPLATE_NAME = "tradewatch"
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
_TIMINGS = ("group_wait", "group_interval", "repeat_interval")

# Message templates, kept in a YAML file next to this module (package data).
TEMPLATES_FILE = Path(__file__).with_name("notification_templates.yml")


def parse_matcher(text: str) -> list[str]:
    """'severity="critical"' -> ['severity', '=', 'critical'] (Grafana's object_matchers form)."""
    found = _MATCHER.match(text)
    if not found:
        raise ValueError(f"cannot parse Alertmanager matcher {text!r}")
    return [found.group(1), found.group(2), found.group(3)]


def _contact_point(receiver: dict[str, Any]) -> dict[str, Any] | None:
    name = receiver["name"]
    integrations: list[dict[str, Any]] = []
    for slack in receiver.get("slack_configs") or []:
        integrations.append(
            {
                "uid": f"{name}-slack",
                "type": "slack",
                "settings": {
                    "url": SLACK_URL,
                    "username": slack.get("username", "TradeWatch"),
                    "title": '{{ template "tradewatch.title" . }}',
                    "text": '{{ template "tradewatch.text" . }}',
                },
                "disableResolveMessage": not slack.get("send_resolved", True),
            }
        )
    for email in receiver.get("email_configs") or []:
        integrations.append(
            {
                "uid": f"{name}-email",
                "type": "email",
                "settings": {
                    "addresses": email["to"],
                    "singleEmail": True,
                    "subject": '{{ template "tradewatch.title" . }}',
                    "message": '{{ template "tradewatch.text" . }}',
                },
                "disableResolveMessage": not email.get("send_resolved", True),
            }
        )
    integrations += _paging_integrations(receiver)
    if not integrations:
        return None
    return {"orgId": 1, "name": name, "receivers": integrations}


def _paging_integrations(receiver: dict[str, Any]) -> list[dict[str, Any]]:
    """PagerDuty, Opsgenie and the generic webhook, where the Alertmanager receiver has them."""
    from tradewatch.devstack.channels import channel_of

    name = receiver["name"]
    title = '{{ template "tradewatch.title" . }}'
    settings_of = {
        "pagerduty": {
            "integrationKey": PAGERDUTY_KEY,
            "url": PAGERDUTY_URL,
            "severity": "critical",
            "class": "{{ .CommonLabels.alertname }}",
            "component": "{{ .CommonLabels.team }}",
            "group": "{{ .CommonLabels.team }}",
            "summary": title,
            "client": "TradeWatch Grafana",
        },
        "opsgenie": {
            "apiKey": OPSGENIE_KEY,
            "apiUrl": OPSGENIE_URL,
            "message": title,
            "description": '{{ template "tradewatch.text" . }}',
            "autoClose": True,
            "sendTagsAs": "tags",
        },
        "webhook": {"url": WEBHOOK_URL, "httpMethod": "POST"},
    }
    out = []
    for key, configs in receiver.items():
        channel = channel_of(key, configs)
        if channel is None or channel.name not in settings_of:
            continue
        out.append(
            {
                "uid": f"{name}-{channel.name}",
                "type": channel.name,
                "settings": settings_of[channel.name],
                "disableResolveMessage": not configs[0].get("send_resolved", True),
            }
        )
    return out


def _route(route: dict[str, Any], deliverable: set[str]) -> dict[str, Any] | None:
    if route["receiver"] not in deliverable:
        return None
    out: dict[str, Any] = {"receiver": route["receiver"]}
    if route.get("matchers"):
        out["object_matchers"] = [parse_matcher(m) for m in route["matchers"]]
    if route.get("group_by"):
        out["group_by"] = list(route["group_by"])
    for key in _TIMINGS:
        if key in route:
            out[key] = route[key]
    if route.get("mute_time_intervals"):
        out["mute_time_intervals"] = list(route["mute_time_intervals"])
    if route.get("continue"):
        out["continue"] = True
    children = [c for c in (_route(r, deliverable) for r in route.get("routes") or []) if c]
    if children:
        out["routes"] = children
    return out


def notifications_file(alertmanager_file: Path = ALERTMANAGER_FILE) -> dict[str, Any]:
    config = yaml.safe_load(alertmanager_file.read_text(encoding="utf-8"))
    contact_points = [cp for cp in (_contact_point(r) for r in config["receivers"]) if cp]
    deliverable = {cp["name"] for cp in contact_points}
    policy = _route(config["route"], deliverable)
    if policy is None:
        raise ValueError("the root route's receiver has no Slack or e-mail integration")
    templates = yaml.safe_load(TEMPLATES_FILE.read_text(encoding="utf-8"))["template"]
    intervals = config.get("time_intervals") or config.get("mute_time_intervals") or []
    return {
        "apiVersion": 1,
        "templates": [{"orgId": 1, "name": TEMPLATE_NAME, "template": templates}],
        "contactPoints": contact_points,
        "muteTimes": [{"orgId": 1, "name": i["name"], "time_intervals": i["time_intervals"]} for i in intervals],
        "policies": [{"orgId": 1, **policy}],
    }
