"""Read the generated Grafana files back: panels, PromQL/LogQL queries, metric names, the catalog.

Shared by the tests in this directory. Everything is parsed from the committed files (what Grafana
loads), not from the generator's objects, so the checks hold for whatever is actually provisioned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
PROVISIONING = ROOT / "grafana" / "provisioning"
METRICS_DOC = ROOT / "docs" / "metrics.md"
RULES_DIR = ROOT / "prometheus" / "rules"

# Series Prometheus makes itself (not exporter metrics): scrape health and alert state.
PROMETHEUS_SYNTHETIC = {
    "up",
    "ALERTS",
    "ALERTS_FOR_STATE",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
}
# Aggregation operators take their argument after an optional `by (...)`: never metric names.
_AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "limitk",
    "limit_ratio",
}
_KEYWORDS = _AGGREGATIONS | {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
    "atan2",
}


@dataclass(frozen=True)
class Query:
    dashboard: str  # file stem, e.g. "execution"
    where: str  # panel title or "variable <name>"
    expr: str
    language: str  # promql | logql
    instant: bool = False
    kind: str = "panel"  # panel | variable | rule


def dashboards() -> dict[str, dict[str, Any]]:
    """stem -> parsed dashboard JSON, for every committed dashboard file."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARD_DIR.glob("*/*.json"))}


def panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' children included (collapsed rows keep theirs in `panels`)."""
    for panel in doc.get("panels", []):
        yield panel
        yield from panel.get("panels", []) or []


def _ds_uid(obj: dict[str, Any], fallback: dict[str, Any] | None) -> str | None:
    ds = obj.get("datasource") or fallback or {}
    return ds.get("uid") if isinstance(ds, dict) else None


def queries() -> list[Query]:
    """Every PromQL and LogQL query of every panel target and query variable."""
    out: list[Query] = []
    for stem, doc in dashboards().items():
        for panel in panels(doc):
            for target in panel.get("targets", []) or []:
                uid = _ds_uid(target, panel.get("datasource"))
                if "expr" not in target:
                    continue
                lang = {"prometheus": "promql", "loki": "logql"}[uid]
                out.append(Query(stem, panel["title"], target["expr"], lang, bool(target.get("instant"))))
        for var in doc.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            uid = _ds_uid(var, None)
            lang = {"prometheus": "promql", "loki": "logql"}[uid]
            out.append(Query(stem, f"variable {var['name']}", var["query"], lang, kind="variable"))
    return out


def log_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROVISIONING / "alerting" / "log-rules.yml").read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<metric>.+),\s*)?(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\)$")


def label_values(expr: str) -> tuple[str | None, str]:
    """'label_values(m{a="b"}, label)' -> ('m{a="b"}', 'label'); the metric is optional (Loki)."""
    found = _LABEL_VALUES.match(expr.strip())
    if not found:
        raise ValueError(f"not a label_values() query: {expr}")
    return found.group("metric"), found.group("label")


def strip_promql(expr: str) -> str:
    """PromQL without string literals, label matchers, ranges and grouping label lists."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    return re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (identifiers that are not functions or keywords)."""
    if expr.strip().startswith("label_values("):
        metric, _ = label_values(expr)
        return metric_names(metric) if metric else set()
    names = set()
    for found in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", strip_promql(expr)):
        name, call = found.group(1), found.group(2)
        if call or name in _KEYWORDS:
            continue
        names.add(name)
    return names


def catalog() -> dict[str, str]:
    """name -> type from docs/metrics.md; histograms also give their _bucket/_sum/_count series."""
    out: dict[str, str] = {}
    for found in re.finditer(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| (\w+) \|", METRICS_DOC.read_text("utf-8"), re.M):
        name, kind = found.groups()
        out[name] = kind
        if kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                out[name + suffix] = "histogram series"
    return out


def rule_groups() -> list[dict[str, Any]]:
    groups = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8")).get("groups", []))
    return groups


def recording_rules() -> set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def alert_names() -> set[str]:
    return {r["alert"] for g in rule_groups() for r in g["rules"] if "alert" in r}


# ---------------------------------------------------------------------------------------- LogQL
# A stream selector starts with a matcher; this skips regex quantifiers such as {0,40} in filters.
SELECTOR = re.compile(r'\{(\s*[a-zA-Z_]\w*\s*(?:=~|!~|!=|=)\s*"[^}]*)\}')
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"')


def logql_stream_labels(expr: str) -> set[str]:
    """Label names used in stream selectors {a="b", c=~"d"}."""
    labels = set()
    for selector in SELECTOR.finditer(expr):
        labels.update(m.group(1) for m in _MATCHER.finditer(selector.group(1)))
    return labels


def logql_pipeline_labels(expr: str) -> tuple[set[str], set[str]]:
    """(label filter names after `|`, fields named by `| json a, b` or `| json a="b"`)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', SELECTOR.sub("{}", expr))
    text = re.sub(r"`[^`]*`", '""', text)
    filters, json_fields = set(), set()
    for stage in re.finditer(r"\|(?![=~])\s*([^|\[\)]*)", text):
        body = stage.group(1).strip()
        if body.startswith(("json", "logfmt")):
            json_fields.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=|,|$)", body[4:]))
            continue
        if body.startswith(
            (
                "line_format",
                "label_format",
                "drop",
                "keep",
                "unwrap",
                "decolorize",
                "pattern",
                "regexp",
                "unpack",
            )
        ):
            continue
        filters.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|==|=|>=|<=|>|<)", body))
    return filters, json_fields


def logql_grouping_labels(expr: str) -> set[str]:
    labels = set()
    for found in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels.update(x.strip() for x in found.group(1).split(",") if x.strip())
    return labels
