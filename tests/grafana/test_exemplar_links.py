"""From an exemplar to its order's log lines: the Prometheus datasource's exemplarTraceIdDestinations
resolve, through the Alloy pipeline's mapping (loki/config.alloy), to exactly that correlation ID's
lines; the dashboards ask for exemplars on the latency and slippage panels."""

from __future__ import annotations

import io
import json
import sys

import yaml
from grafana_model import PROVISIONING, ROOT, dashboards, panels
from test_logql import _alloy_module, _logql_model, check, pipeline  # noqa: F401 (a fixture)
from tests.client.client_receiver import captured_logs
from tests.simulate.test_simulator import simulate

from tradewatch.core import logging as twlogging
from tradewatch.core.correlation import FIELD
from tradewatch.trail.story import logql

sys.path.insert(0, str(ROOT / "tests" / "logs"))


def _prometheus() -> dict:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())
    return next(d for d in doc["datasources"] if d["uid"] == "prometheus")


def _resolve(template: str, value: str) -> str:
    """What Grafana makes of a provisioned link: `$$` is `$`, then ${__value.raw} is the exemplar's value."""
    return template.replace("$$", "$").replace("${__value.raw}", value)


def _entry(alloy, line: str) -> tuple[dict, dict]:
    entry = alloy.apply(line, {"container": "tradewatch-simulator-1", "compose_service": "simulator"})
    return entry.labels, entry.metadata


def test_destinations_name_the_exemplar_label_and_real_targets():
    dests = _prometheus()["jsonData"]["exemplarTraceIdDestinations"]
    assert {d["name"] for d in dests} == {FIELD}
    loki = next(d for d in dests if d.get("datasourceUid"))
    assert loki["datasourceUid"] == "loki"
    board = next(d for d in dests if not d.get("datasourceUid"))
    uid = board["url"].split("/d/", 1)[1].split("/", 1)[0]
    logs = next(doc for doc in dashboards().values() if doc["uid"] == uid)
    assert f"var-{FIELD}=" in board["url"]
    assert FIELD in {v["name"] for v in logs["templating"]["list"]}
    # tradewatch trail --loki-url runs the same query.
    assert _resolve(loki["url"], "ord-1") == logql("ord-1")


def test_the_link_selects_exactly_that_orders_lines(pipeline):  # noqa: F811 (the fixture)
    """Simulator and exporter log lines of several orders, and lines without an ID, through the
    pipeline; the resolved LogQL keeps one order's lines and nothing else."""
    with captured_logs("simulator") as logs:
        events = simulate("exchange-outage", 400, seed=3, log_events=True)
    buffer = io.BytesIO()
    twlogging.setup("trading-exporter", "info", stream=buffer)
    rejected = [e for e in events if e["type"] == "order_rejected"]
    assert len({e["correlation_id"] for e in rejected}) >= 3
    target = rejected[0]["correlation_id"]
    log = twlogging.get_logger("tradewatch.ingest")
    log.warning("event rejected", reason="missing_field", correlation_id=target)
    log.warning("event rejected", reason="missing_field", correlation_id=target + "0")  # a longer ID
    log.info("journal replayed")
    lines = logs.getvalue().decode().splitlines() + buffer.getvalue().decode().splitlines()
    expected = [ln for ln in lines if json.loads(ln).get(FIELD) == target]
    assert len(expected) >= 2 and len(lines) > len(expected) + 3

    loki = next(d for d in _prometheus()["jsonData"]["exemplarTraceIdDestinations"] if d.get("datasourceUid"))
    expr = _resolve(loki["url"], target)
    assert check(expr, *pipeline) == []
    alloy, model = _alloy_module().Pipeline.from_config(), _logql_model()
    selected = [ln for ln in lines if model.matches(expr, ln, *_entry(alloy, ln))]
    assert selected == expected
    # The ID is also a parsed field of the JSON line: `| json | correlation_id="..."` selects the same.
    parsed = '{service=~".+"} | json | ' + f'{FIELD}="{target}"'
    assert [ln for ln in lines if model.matches(parsed, ln, *_entry(alloy, ln))] == expected


def test_latency_and_slippage_panels_ask_for_exemplars():
    wanted = {
        "tradewatch_trading_order_ack_latency_seconds_bucket",
        "tradewatch_trading_order_fill_latency_seconds_bucket",
        "tradewatch_trading_slippage_bps_bucket",
        "tradewatch_trading_decision_latency_seconds_bucket",
        "tradewatch_model_inference_latency_seconds_bucket",
    }
    found: dict[str, int] = {}
    for doc in dashboards().values():
        for panel in panels(doc):
            targets = panel.get("targets", [])
            with_ex = [t for t in targets if t.get("exemplar")]
            for metric in wanted:
                if with_ex and metric in with_ex[0].get("expr", ""):
                    found[metric] = found.get(metric, 0) + 1
                    assert len(with_ex) == 1, panel["title"]  # one query per panel, or every dot repeats
    assert set(found) == wanted
