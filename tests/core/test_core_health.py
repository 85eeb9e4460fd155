"""CollectorGroup and Readiness: a failing collector never fails the scrape."""

from __future__ import annotations

import urllib.request

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from tradewatch.core import config as cfg
from tradewatch.core.app import Exporter, common_settings
from tradewatch.core.health import Readiness


class Good:
    def collect(self):
        return [GaugeMetricFamily("demo_good", "Good.", value=1.0)]


class Broken:
    def collect(self):
        raise OSError("source unreadable")


class BrokenMidway:
    def collect(self):
        yield GaugeMetricFamily("demo_partial", "Partial.", value=1.0)
        raise ValueError("second family failed")


def make() -> Exporter:
    exp = Exporter("test-exporter", cfg.load(common_settings(0), None, environ={}))
    exp.add_collector("good", Good())
    exp.add_collector("broken", Broken())
    exp.add_collector("midway", BrokenMidway())
    return exp


def test_failing_collectors_show_success_0_and_are_counted():
    exp = make()
    generate_latest(exp.registry)
    text = generate_latest(exp.registry).decode()
    get = exp.registry.get_sample_value
    assert get("tradewatch_scrape_collector_success", {"collector": "good"}) == 1
    assert get("tradewatch_scrape_collector_success", {"collector": "broken"}) == 0
    assert get("tradewatch_scrape_collector_success", {"collector": "midway"}) == 0
    assert get("tradewatch_scrape_collector_duration_seconds", {"collector": "broken"}) >= 0
    assert "demo_good 1.0" in text
    assert "demo_partial" not in text, "a collector that failed contributes nothing half-done"
    # two scrapes so far (plus the get_sample_value calls), two failing collectors each
    assert get("tradewatch_errors_total", {"kind": "collector"}) >= 4


def test_scrape_stays_200_over_http_with_a_broken_collector():
    exp = make()
    exp.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{exp.port}/metrics", timeout=10) as response:
            body = response.read().decode()
            assert response.status == 200
        assert 'tradewatch_scrape_collector_success{collector="broken"} 0.0' in body
        assert 'tradewatch_build_info{exporter="test-exporter"' in body
    finally:
        exp.stop()


def test_readiness_set_and_checks():
    readiness = Readiness()
    assert readiness.status() == (True, {})
    readiness.set("db", False, "connection refused")
    readiness.add_check("disk", lambda: (True, ""))
    assert readiness.status() == (False, {"db": "connection refused"})
    readiness.add_check("feed", lambda: 1 / 0)
    ok, reasons = readiness.status()
    assert not ok and reasons["feed"].startswith("check raised ZeroDivisionError")
    readiness.set("db", True)
    readiness.add_check("feed", lambda: (True, ""))
    assert readiness.status() == (True, {})
