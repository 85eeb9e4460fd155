"""`tradewatch doctor` on alert delivery: the dead man's switch and paging, from the loaded config."""

from __future__ import annotations

from pathlib import Path

import yaml

from tradewatch.doctor.checks import OK, WARN
from tradewatch.doctor.delivery import delivery_checks

AM = Path(__file__).resolve().parents[2] / "alertmanager"


def _checks(name: str, mode: str = "compose") -> dict[str, object]:
    config = yaml.safe_load((AM / name).read_text())
    return {c.name: c for c in delivery_checks(config, mode)}


def test_no_heartbeat_and_no_pager_are_warnings_that_say_what_to_do():
    checks = _checks("alertmanager.email-only.yml")
    heartbeat, paging = checks["deadmans-switch"], checks["paging"]
    assert heartbeat.status == WARN and "dead man's switch not configured" in heartbeat.summary
    assert "secrets/heartbeat_url" in heartbeat.advice and "docs/alerting.md#dead-mans-switch" in heartbeat.advice
    assert paging.status == WARN and paging.summary == "no paging channel: critical alerts go to email"
    assert "--secrets-dir" in _checks("alertmanager.email-only.yml", "dev")["deadmans-switch"].advice


def test_configured_heartbeat_and_pagers_are_ok():
    checks = _checks("alertmanager.channels.yml")
    assert checks["deadmans-switch"].status == OK
    assert checks["deadmans-switch"].summary == "the Watchdog pings deadmans-switch (webhook)"
    assert (
        checks["paging"].status == OK and checks["paging"].summary == "critical alerts page through opsgenie, pagerduty"
    )
