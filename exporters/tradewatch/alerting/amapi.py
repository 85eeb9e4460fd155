"""Small HTTP clients for Alertmanager's API v2 and metrics and Prometheus' query API, and
Alertmanager's routing (which receivers an alert with these labels goes to) in Python."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


class ApiError(RuntimeError):
    """An API did not answer, or answered something unexpected; says which and why."""


def _request(url: str, body: Any = None, timeout: float = 10.0) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        raise ApiError(f"{url}: HTTP {exc.code}: {exc.read()[:300].decode(errors='replace')}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ApiError(f"{url}: {getattr(exc, 'reason', exc)}") from exc


def get_json(url: str, timeout: float = 10.0) -> Any:
    try:
        return json.loads(_request(url, timeout=timeout))
    except ValueError as exc:
        raise ApiError(f"{url}: not JSON: {exc}") from exc


def post_json(url: str, body: Any, timeout: float = 10.0) -> bytes:
    return _request(url, body, timeout)


# ------------------------------------------------------------------------------- Alertmanager


def am_config(am_url: str) -> dict[str, Any]:
    """The configuration Alertmanager has loaded (its /api/v2/status), parsed."""
    status = get_json(f"{am_url}/api/v2/status")
    try:
        return yaml.safe_load(status["config"]["original"]) or {}
    except (KeyError, TypeError, yaml.YAMLError) as exc:
        raise ApiError(f"{am_url}/api/v2/status: no readable config: {exc}") from exc


def am_alerts(am_url: str) -> list[dict[str, Any]]:
    return get_json(f"{am_url}/api/v2/alerts")


def post_alerts(am_url: str, alerts: list[dict[str, Any]]) -> None:
    post_json(f"{am_url}/api/v2/alerts", alerts)


NOTIFICATION_METRICS = (
    "alertmanager_notifications",  # notifications started (0.25: per integration)
    "alertmanager_notifications_failed",  # notifications given up on
    "alertmanager_notification_requests_failed",  # failed attempts (retried)
    "alertmanager_notification_latency_seconds",  # finished attempts (histogram _count)
)


def notification_counters(am_url: str) -> dict[tuple[str, str, str], float]:
    """(metric, integration, receiver or '') -> value, from Alertmanager's /metrics. Alertmanager
    0.25 labels these by integration only; newer releases add ``receiver_name``."""
    text = _request(f"{am_url}/metrics").decode()
    out: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in NOTIFICATION_METRICS:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") or sample.name.endswith("_sum") or sample.name.endswith("_created"):
                continue
            key = (family.name, sample.labels.get("integration", ""), sample.labels.get("receiver_name", ""))
            out[key] = out.get(key, 0.0) + sample.value
    return out


# ------------------------------------------------------------------------------- routing


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    found = _MATCHER.match(matcher)
    if not found:
        raise ApiError(f"cannot parse the matcher {matcher!r}")
    name, op, value = found.groups()
    have = labels.get(name, "")
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    hit = re.fullmatch(value, have) is not None
    return hit if op == "=~" else not hit


def _route_matches(route: dict[str, Any], labels: dict[str, str]) -> bool:
    matchers = list(route.get("matchers") or [])
    matchers += [f'{k}="{v}"' for k, v in (route.get("match") or {}).items()]
    matchers += [f'{k}=~"{v}"' for k, v in (route.get("match_re") or {}).items()]
    return all(_matches(m, labels) for m in matchers)


def routed(route: dict[str, Any], labels: dict[str, str]) -> list[dict[str, Any]]:
    """The routes Alertmanager's tree sends ``labels`` to (as `amtool config routes test`), each with
    its effective ``receiver``, ``group_wait`` and ``group_interval`` (inherited when unset)."""

    def walk(node: dict[str, Any], parent: dict[str, Any]) -> list[dict[str, Any]]:
        here = {k: node.get(k) or parent.get(k) for k in ("receiver", "group_wait", "group_interval")}
        found: list[dict[str, Any]] = []
        for child in node.get("routes") or []:
            if _route_matches(child, labels):
                found += walk(child, here)
                if not child.get("continue"):
                    break
        return found or [here]

    return walk(route, {"receiver": "", "group_wait": "30s", "group_interval": "5m"})


def routed_receivers(route: dict[str, Any], labels: dict[str, str]) -> list[str]:
    return [r["receiver"] for r in routed(route, labels)]


@dataclass(frozen=True)
class Integration:
    receiver: str
    name: str  # Alertmanager's integration name: slack, email, pagerduty, ...
    count: int  # configs of that kind in the receiver


def integrations(config: dict[str, Any], receivers: Iterable[str]) -> list[Integration]:
    by_name = {r["name"]: r for r in config.get("receivers") or []}
    out = []
    for name in receivers:
        for key, value in (by_name.get(name) or {}).items():
            if key.endswith("_configs") and value:
                out.append(Integration(name, key.removesuffix("_configs"), len(value)))
    return out


# ------------------------------------------------------------------------------- Prometheus


def prom_query_range(prom_url: str, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": f"{step:g}"})
    data = get_json(f"{prom_url}/api/v1/query_range?{params}", timeout=30)
    if data.get("status") != "success":
        raise ApiError(f"{prom_url}: query failed: {data.get('error')}")
    return data["data"]["result"]
