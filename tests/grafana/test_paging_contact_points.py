"""Grafana's paging contact points mirror Alertmanager's channels: PagerDuty and Opsgenie on the
critical receivers only, the webhook on critical and warning; grafana/entrypoint.sh hands them the
secrets, or an inert local URL when a secret is empty (nothing leaves the host)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_paging_integrations_follow_the_alertmanager_receivers():
    doc = yaml.safe_load((ROOT / "grafana" / "provisioning" / "alerting" / "notifications.yml").read_text())
    kinds = {cp["name"]: {r["type"] for r in cp["receivers"]} for cp in doc["contactPoints"]}
    for name, types in kinds.items():
        assert ("pagerduty" in types) == ("opsgenie" in types) == name.startswith("critical-"), name
        assert ("webhook" in types) == name.startswith(("critical-", "warning-")), name
        assert "telegram" not in types
    pd = next(r for cp in doc["contactPoints"] for r in cp["receivers"] if r["type"] == "pagerduty")
    assert pd["settings"]["integrationKey"] == "$__env{TRADEWATCH_PAGERDUTY_ROUTING_KEY}"
    assert pd["settings"]["url"] == "$__env{TRADEWATCH_PAGERDUTY_URL}" and pd["disableResolveMessage"] is False


def test_entrypoint_exports_secrets_or_inert_values(tmp_path):
    script = (ROOT / "grafana" / "entrypoint.sh").read_text()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    run_sh = tmp_path / "run.sh"
    run_sh.write_text(
        '#!/bin/sh\necho "$TRADEWATCH_PAGERDUTY_ROUTING_KEY $TRADEWATCH_PAGERDUTY_URL '
        '$TRADEWATCH_OPSGENIE_API_URL $TRADEWATCH_ALERT_WEBHOOK_URL"\n'
    )
    run_sh.chmod(0o755)
    patched = script.replace("/run/secrets/", f"{secrets}/").replace("/run.sh", str(run_sh))
    out = subprocess.run(["sh", "-c", patched], capture_output=True, text=True, check=True).stdout.split()
    inert = "http://127.0.0.1:9/not-configured"
    assert out == ["not-configured", inert, inert, inert]
    (secrets / "pagerduty_routing_key").write_text("key123\n")
    (secrets / "alert_webhook_url").write_text("https://hooks.example.com/x")
    out = subprocess.run(["sh", "-c", patched], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["key123", "https://events.pagerduty.com/v2/enqueue", inert, "https://hooks.example.com/x"]
