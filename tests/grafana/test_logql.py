"""Every LogQL query (dashboard panels, variables, Grafana log alert rules) uses only the labels and
fields the Alloy pipeline (loki/config.alloy) produces."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from grafana_model import (
    ROOT,
    SELECTOR,
    dashboards,
    label_values,
    log_rules,
    logql_grouping_labels,
    logql_pipeline_labels,
    logql_stream_labels,
    queries,
)

from tradewatch.core import logging as twlogging


def _alloy_module():
    if "alloy_pipeline" in sys.modules:
        return sys.modules["alloy_pipeline"]
    spec = importlib.util.spec_from_file_location("alloy_pipeline", ROOT / "tests" / "logs" / "alloy_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["alloy_pipeline"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pipeline():
    """(stream labels, structured metadata keys, JSON fields) as loki/config.alloy defines them."""
    alloy = _alloy_module()
    text = (ROOT / "loki" / "config.alloy").read_text()
    parsed = alloy.Pipeline.from_config(text)
    # Stream labels set by relabelling (container, compose_service), from every relabel component.
    relabelled = {
        rule.attributes["target_label"]
        for block in alloy.parse_alloy(text)
        if block.name == "discovery.relabel"
        for rule in block.blocks
        if rule.name == "rule" and "target_label" in rule.attributes
    }
    labels = set(parsed.labels) | {lbl for lbl in relabelled if not lbl.startswith("__")}
    return labels, set(parsed.metadata), set(parsed.expressions)


def _logql() -> list[tuple[str, str]]:
    out = [(f"{q.dashboard} / {q.where}", q.expr) for q in queries() if q.language == "logql"]
    out += [
        (f"rule {r['title']}", d["model"]["expr"])
        for r in log_rules()
        for d in r["data"]
        if d["datasourceUid"] == "loki"
    ]
    return out


def check(expr: str, labels: set[str], metadata: set[str], fields: set[str]) -> list[str]:
    """Problems with one LogQL expression (empty when it only uses what the pipeline produces)."""
    problems = []
    if expr.startswith("label_values("):
        _, label = label_values(expr)
        return [] if label in labels else [f"label_values of unknown label {label}"]
    stream = logql_stream_labels(expr)
    if not stream:
        problems.append("no stream selector")
    problems += [f"stream label {x} is not a Loki label" for x in sorted(stream - labels)]
    filters, json_fields = logql_pipeline_labels(expr)
    known = labels | metadata | (json_fields and fields)
    problems += [f"filter on {x}, which is neither a label nor structured metadata" for x in sorted(filters - known)]
    problems += [f"| json field {x} is not a field the services log" for x in sorted(json_fields - fields)]
    grouping = logql_grouping_labels(expr)
    problems += [f"grouping by {x}, which Loki does not have" for x in sorted(grouping - labels - metadata)]
    return problems


def test_pipeline_matches_the_logging_contract(pipeline):
    labels, metadata, fields = pipeline
    assert set(twlogging.LABEL_FIELDS) <= labels
    assert set(twlogging.METADATA_FIELDS) == metadata
    assert set(twlogging.LOG_FIELDS) <= fields


def test_every_logql_query_uses_pipeline_labels_and_fields(pipeline):
    found = _logql()
    assert len(found) >= 10
    problems = {where: p for where, expr in found if (p := check(expr, *pipeline))}
    assert not problems, problems


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ('{app="x"}', "stream label app"),
        ('{service="x"} | trace_id="y"', "filter on trace_id"),
        ('{service="x"} | json user | user="y"', "| json field user"),
        ('sum by (pod) (count_over_time({service="x"}[5m]))', "grouping by pod"),
    ],
)
def test_the_check_rejects_unknown_names(pipeline, expr, problem):
    assert any(problem in p for p in check(expr, *pipeline))


def test_the_check_accepts_metadata_and_json_fields(pipeline):
    assert check('{service="x"} | correlation_id="abc" | json event | event=~"order.*"', *pipeline) == []


def _all_value_selectors() -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Stream selectors of every Loki query with each variable at its All value."""
    out = []
    for stem, doc in dashboards().items():
        all_values = {v["name"]: v.get("allValue", ".*") for v in doc.get("templating", {}).get("list", [])}
        for q in queries():
            if q.dashboard != stem or q.language != "logql" or q.kind == "variable":
                continue
            expr = re.sub(r"\$(\w+)", lambda m, v=all_values: v.get(m.group(1), m.group(0)), q.expr)
            for selector in SELECTOR.finditer(expr):
                out.append(
                    (
                        f"{stem} / {q.where}",
                        re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', selector.group(1)),
                    )
                )
    for rule in log_rules():
        expr = rule["data"][0]["model"]["expr"]
        for selector in SELECTOR.finditer(expr):
            out.append((rule["title"], re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', selector.group(1))))
    return out


def test_stream_selectors_are_valid_for_loki_with_all_selected():
    """Loki refuses a selector whose every matcher matches the empty string ({service=~".*"})."""
    selectors = _all_value_selectors()
    assert selectors
    for where, matchers in selectors:

        def non_empty(op: str, value: str) -> bool:
            if op == "=":
                return value != ""
            if op == "=~":
                return re.fullmatch(value, "") is None
            return False

        assert any(non_empty(op, value) for _, op, value in matchers), f"{where}: {matchers}"


def test_log_alert_patterns_match_real_log_lines():
    """The critical-pattern rules' regexes catch representative lines and ignore routine ones."""
    patterns = {r["title"]: re.search(r'\|~ "((?:\\.|[^"\\])*)"', r["data"][0]["model"]["expr"]) for r in log_rules()}
    regex = {
        t: re.compile(m.group(1).replace("\\\\", "\\").replace("(?i)", ""), re.I) for t, m in patterns.items() if m
    }
    assert "LogKillSwitch" not in regex, "the kill switch is matched as a structured event, not a pattern"
    assert regex["LogOrderRejectedByVenue"].search('{"event": "order rejected by venue", "code": "margin"}')
    assert regex["LogAuthenticationFailure"].search('{"event": "ingest rejected", "reason": "unauthorized"}')
    assert not regex["LogAuthenticationFailure"].search('{"event": "scrape ok", "collector": "cpu"}')


def test_real_exporter_log_lines_carry_the_fields_the_queries_use(tmp_path: Path, pipeline):
    """A line written by tradewatch.core.logging, through the Alloy mapping, has every label and
    metadata key the dashboards group or filter by."""
    import io

    alloy = _alloy_module()
    buffer = io.BytesIO()
    twlogging.setup("trading-exporter", "info", stream=buffer)
    with twlogging.correlation("abc123"):
        twlogging.get_logger("tradewatch.ingest").error("order rejected by venue", venue="binance")
    entry = alloy.Pipeline.from_config().apply(buffer.getvalue().decode().splitlines()[-1])
    assert entry.labels == {"service": "trading-exporter", "level": "error"}
    assert entry.metadata == {"correlation_id": "abc123", "logger": "tradewatch.ingest"}
    used = set()
    for _, expr in _logql():
        if not expr.startswith("label_values("):
            filters, json_fields = logql_pipeline_labels(expr)
            used |= logql_grouping_labels(expr) | logql_stream_labels(expr) | (filters - json_fields)
    assert used <= set(entry.labels) | set(entry.metadata)


def _logql_model():
    if "logql_model" not in sys.modules:
        spec = importlib.util.spec_from_file_location("logql_model", ROOT / "tests" / "logs" / "logql_model.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["logql_model"] = module
        spec.loader.exec_module(module)
    return sys.modules["logql_model"]


def test_log_kill_switch_matches_the_structured_event_only():
    """A real line of the trading exporter's kill switch event matches; lines that only mention it
    (the unknown-type warning listing the known types, prose) do not."""
    import io

    from tradewatch.trading.safetylog import SafetyEventLog

    class Fold:
        def apply(self, event):
            pass

    buffer = io.BytesIO()
    twlogging.setup("trading-exporter", "info", stream=buffer)
    SafetyEventLog(Fold(), live=lambda: True).apply(
        {"type": "kill_switch", "event_id": "k1", "account": "a", "active": True, "reason": "manual"}
    )
    twlogging.get_logger("tradewatch.ingest").warning(
        "event rejected",
        message="unknown event type 'bogus'; known: circuit_breaker, decision, heartbeat, kill_switch, market_data",
    )
    twlogging.get_logger("bot").warning("kill switch engaged by hand?")
    engaged, mention, prose = buffer.getvalue().decode().splitlines()[-3:]
    expr = next(r for r in log_rules() if r["title"] == "LogKillSwitch")["data"][0]["model"]["expr"]
    pipeline = _alloy_module().Pipeline.from_config()
    model = _logql_model()

    def fires(line: str) -> bool:
        entry = pipeline.apply(line)
        return model.matches(expr, line, entry.labels, entry.metadata)

    assert fires(engaged)
    assert not fires(mention) and not fires(prose)


def test_correlation_trail_is_empty_until_an_id_is_entered():
    """With the text box empty the trail showed every line without an ID (156 of 169)."""
    (query,) = [
        q
        for q in queries()
        if q.language == "logql" and "correlation_id" in q.expr and q.kind != "variable" and "Correlation" in q.where
    ]
    model = _logql_model()
    labels = {"service": "trading-exporter", "level": "info"}
    lines = [("without an ID", {"logger": "x"}), ("with one", {"logger": "x", "correlation_id": "abc"})]
    shown = {text for text, md in lines if model.matches(query.expr, text, labels, md, {"correlation_id": ""})}
    assert shown == set()
    shown = {text for text, md in lines if model.matches(query.expr, text, labels, md, {"correlation_id": "abc"})}
    assert shown == {"with one"}
    old = '{service=~".+"} | correlation_id = "$correlation_id"'
    assert model.matches(old, "without an ID", labels, {"logger": "x"}, {"correlation_id": ""}), "can fail"
