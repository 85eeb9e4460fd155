"""The catalog check: every metric a dashboard or a Prometheus rule names exists in docs/metrics.md
(what the exporters expose) or is a recording rule."""

from __future__ import annotations

import re

import pytest
from grafana_model import (
    METRICS_DOC,
    PROMETHEUS_SYNTHETIC,
    catalog,
    metric_names,
    queries,
    recording_rules,
    rule_groups,
)

# Rules about the monitoring stack itself read Prometheus' and Alertmanager's own metrics,
# documented upstream rather than in our catalog.
UPSTREAM_PREFIXES = ("prometheus_", "alertmanager_")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (le, venue) (rate(a_bucket{venue=~"$venue"}[$__rate_interval]))', {"a_bucket"}),
        (
            "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > on(job) group_left(v) y",
            {"x_bucket", "y"},
        ),
        ('(sum by (s) (rate(o{status="rejected"}[5m])) or sum by (s) (rate(o[5m])) * 0) / b', {"o", "b"}),
        ("count(up == 0) or vector(0)", {"up"}),
        ('ALERTS{alertstate="firing", alertname="by"}', {"ALERTS"}),
        ("time() - level:metric:rate5m offset 5m", {"level:metric:rate5m"}),
        ("label_values(tradewatch_model_info, model)", {"tradewatch_model_info"}),
        ('label_values(m{provider=~"$provider"}, model)', {"m"}),
        ("1 - avail / size", {"avail", "size"}),
    ],
)
def test_metric_name_extraction(expr, expected):
    assert metric_names(expr) == expected


def _known() -> set[str]:
    return set(catalog()) | recording_rules() | PROMETHEUS_SYNTHETIC


def test_every_dashboard_metric_is_in_the_catalog():
    known = _known()
    missing = {}
    promql = [q for q in queries() if q.language == "promql"]
    assert len(promql) > 100
    for query in promql:
        unknown = metric_names(query.expr) - known
        if unknown:
            missing[f"{query.dashboard} / {query.where}"] = sorted(unknown)
    assert not missing, f"metrics not in docs/metrics.md nor recording rules: {missing}"


def test_every_rule_metric_is_in_the_catalog():
    known = _known()
    missing = {}
    rules = [r for g in rule_groups() for r in g["rules"]]
    assert rules, "no rule files under prometheus/rules"
    for rule in rules:
        unknown = {m for m in metric_names(rule["expr"]) - known if not m.startswith(UPSTREAM_PREFIXES)}
        if unknown:
            missing[rule.get("alert") or rule["record"]] = sorted(unknown)
    assert not missing, f"rules name metrics missing from docs/metrics.md: {missing}"


def test_the_catalog_is_mostly_on_dashboards():
    """Most exporter metrics are shown somewhere: an unused metric is either dead or a missing panel."""
    used = set().union(*(metric_names(q.expr) for q in queries() if q.language == "promql"))
    base = {name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for name in used}
    exposed = {n for n, kind in catalog().items() if kind != "histogram series"}
    shown = exposed & (used | base)
    assert len(shown) / len(exposed) >= 0.75, sorted(exposed - shown)


def test_each_metric_has_one_catalog_row():
    """A second row (two sessions staging the same hunk) would hide a stale type or label list:
    the name sets the other catalog tests compare cannot see it."""
    names = re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| \w+ \|", METRICS_DOC.read_text("utf-8"), re.M)
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"metrics with more than one row in docs/metrics.md: {repeated}"
