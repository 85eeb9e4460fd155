"""Grafana provisioning files: they parse, use only keys Grafana reads (misspelled keys are silently
ignored by Grafana, so they are errors here), datasource UIDs match, contact points and policies
refer to each other, and the notification setup mirrors Alertmanager's (checked with amtool)."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_model import PROVISIONING, ROOT, log_rules
from tests.conftest import require_binary

ALERTING = PROVISIONING / "alerting"
AM_FILE = ROOT / "alertmanager" / "alertmanager.yml"

# Keys of Grafana's provisioning structs (pkg/services/provisioning/...): anything else is ignored
# by Grafana without a word, which hides typos.
ALERTING_TOP = {
    "apiVersion",
    "groups",
    "deleteRules",
    "contactPoints",
    "deleteContactPoints",
    "policies",
    "resetPolicies",
    "muteTimes",
    "deleteMuteTimes",
    "templates",
    "deleteTemplates",
}
GROUP_KEYS = {"orgId", "name", "folder", "interval", "rules"}
RULE_KEYS = {
    "uid",
    "title",
    "condition",
    "data",
    "dashboardUid",
    "panelId",
    "noDataState",
    "execErrState",
    "for",
    "keepFiringFor",
    "missing_series_evals_to_resolve",
    "annotations",
    "labels",
    "isPaused",
    "notification_settings",
    "record",
}
QUERY_KEYS = {"refId", "queryType", "relativeTimeRange", "datasourceUid", "model"}
CONTACT_POINT_KEYS = {"orgId", "name", "receivers"}
RECEIVER_KEYS = {"uid", "type", "settings", "disableResolveMessage"}
POLICY_KEYS = {
    "orgId",
    "receiver",
    "group_by",
    "object_matchers",
    "matchers",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
    "continue",
    "group_wait",
    "group_interval",
    "repeat_interval",
}
MUTE_KEYS = {"orgId", "name", "time_intervals"}
INTERVAL_KEYS = {"times", "weekdays", "days_of_month", "months", "years", "location"}
DATASOURCE_KEYS = {
    "name",
    "type",
    "access",
    "orgId",
    "uid",
    "url",
    "isDefault",
    "editable",
    "jsonData",
    "secureJsonData",
    "basicAuth",
    "basicAuthUser",
    "withCredentials",
    "version",
    "user",
    "database",
}
EXPRESSION_TYPES = {"math", "reduce", "resample", "classic_conditions", "threshold", "sql"}


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc.get("apiVersion") == 1, f"{path}: apiVersion must be 1"
    return doc


@pytest.fixture(scope="module")
def alerting() -> dict[str, Any]:
    """All alerting files merged, as Grafana reads them."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(ALERTING.glob("*.y*ml")):
        doc = _load(path)
        assert set(doc) <= ALERTING_TOP, f"{path.name}: unknown top-level keys {set(doc) - ALERTING_TOP}"
        for key, value in doc.items():
            if key != "apiVersion":
                merged.setdefault(key, []).extend(value)
    return merged


@pytest.fixture(scope="module")
def alertmanager() -> dict[str, Any]:
    return yaml.safe_load(AM_FILE.read_text(encoding="utf-8"))


def test_every_provisioning_file_parses():
    files = sorted(PROVISIONING.rglob("*.y*ml"))
    assert {p.parent.name for p in files} == {"datasources", "dashboards", "alerting"}
    for path in files:
        _load(path)


def test_datasources():
    doc = _load(PROVISIONING / "datasources" / "datasources.yml")
    sources = {ds["uid"]: ds for ds in doc["datasources"]}
    for ds in doc["datasources"]:
        assert set(ds) <= DATASOURCE_KEYS, set(ds) - DATASOURCE_KEYS
    assert set(sources) == {"prometheus", "loki", "alertmanager"}
    assert [uid for uid, ds in sources.items() if ds.get("isDefault")] == ["prometheus"]
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["loki"]["url"] == "http://loki:3100"
    assert sources["alertmanager"]["url"] == "http://alertmanager:9093"
    assert sources["alertmanager"]["jsonData"]["implementation"] == "prometheus"
    assert {ds["type"] for ds in sources.values()} == {"prometheus", "loki", "alertmanager"}
    assert sources["prometheus"]["jsonData"]["alertmanagerUid"] == "alertmanager"


def _compose_grafana() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"]["grafana"]


def test_dashboard_provider_and_compose_mounts():
    doc = _load(PROVISIONING / "dashboards" / "dashboards.yml")
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["options"]["foldersFromFilesStructure"] is True
    assert not provider.get("folder"), "foldersFromFilesStructure needs an empty folder"
    volumes = {v.split(":")[0]: v.split(":")[1] for v in _compose_grafana()["volumes"] if v.startswith("./")}
    assert volumes["./grafana/dashboards"] == provider["options"]["path"]
    assert volumes["./grafana/provisioning"] == "/etc/grafana/provisioning"


def test_compose_gives_grafana_what_the_contact_points_read(alerting):
    """Slack contact points read the file grafana/entrypoint.sh links to the mounted secret."""
    urls = {s["settings"]["url"] for cp in alerting["contactPoints"] for s in cp["receivers"] if s["type"] == "slack"}
    assert urls == {"$__file{/tmp/tradewatch-secrets/slack_webhook_url}"}
    grafana = _compose_grafana()
    secrets = {(s if isinstance(s, str) else s["source"]) for s in grafana.get("secrets", [])}
    assert "slack_webhook_url" in secrets, "mount the slack_webhook_url secret into grafana"
    entry = grafana["entrypoint"]
    script_path = entry[-1]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    script = (ROOT / mounts[script_path].removeprefix("./")).read_text()
    assert "src=/run/secrets" in script and "dir=/tmp/tradewatch-secrets" in script
    assert "provide slack_webhook_url " in script
    assert "exec /run.sh" in script


def test_rule_groups_use_known_keys_and_valid_queries(alerting):
    groups = alerting["groups"]
    assert groups
    uids = set()
    for group in groups:
        assert set(group) <= GROUP_KEYS, set(group) - GROUP_KEYS
        assert group["folder"] and group["interval"]
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS, (rule["title"], set(rule) - RULE_KEYS)
            assert rule["uid"] not in uids and len(rule["uid"]) <= 40
            uids.add(rule["uid"])
            assert rule["noDataState"] in {"Alerting", "NoData", "OK", "KeepLast"}
            assert rule["execErrState"] in {"Alerting", "Error", "OK", "KeepLast"}
            refs = [d["refId"] for d in rule["data"]]
            assert len(refs) == len(set(refs)) and rule["condition"] in refs
            for query in rule["data"]:
                assert set(query) <= QUERY_KEYS, set(query) - QUERY_KEYS
                assert query["model"]["refId"] == query["refId"]
                if query["datasourceUid"] == "__expr__":
                    model = query["model"]
                    assert model["type"] in EXPRESSION_TYPES
                    assert model["expression"] in refs and model["expression"] != query["refId"]
                else:
                    assert query["datasourceUid"] == "loki"
                    assert query["relativeTimeRange"]["from"] > 0 and query["model"]["expr"]
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}
            assert rule["annotations"]["summary"] and rule["annotations"]["runbook_url"]
            assert rule["dashboardUid"] == "tradewatch-logs"
    assert {r["title"] for r in log_rules()} >= {
        "LogErrorBurst",
        "LogExceptionStorm",
        "LogKillSwitch",
        "LogOrderRejectedByVenue",
        "LogAuthenticationFailure",
    }


def test_log_alert_runbooks_exist_in_the_docs():
    doc = (ROOT / "docs" / "dashboards.md").read_text().lower()
    for rule in log_rules():
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert f"### {anchor}" in doc, f"docs/dashboards.md needs a '### {rule['title']}' section"


def test_contact_points_policies_and_mute_timings_refer_to_each_other(alerting):
    names = {cp["name"] for cp in alerting["contactPoints"]}
    uids = [r["uid"] for cp in alerting["contactPoints"] for r in cp["receivers"]]
    assert len(uids) == len(set(uids)) and all(len(u) <= 40 for u in uids)
    mutes = {m["name"] for m in alerting["muteTimes"]}
    for cp in alerting["contactPoints"]:
        assert set(cp) <= CONTACT_POINT_KEYS
        for receiver in cp["receivers"]:
            assert set(receiver) <= RECEIVER_KEYS
            assert receiver["type"] in {"slack", "email", "pagerduty", "opsgenie", "webhook"}
            if receiver["type"] == "email":
                assert "@" in receiver["settings"]["addresses"]
    for mute in alerting["muteTimes"]:
        assert set(mute) <= MUTE_KEYS
        for interval in mute["time_intervals"]:
            assert set(interval) <= INTERVAL_KEYS
    (root,) = alerting["policies"]

    def walk(policy: dict[str, Any]) -> None:
        assert set(policy) <= POLICY_KEYS, set(policy) - POLICY_KEYS
        assert policy["receiver"] in names, policy["receiver"]
        assert set(policy.get("mute_time_intervals", [])) <= mutes
        for matcher in policy.get("object_matchers", []):
            assert len(matcher) == 3 and matcher[1] in {"=", "!=", "=~", "!~"}
        for child in policy.get("routes", []):
            walk(child)

    walk(root)
    assert "object_matchers" not in root and "mute_time_intervals" not in root
    templates = {t["name"]: t["template"] for t in alerting["templates"]}
    used = {
        s
        for cp in alerting["contactPoints"]
        for r in cp["receivers"]
        for s in r["settings"].values()
        if isinstance(s, str) and "template" in s
    }
    for text in used:
        name = text.split('"')[1]
        assert any(f'define "{name}"' in body for body in templates.values()), name


def test_mute_timings_equal_alertmanager_time_intervals(alerting, alertmanager):
    grafana = {m["name"]: m["time_intervals"] for m in alerting["muteTimes"]}
    am = {i["name"]: i["time_intervals"] for i in alertmanager["time_intervals"]}
    assert grafana == am


def _am_routes(route: dict[str, Any]) -> dict[str, Any]:
    """Alertmanager route -> comparable tree (matchers as triples); the Watchdog route has no Grafana twin."""
    out = {
        "receiver": route["receiver"],
        "matchers": [_triple(m) for m in route.get("matchers", [])],
        "mute": route.get("mute_time_intervals", []),
        **{k: route.get(k) for k in ("group_by", "group_wait", "group_interval", "repeat_interval")},
        "routes": [_am_routes(r) for r in route.get("routes", []) if r["receiver"] != "deadmans-switch"],
    }
    return out


def _triple(matcher: str) -> list[str]:
    for op in ("=~", "!~", "!=", "="):
        if op in matcher:
            name, rest = matcher.split(op, 1)
            return [name.strip(), op, rest.strip().strip('"')]
    raise AssertionError(matcher)


def _grafana_routes(policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": policy["receiver"],
        "matchers": policy.get("object_matchers", []),
        "mute": policy.get("mute_time_intervals", []),
        **{k: policy.get(k) for k in ("group_by", "group_wait", "group_interval", "repeat_interval")},
        "routes": [_grafana_routes(r) for r in policy.get("routes", [])],
    }


def test_policy_tree_mirrors_alertmanager(alerting, alertmanager):
    (root,) = alerting["policies"]
    assert _grafana_routes(root) == _am_routes(alertmanager["route"])


def test_contact_points_mirror_alertmanager_receivers(alerting, alertmanager):
    grafana = {cp["name"]: cp["receivers"] for cp in alerting["contactPoints"]}
    for receiver in alertmanager["receivers"]:
        slack = bool(receiver.get("slack_configs"))
        emails = sorted(e["to"] for e in receiver.get("email_configs") or [])
        if not slack and not emails:
            assert receiver["name"] not in grafana
            continue
        mine = grafana[receiver["name"]]
        assert any(r["type"] == "slack" for r in mine) == slack, receiver["name"]
        assert sorted(r["settings"]["addresses"] for r in mine if r["type"] == "email") == emails


# ------------------------------------------------------------------------- amtool (real Alertmanager code)
def _as_alertmanager(alerting: dict[str, Any]) -> dict[str, Any]:
    """Grafana's policies, contact points and mute timings as an Alertmanager config."""

    def route(policy: dict[str, Any]) -> dict[str, Any]:
        out = {
            k: v
            for k, v in policy.items()
            if k
            in {
                "receiver",
                "group_by",
                "group_wait",
                "group_interval",
                "repeat_interval",
                "mute_time_intervals",
                "continue",
            }
        }
        if policy.get("object_matchers"):
            out["matchers"] = [f'{n}{op}"{v}"' for n, op, v in policy["object_matchers"]]
        if policy.get("routes"):
            out["routes"] = [route(r) for r in policy["routes"]]
        return out

    (root,) = alerting["policies"]
    return {
        "route": route(root),
        "receivers": [
            {"name": cp["name"], "webhook_configs": [{"url": "http://127.0.0.1:9/"}]}
            for cp in alerting["contactPoints"]
        ],
        "time_intervals": [{"name": m["name"], "time_intervals": m["time_intervals"]} for m in alerting["muteTimes"]],
    }


def _routes_test(amtool: str, config: Path, labels: dict[str, str]) -> str:
    result = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            *[f"{k}={v}" for k, v in labels.items()],
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def test_amtool_accepts_grafanas_tree_and_routes_like_alertmanager(alerting, tmp_path):
    amtool = require_binary("amtool")
    config = tmp_path / "grafana-as-am.yml"
    config.write_text(yaml.safe_dump(_as_alertmanager(alerting)))
    check = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    cases = [
        dict(pair)
        for pair in itertools.product(
            [("severity", s) for s in ("critical", "warning", "info", "none")],
            [("team", t) for t in ("trading", "ml", "data", "platform", "unknown")],
        )
    ]
    cases += [
        {k: v for k, v in r["labels"].items() if k in {"severity", "team"}} | {"alertname": r["title"]}
        for r in log_rules()
    ]
    for labels in cases:
        assert _routes_test(amtool, config, labels) == _routes_test(amtool, AM_FILE, labels), labels
    # And the log alerts land where the brief says: critical pages Slack + e-mail.
    kill = next(r for r in log_rules() if r["title"] == "LogKillSwitch")["labels"]
    assert _routes_test(amtool, config, kill) == "critical-trading"
