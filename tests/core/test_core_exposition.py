"""tradewatch.core.exposition: the /metrics writer, against prometheus_client's writers and parsers and promtool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client import exposition as lib_text
from prometheus_client.openmetrics import exposition as lib_om
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tradewatch.core import exposition
from tradewatch.trading.collector import TradingStateCollector
from tradewatch.trading.events import validate_trading_event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trading"))
from trading_fixtures import T0, event_stream


def _trading_registry(with_ids: bool) -> CollectorRegistry:
    from tradewatch.trading.state import TradingState

    state = TradingState()
    for i, raw in enumerate(event_stream(3000)):
        raw.setdefault("event_id", f"e{i}")
        if with_ids:
            raw["correlation_id"] = f"dec-{i // 5:06d}"
        state.apply(validate_trading_event(raw))
    reg = CollectorRegistry()
    reg.register(TradingStateCollector(state, clock=lambda: T0 + 200))
    c = Counter("demo_requests", 'Requests with a "quote" and a \\ backslash.', ["path"], registry=reg)
    c.labels('/a"b\\c\nd').inc()
    Gauge("demo_temperature_celsius", "A gauge.", registry=reg).set(1.5)
    Histogram("demo_seconds", "A histogram.", registry=reg).observe(0.2)
    Info("demo_build", "Build.", registry=reg).info({"version": "1"})
    return reg


def test_same_bytes_as_the_library_without_exemplars():
    reg = _trading_registry(with_ids=False)
    assert exposition.text(reg) == lib_text.generate_latest(reg)
    assert exposition.openmetrics(reg) == lib_om.generate_latest(reg)


def test_exemplars_only_in_openmetrics_and_valid_there():
    reg = _trading_registry(with_ids=True)
    body, content_type = exposition.expose(reg, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    found = {}
    # The library's parser enforces the specification (exemplar label set <= 128 characters, bucket bounds).
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.exemplar is not None:
                assert s.name.endswith("_bucket")
                found.setdefault(family.name, set()).add(s.exemplar.labels["correlation_id"])
    assert set(found) >= {
        "tradewatch_trading_order_ack_latency_seconds",
        "tradewatch_trading_order_fill_latency_seconds",
        "tradewatch_trading_slippage_bps",
        "tradewatch_trading_decision_latency_seconds",
    }
    assert all(cid.startswith("dec-") for ids in found.values() for cid in ids)
    text_body, text_type = exposition.expose(reg, "text/plain")
    assert text_type.startswith("text/plain; version=0.0.4") and b"correlation_id" not in text_body


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_the_exposition():
    """promtool check metrics reads the text format only (prometheus/prometheus#8932): it lints the
    same families; the OpenMetrics body with exemplars is checked by the strict parser above and by
    a real Prometheus in tests/grafana/test_live.py."""
    reg = _trading_registry(with_ids=True)
    out = subprocess.run(["promtool", "check", "metrics"], input=exposition.text(reg), capture_output=True, timeout=30)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
