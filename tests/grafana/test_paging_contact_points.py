"""Grafana's paging contact points mirror Alertmanager's channels: PagerDuty and Opsgenie on the
critical receivers only, the webhook on critical and warning. Secrets stay files: the provisioning
file reads them with ``$__file{...}`` from the directory grafana/entrypoint.sh fills (a link to the
secret, or an inert value when it is empty, so nothing leaves the host)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tradewatch.dashboards.notifications import SECRETS_DIR

ROOT = Path(__file__).resolve().parents[2]
INERT = "http://127.0.0.1:9/not-configured"
SECRETS = ("slack_webhook_url", "pagerduty_routing_key", "opsgenie_api_key", "alert_webhook_url")
# Grafana's provisioning interpolation (pkg/services/provisioning/values: setting.ExpandVar, then
# os.ExpandEnv), applied to every string of a contact point's settings: the expander pattern of
# pkg/setting/expanders.go, env expander first, then the file expander (os.Stat first, so a missing
# file is an error that stops provisioning; the content trimmed of whitespace).
_EXPANDER = re.compile(r"\$(|__\w+){([^}]+)}")
_GO_ENV = re.compile(r"\$(\w+|\{[^}]*\})")


def _grafana_expand(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _grafana_expand(v, env) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    readers = {"": env.get, "__env": env.get, "__file": lambda path: Path(path).read_text().strip()}
    for kinds in (("", "__env"), ("__file",)):

        def expand(m: re.Match, kinds: tuple[str, ...] = kinds) -> str:
            return (readers[m.group(1)](m.group(2)) or "") if m.group(1) in kinds else m.group(0)

        value = _EXPANDER.sub(expand, value)
    return _GO_ENV.sub(lambda m: env.get(m.group(1).strip("{}"), ""), value)


def _start(tmp_path: Path, secrets: dict[str, str]) -> tuple[dict[str, dict[str, Any]], str]:
    """Run the entrypoint (its paths moved under tmp_path), then expand the provisioned settings as
    Grafana would: {integration uid: settings}, and the environment Grafana was started with."""
    src, out = tmp_path / "secrets", tmp_path / "tw-secrets"
    src.mkdir(exist_ok=True)
    for name in SECRETS:
        (src / name).write_text(secrets.get(name, ""))  # compose mounts every secret, empty when unset
    run_sh = tmp_path / "run.sh"
    run_sh.write_text("#!/bin/sh\nenv\n")
    run_sh.chmod(0o755)
    script = (ROOT / "grafana" / "entrypoint.sh").read_text()
    patched = script.replace("/run/secrets", str(src)).replace(SECRETS_DIR, str(out)).replace("/run.sh", str(run_sh))
    res = subprocess.run(
        ["sh", "-c", patched], capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]}
    )
    text = (ROOT / "grafana" / "provisioning" / "alerting" / "notifications.yml").read_text()
    doc = yaml.safe_load(text.replace(SECRETS_DIR, str(out)))
    settings = {r["uid"]: _grafana_expand(r["settings"], {}) for cp in doc["contactPoints"] for r in cp["receivers"]}
    return settings, res.stdout


def test_paging_integrations_follow_the_alertmanager_receivers():
    doc = yaml.safe_load((ROOT / "grafana" / "provisioning" / "alerting" / "notifications.yml").read_text())
    kinds = {cp["name"]: {r["type"] for r in cp["receivers"]} for cp in doc["contactPoints"]}
    for name, types in kinds.items():
        assert ("pagerduty" in types) == ("opsgenie" in types) == name.startswith("critical-"), name
        assert ("webhook" in types) == name.startswith(("critical-", "warning-")), name
        assert "telegram" not in types
    pd = next(r for cp in doc["contactPoints"] for r in cp["receivers"] if r["type"] == "pagerduty")
    assert pd["settings"]["integrationKey"] == f"$__file{{{SECRETS_DIR}/pagerduty_routing_key}}"
    assert pd["disableResolveMessage"] is False
    assert "$__env" not in str(doc["contactPoints"])  # no secret travels through the environment


def test_empty_secrets_give_inert_contact_points_that_grafana_accepts(tmp_path):
    settings, env = _start(tmp_path, {})
    pd, og = settings["critical-platform-pagerduty"], settings["critical-platform-opsgenie"]
    assert (pd["integrationKey"], pd["url"]) == ("not-configured", INERT)
    assert (og["apiKey"], og["apiUrl"]) == ("not-configured", INERT)
    assert settings["warning-platform-webhook"]["url"] == INERT
    assert settings["warning-platform-slack"]["url"] == "http://127.0.0.1:9/slack-not-configured"
    assert "TRADEWATCH_" not in env


def test_configured_secrets_are_read_from_their_files_not_the_environment(tmp_path):
    given = {
        "slack_webhook_url": "https://hooks.slack.com/services/T/B/X\n",
        "pagerduty_routing_key": "key123\n",
        "alert_webhook_url": "https://hooks.example.com/x",
    }
    settings, env = _start(tmp_path, given)
    pd, og = settings["critical-ml-pagerduty"], settings["critical-ml-opsgenie"]
    assert (pd["integrationKey"], pd["url"]) == ("key123", "https://events.pagerduty.com/v2/enqueue")
    assert (og["apiKey"], og["apiUrl"]) == ("not-configured", INERT)  # each service on its own secret
    assert settings["critical-ml-webhook"]["url"] == "https://hooks.example.com/x"
    assert settings["warning-ml-slack"]["url"] == "https://hooks.slack.com/services/T/B/X"
    assert not [v for v in given.values() if v.strip() in env]
    link = tmp_path / "tw-secrets" / "pagerduty_routing_key"
    assert link.is_symlink() and link.resolve() == (tmp_path / "secrets" / "pagerduty_routing_key").resolve()
