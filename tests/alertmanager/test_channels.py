"""The notification channels switched on by secret files: the entrypoint's choice, the generated
files, and the routing contract (critical pages, warning does not) with amtool."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.conftest import require_binary

from tradewatch.devstack import channels, render

AM = Path(__file__).resolve().parents[2] / "alertmanager"
SECRETS = {
    "slack_webhook_url": "https://hooks.slack.com/services/T/B/x",
    "pagerduty_routing_key": "0123456789abcdef0123456789abcdef",
    "opsgenie_api_key": "og-key",
    "telegram_bot_token": "123456:ABC-def_g",
    "telegram_chat_id": "-1001234",
    "alert_webhook_url": "https://hooks.example.com/tw?a=1&b=2",
    "heartbeat_url": "https://hc-ping.com/5b2d5d0c-0000-4000-8000-000000000000",
}
CHANNEL_KEY = {c.name: c.key for c in channels.CHANNELS}


def _entrypoint(tmp_path: Path, secrets: dict[str, str]) -> tuple[int, dict, str]:
    sec = tmp_path / "secrets"
    sec.mkdir(exist_ok=True)
    for name in channels.SECRET_NAMES:
        (sec / name).write_text(secrets.get(name, ""))
    env = {
        "PATH": os.environ["PATH"],
        "ALERTMANAGER_CONFIG_DIR": str(AM),
        "ALERTMANAGER_RUN_DIR": str(tmp_path),
        "TRADEWATCH_SECRETS_DIR": str(sec),
        "ALERTMANAGER_BIN": "true",
    }
    res = subprocess.run(["sh", str(AM / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30)
    out = tmp_path / "alertmanager.yml"
    doc = yaml.safe_load(out.read_text()) if res.returncode == 0 else {}
    return res.returncode, doc, res.stderr


def _channels_in(doc: dict) -> set[str]:
    found = set()
    for receiver in doc.get("receivers", []):
        for key, value in receiver.items():
            ch = channels.channel_of(key, value, receiver["name"])
            if ch:
                found.add(ch.name)
    return found


def test_no_secret_runs_the_email_only_config_unchanged(tmp_path):
    code, doc, log = _entrypoint(tmp_path, {})
    assert code == 0 and "e-mail only" in log
    assert (tmp_path / "alertmanager.yml").read_text() == (AM / "alertmanager.email-only.yml").read_text()
    # no channel at all: e-mail only, the Watchdog's receiver empty (as before the channels existed)
    kinds = {r["name"]: sorted(k for k in r if k.endswith("_configs")) for r in doc["receivers"]}
    assert kinds == {
        n: ([] if n in ("deadmans-switch",) or n.startswith("warning-") else ["email_configs"]) for n in kinds
    }
    # and that file is the source with every channel removed, and only that
    source = yaml.safe_load((AM / "alertmanager.yml").read_text())
    assert doc == yaml.safe_load(render.dump_yaml(channels.strip_channels(source)))
    # the marked file with every block removed (what sed does) is the same config
    text = (AM / "alertmanager.channels.yml").read_text()
    for ch in channels.CHANNELS:
        text = channels.remove_marked(text, ch.name)
    assert yaml.safe_load(text) == doc


@pytest.mark.parametrize("name", [c.name for c in channels.CHANNELS])
def test_each_secret_switches_on_its_channel_only(tmp_path, name):
    wanted = {s: SECRETS[s] for s in channels.BY_NAME[name].secrets}
    code, doc, log = _entrypoint(tmp_path, wanted)
    assert code == 0, log
    assert _channels_in(doc) == {name} and f"channels on: {name} (+ e-mail)" in log
    text = (tmp_path / "alertmanager.yml").read_text()
    assert "secret.invalid" not in text and "-100999000999" not in text
    for value in wanted.values():
        if name in ("telegram", "webhook", "heartbeat"):
            assert value in text  # inlined (0.25 cannot read these from files)
        else:
            assert value not in text  # read by Alertmanager from the file
    assert oct((tmp_path / "alertmanager.yml").stat().st_mode & 0o777) == "0o600"


def test_all_channels_load_in_alertmanager_and_match_the_source(tmp_path):
    amtool = require_binary("amtool")
    code, doc, log = _entrypoint(tmp_path, SECRETS)
    assert code == 0, log
    res = subprocess.run([amtool, "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    source = yaml.safe_load((AM / "alertmanager.yml").read_text())
    assert [r["name"] for r in doc["receivers"]] == [r["name"] for r in source["receivers"]]
    assert doc["route"] == source["route"]
    tg = next(r for r in doc["receivers"] if r["name"] == "critical-trading")["telegram_configs"][0]
    assert tg["bot_token"] == SECRETS["telegram_bot_token"] and tg["chat_id"] == -1001234
    pd = next(r for r in doc["receivers"] if r["name"] == "critical-ml")["pagerduty_configs"][0]
    assert pd["routing_key_file"] == str(tmp_path / "secrets" / "pagerduty_routing_key")
    hb = next(r for r in doc["receivers"] if r["name"] == "deadmans-switch")["webhook_configs"][0]
    assert hb["url"] == SECRETS["heartbeat_url"] and hb["send_resolved"] is False


@pytest.mark.parametrize(
    ("secret", "value"),
    [
        ("telegram_chat_id", "12; rm -rf /"),
        ("telegram_bot_token", "x' : y"),
        ("alert_webhook_url", "ftp://example.com/"),
        ("heartbeat_url", "https://ok.example.com/\nroute: {}"),
    ],
)
def test_entrypoint_refuses_a_malformed_inlined_secret(tmp_path, secret, value):
    secrets = {s: SECRETS[s] for s in ("telegram_bot_token", "telegram_chat_id", "alert_webhook_url", "heartbeat_url")}
    code, _, log = _entrypoint(tmp_path, {**secrets, secret: value})
    assert code == 2 and secret in log and not (tmp_path / "alertmanager.yml").exists()


# Table-driven routing: (labels, receiver, paged?). The receiver is what amtool says; whether it
# pages is what that receiver holds in the generated all-channels config.
ROUTE_CASES = [
    ({"alertname": "KillSwitchActivated", "severity": "critical", "team": "trading"}, "critical-trading", True),
    ({"alertname": "ModelNoPredictions", "severity": "critical", "team": "ml"}, "critical-ml", True),
    ({"alertname": "MarketDataStale", "severity": "critical", "team": "data"}, "critical-data", True),
    ({"alertname": "ExporterDown", "severity": "critical", "team": "platform"}, "critical-platform", True),
    ({"alertname": "NewCritical", "severity": "critical", "team": "unknown"}, "critical-platform", True),
    ({"alertname": "SlippageHigh", "severity": "warning", "team": "trading"}, "warning-trading", False),
    ({"alertname": "ModelLatencyHigh", "severity": "warning", "team": "ml"}, "warning-ml", False),
    ({"alertname": "MarketDataGaps", "severity": "warning", "team": "data"}, "warning-data", False),
    ({"alertname": "TargetDown", "severity": "warning", "team": "platform"}, "warning-platform", False),
    ({"alertname": "FeatureDrift", "severity": "info", "team": "ml"}, "info-digest", False),
    ({"alertname": "Watchdog", "severity": "info", "team": "platform"}, "deadmans-switch", False),
    ({"alertname": "TradeWatchTestAlert", "severity": "critical", "team": "trading"}, "critical-trading", True),
]


def test_routes_page_critical_only():
    amtool = require_binary("amtool")
    config = AM / "alertmanager.channels.yml"
    doc = yaml.safe_load(config.read_text())
    by_name = {r["name"]: r for r in doc["receivers"]}
    wrong = []
    for labels, receiver, pages in ROUTE_CASES:
        res = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receiver}"]
            + [f"{k}={v}" for k, v in labels.items()],
            capture_output=True,
            text=True,
            timeout=30,
        )
        paged = any(k in by_name[receiver] for k in ("pagerduty_configs", "opsgenie_configs"))
        if res.returncode != 0 or paged != pages:
            wrong.append((labels, receiver, res.stdout.strip(), paged))
    assert not wrong
    # chat channels reach critical and warning, the heartbeat only the Watchdog
    for name, receiver in by_name.items():
        assert ("telegram_configs" in receiver) == name.startswith(("critical-", "warning-")), name
    assert _channels_in({"receivers": [by_name["deadmans-switch"]]}) == {"heartbeat"}
