"""Grafana-managed alert rules on Loki (written to grafana/provisioning/alerting/log-rules.yml).

Prometheus cannot see log lines, so these alerts live in Grafana: a burst of error lines per
service, an exception storm (Python tracebacks), critical log patterns (order rejected by the venue,
authentication failure) and a kill switch engaging (the structured event the trading exporter logs).
Each rule is a Loki instant query, a reduce and a threshold expression (``__expr__``); labels
``severity`` and ``team`` route them through the same notification policy tree as Prometheus' alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradewatch.dashboards.common import DEFAULT_RUNBOOK_BASE, LOKI_UID, UIDS, docs_base
from tradewatch.trading.safetylog import KILL_SWITCH_ENGAGED

FOLDER = "Platform"
WINDOW_SECONDS = 300
# Levels from tradewatch.core.logging; Alloy promotes `level` and `service` to stream labels.
ERROR_LEVELS = "error|critical"
ERROR_BURST_LINES = 20  # error/critical lines per service in 5 m
EXCEPTION_STORM_LINES = 10  # tracebacks per service in 5 m


@dataclass(frozen=True)
class LogRule:
    uid: str
    title: str
    expr: str
    threshold: float
    severity: str
    team: str
    summary: str
    description: str
    runbook: str


RULES = (
    LogRule(
        "tw-log-error-burst",
        "LogErrorBurst",
        f'sum by (service) (count_over_time({{level=~"{ERROR_LEVELS}"}} [5m]))',
        ERROR_BURST_LINES,
        "warning",
        "platform",
        "Burst of error logs from {{ $labels.service }}",
        f"More than {ERROR_BURST_LINES} error/critical log lines in 5 minutes from one service.",
        "LogErrorBurst",
    ),
    LogRule(
        "tw-log-exception-storm",
        "LogExceptionStorm",
        'sum by (service) (count_over_time({service=~".+"} |= "Traceback (most recent call last)" [5m]))',
        EXCEPTION_STORM_LINES,
        "critical",
        "platform",
        "Exception storm in {{ $labels.service }}",
        f"More than {EXCEPTION_STORM_LINES} Python tracebacks in 5 minutes from one service.",
        "LogExceptionStorm",
    ),
    # The structured event the trading exporter logs when a kill switch engages
    # (tradewatch.trading.safetylog), matched as a field: a line that only mentions the word (an
    # unknown event type listing the known ones) pages nobody. The line filter only narrows the scan.
    LogRule(
        "tw-log-kill-switch",
        "LogKillSwitch",
        f'sum by (service) (count_over_time({{service=~".+"}} |= "{KILL_SWITCH_ENGAGED}" | json event'
        f' | event="{KILL_SWITCH_ENGAGED}" [5m]))',
        0,
        "critical",
        "trading",
        "Kill switch engaged ({{ $labels.service }} logs)",
        f'A log line with event="{KILL_SWITCH_ENGAGED}": a kill switch engaged and trading is halted on its account.',
        "LogKillSwitch",
    ),
    LogRule(
        "tw-log-venue-rejection",
        "LogOrderRejectedByVenue",
        'sum by (service) (count_over_time({level=~"warning|error|critical"}'
        ' |~ "(?i)order.*rejected.*(venue|exchange|broker)" [5m]))',
        0,
        "warning",
        "trading",
        "Venue rejected orders ({{ $labels.service }})",
        "A log line reports an order rejected by the venue/exchange/broker.",
        "LogOrderRejectedByVenue",
    ),
    LogRule(
        "tw-log-auth-failure",
        "LogAuthenticationFailure",
        'sum by (service) (count_over_time({service=~".+"}'
        ' |~ "(?i)(authentication fail|auth(entication)? error|unauthori[sz]ed|invalid (api[ _-]?key|token))"'
        " [5m]))",
        0,
        "critical",
        "platform",
        "Authentication failures in {{ $labels.service }}",
        "A log line reports an authentication failure (bad API key/token or unauthorized request).",
        "LogAuthenticationFailure",
    ),
)


def _rule(rule: LogRule, runbook_base: str) -> dict[str, Any]:
    expr_ds = {"type": "__expr__", "uid": "__expr__"}
    return {
        "uid": rule.uid,
        "title": rule.title,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "queryType": "instant",
                "relativeTimeRange": {"from": WINDOW_SECONDS, "to": 0},
                "datasourceUid": LOKI_UID,
                "model": {
                    "refId": "A",
                    "expr": rule.expr,
                    "queryType": "instant",
                    "editorMode": "code",
                    "datasource": {"type": "loki", "uid": LOKI_UID},
                },
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                    "settings": {"mode": "dropNN"},
                    "datasource": expr_ds,
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "datasource": expr_ds,
                    "conditions": [{"evaluator": {"type": "gt", "params": [rule.threshold]}}],
                },
            },
        ],
        "dashboardUid": UIDS["logs"],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": "0s" if rule.threshold == 0 else "2m",
        "annotations": {
            "summary": rule.summary,
            "description": rule.description,
            "runbook_url": f"{docs_base(runbook_base)}dashboards.md#{rule.runbook.lower()}",
        },
        "labels": {"severity": rule.severity, "team": rule.team, "source": "loki"},
        "isPaused": False,
    }


def rules_file(runbook_base: str = DEFAULT_RUNBOOK_BASE) -> dict[str, Any]:
    base = runbook_base
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "tradewatch-logs",
                "folder": FOLDER,
                "interval": "1m",
                "rules": [_rule(rule, base) for rule in RULES],
            }
        ],
    }
