"""Static checks of the generated dashboards: regeneration, UIDs, panel types, datasources, links,
variables, units and threshold lines that match the alert levels."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_model import (
    DASHBOARD_DIR,
    PROVISIONING,
    ROOT,
    alert_names,
    dashboards,
    panels,
    queries,
    rule_groups,
)

from tradewatch.dashboards import build
from tradewatch.dashboards.common import UIDS
from tradewatch.dashboards.thresholds import load

FOLDERS = {"Overview", "Trading", "Models", "Data", "Platform"}
# Core panel plugins that are React-based and current. Anything else (graph, singlestat,
# table-old, the angular community panels) fails.
MODERN_TYPES = {
    "timeseries",
    "stat",
    "table",
    "bargauge",
    "gauge",
    "heatmap",
    "state-timeline",
    "status-history",
    "logs",
    "row",
    "text",
    "alertlist",
    "alertGroups",
    "barchart",
    "histogram",
    "piechart",
}
DEPRECATED_TYPES = {
    "graph",
    "singlestat",
    "table-old",
    "grafana-singlestat-panel",
    "grafana-piechart-panel",
    "grafana-worldmap-panel",
    "grafana-clock-panel",
    "flant-statusmap-panel",
}
NO_QUERY_TYPES = {"row", "text", "alertlist", "alertGroups"}
# Thresholds that are durations/horizons or gates (a minimum count of rejections) of an alert,
# not a level a panel can draw.
NOT_A_LEVEL = {
    "exporter_down_for_seconds",
    "disk_predict_hours",
    "order_rejection_min_rejections",
    "api_error_min_calls",
}


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return dashboards()


def _provisioned_uids() -> dict[str, str]:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())
    return {ds["uid"]: ds["type"] for ds in doc["datasources"]}


def _walk(node: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_regeneration_is_byte_for_byte_identical():
    rendered = build.render_all(build.context())
    for rel, content in rendered.items():
        committed = (ROOT / rel).read_text(encoding="utf-8")
        assert committed == content, f"{rel} is stale: run `tradewatch dashboards` and commit"
    on_disk = {p.relative_to(ROOT) for p in DASHBOARD_DIR.rglob("*.json")}
    assert on_disk == {rel for rel in rendered if rel.suffix == ".json"}, "dashboard files nobody generates"


def test_check_mode_reports_a_stale_file(tmp_path: Path):
    """`tradewatch dashboards --check` must notice a hand edit (the CI guard)."""
    ctx = build.context()
    assert build.write(tmp_path, ctx) != []  # empty tree: everything is new
    assert build.write(tmp_path, ctx, check=True) == []
    victim = tmp_path / "grafana" / "dashboards" / "Trading" / "risk.json"
    victim.write_text(victim.read_text().replace("Drawdown", "Drawdn"))
    assert build.write(tmp_path, ctx, check=True) == [victim.relative_to(tmp_path)]


def test_every_dashboard_uid_and_folder(boards):
    assert {doc["uid"] for doc in boards.values()} == set(UIDS.values())
    assert {p.parent.name for p in DASHBOARD_DIR.glob("*/*.json")} == FOLDERS
    for doc in boards.values():
        assert doc["title"].startswith("TradeWatch / ") and doc["description"]
        assert "tradewatch" in doc["tags"]


def test_alert_dashboard_urls_point_at_existing_dashboards():
    uids = set(UIDS.values())
    urls = [
        r["annotations"]["dashboard_url"]
        for g in rule_groups()
        for r in g["rules"]
        if "alert" in r and "dashboard_url" in r.get("annotations", {})
    ]
    assert urls, "no alert carries a dashboard_url"
    for url in urls:
        assert url.rsplit("/d/", 1)[1].split("?")[0] in uids, url


def test_no_deprecated_or_angular_panel_types(boards):
    for stem, doc in boards.items():
        for panel in panels(doc):
            assert panel["type"] not in DEPRECATED_TYPES, (stem, panel["title"], panel["type"])
            assert panel["type"] in MODERN_TYPES, (stem, panel["title"], panel["type"])
            assert "autoMigrateFrom" not in panel  # left behind by an angular migration


def test_datasources_are_referenced_by_uid_only(boards):
    provisioned = _provisioned_uids()
    assert set(provisioned) == {"prometheus", "loki", "alertmanager"}
    seen = set()
    for stem, doc in boards.items():
        for path, key, value in _walk(doc):
            if key != "datasource":
                continue
            assert isinstance(value, dict), f"{stem}{path}: datasource given by name {value!r}"
            if value.get("uid") == "-- Grafana --":  # built-in annotations
                continue
            assert value.get("uid") in provisioned, f"{stem}{path}: unknown datasource {value}"
            assert value.get("type") == provisioned[value["uid"]], f"{stem}{path}: type/uid mismatch {value}"
            seen.add(value["uid"])
        assert "${" not in json.dumps(doc).replace("${__", ""), f"{stem}: env-style variable in dashboard JSON"
    assert seen == {"prometheus", "loki"}
    # The alertGroups panel can only name its Alertmanager: it must be the provisioned one.
    names = {
        ds["name"]: ds["uid"]
        for ds in yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())["datasources"]
    }
    groups = [p for p in panels(boards["alerts"]) if p["type"] == "alertGroups"]
    assert len(groups) == 1 and names[groups[0]["options"]["alertmanager"]] == "alertmanager"


def test_panels_have_description_queries_and_units(boards):
    for stem, doc in boards.items():
        ids = [p["id"] for p in panels(doc)]
        assert len(ids) == len(set(ids)), f"{stem}: duplicate panel ids"
        for panel in panels(doc):
            if panel["type"] == "row":
                continue
            where = (stem, panel["title"])
            assert panel.get("description", "").strip(), where
            if panel["type"] not in NO_QUERY_TYPES:
                assert panel.get("targets"), where
                assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), where
            if panel["type"] in {"timeseries", "stat", "bargauge"}:
                assert panel["fieldConfig"]["defaults"].get("unit"), where


def test_template_variables(boards):
    names = {v["name"] for doc in boards.values() for v in doc.get("templating", {}).get("list", [])}
    assert {"symbol", "strategy", "model", "component"} <= names
    builtin = re.compile(r"\$(__\w+)")
    for stem, doc in boards.items():
        defined = {v["name"] for v in doc.get("templating", {}).get("list", [])}
        for var in doc.get("templating", {}).get("list", []):
            if var["type"] == "query":
                assert var["query"].startswith("label_values("), (stem, var["name"])
                assert var.get("refresh") in (1, 2), (stem, var["name"])
        for query in [q for q in queries() if q.dashboard == stem]:
            used = set(re.findall(r"\$\{?([a-zA-Z_]\w*)", builtin.sub("", query.expr)))
            assert used <= defined, f"{stem} / {query.where}: undefined variables {used - defined}"


def test_links_between_dashboards(boards):
    uids = set(UIDS.values())
    for stem, doc in boards.items():
        targets = set()
        for link in doc.get("links", []) + [lnk for p in panels(doc) for lnk in p.get("links", [])]:
            url = link.get("url", "")
            if url.startswith("/d/"):
                assert url[3:] in uids, (stem, url)
                targets.add(url[3:])
        if stem != "overview":
            assert UIDS["overview"] in targets, f"{stem} has no way back to the overview"
    overview = {lnk["url"][3:] for lnk in boards["overview"]["links"] if lnk.get("url", "").startswith("/d/")}
    assert overview == uids - {UIDS["overview"]}, "the overview must link every other dashboard"


def _runbook_links(panel: dict[str, Any]) -> list[str]:
    return [
        lnk["url"].rsplit("/", 1)[1].removesuffix(".md")
        for lnk in panel.get("links", [])
        if "/runbooks/" in lnk.get("url", "")
    ]


def test_runbook_links_name_real_alerts(boards):
    alerts = alert_names()
    rule_base = {
        r["annotations"]["runbook_url"].rsplit("/", 1)[0] for g in rule_groups() for r in g["rules"] if "alert" in r
    }
    linked = set()
    for stem, doc in boards.items():
        for panel in panels(doc):
            for lnk in panel.get("links", []):
                if "/runbooks/" in lnk.get("url", ""):
                    assert lnk["url"].rsplit("/", 1)[0] in rule_base, (stem, lnk["url"])
            for alert in _runbook_links(panel):
                assert alert in alerts, f"{stem} / {panel['title']}: runbook of unknown alert {alert}"
                linked.add(alert)
    runbooks = ROOT / "docs" / "runbooks"
    if runbooks.is_dir():
        missing = sorted(a for a in linked if not (runbooks / f"{a}.md").exists())
        assert not missing, f"panels link runbooks that do not exist: {missing}"
    assert len(linked) >= 25


def _step_values(panel: dict[str, Any]) -> set[float]:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    return {float(s["value"]) for s in steps if s.get("value") is not None}


def test_threshold_lines_match_the_alert_levels(boards):
    """A panel that links an alert's runbook draws that alert's level from prometheus/thresholds.yml."""
    loaded = load()
    levels: dict[str, list[tuple[str, float]]] = {}
    for name, alerts in loaded.alerts.items():
        if name in NOT_A_LEVEL:
            continue
        for alert in alerts:
            levels.setdefault(alert, []).append((name, loaded.values[name]))
    checked = 0
    for stem, doc in boards.items():
        for panel in panels(doc):
            values = _step_values(panel)
            for alert in _runbook_links(panel):
                for name, value in levels.get(alert, []):
                    assert value in values, (
                        f"{stem} / {panel['title']}: links {alert} but does not draw "
                        f"{name}={value} (steps {sorted(values)})"
                    )
                    checked += 1
    assert checked >= 25
    covered = {a for doc in boards.values() for p in panels(doc) for a in _runbook_links(p)}
    assert set(levels) <= covered, f"alert levels no panel draws: {sorted(set(levels) - covered)}"


def test_generator_reads_the_thresholds_file(tmp_path: Path):
    """Changing a level in thresholds.yml moves the panel's line (no hard-coded copy)."""
    source = ROOT / "prometheus" / "thresholds.yml"
    doc = yaml.safe_load(source.read_text())
    for entry in doc["thresholds"]:
        if entry["name"] == "slippage_high_bps":
            entry["value"] = 37.5
    changed = tmp_path / "thresholds.yml"
    changed.write_text(yaml.safe_dump(doc))
    execution = build.render_dashboard(build.DASHBOARDS["Trading"]["execution"](build.context(changed)))
    slippage = next(p for p in panels(json.loads(execution)) if p["title"] == "Slippage by venue")
    assert 37.5 in _step_values(slippage)


def _dropped(original: Any, decoded: Any, path: str = "") -> list[str]:
    """Paths of `original` that did not survive decoding (unknown or mistyped fields)."""
    if isinstance(original, dict):
        if not isinstance(decoded, dict):
            return [path]
        out = []
        for key, value in original.items():
            out += [f"{path}.{key}"] if key not in decoded else _dropped(value, decoded[key], f"{path}.{key}")
        return out
    if isinstance(original, list):
        if not isinstance(decoded, list) or len(original) != len(decoded):
            return [path]
        return [
            p for i, (a, b) in enumerate(zip(original, decoded, strict=True)) for p in _dropped(a, b, f"{path}[{i}]")
        ]
    return [] if original == decoded else [f"{path}: {original!r} became {decoded!r}"]


def _sdk_round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    plugins.register_default_plugins()
    return json.loads(json.dumps(Dashboard.from_json(doc), cls=JSONEncoder))


def test_committed_json_decodes_with_grafanas_schema_types(boards):
    """Grafana's own SDK models read every field back: nothing unknown to the schema, nothing mistyped."""
    for stem, doc in boards.items():
        assert _dropped(doc, _sdk_round_trip(doc)) == [], stem
    # The check notices a field the schema does not know.
    broken = json.loads(json.dumps(boards["risk"]))
    broken["panels"][1]["fieldConfig"]["defaults"]["thresholdz"] = {"mode": "absolute"}
    assert _dropped(broken, _sdk_round_trip(broken)) == [".panels[1].fieldConfig.defaults.thresholdz"]
