"""The exposition of every system collector over fixed fixtures, compared with golden.prom.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/system/test_system_golden.py``
and review the diff like code.
"""

from __future__ import annotations

import os
import re
import subprocess

from hostfixture import FIXTURES, FixtureSource, require_binary
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from tradewatch.core import config as cfg
from tradewatch.system import settings
from tradewatch.system.probes import Probe, ProbeRunner, ProbesCollector, Result

GOLDEN = FIXTURES / "golden.prom"


def fixture_config() -> cfg.Config:
    return cfg.load(settings.settings(), FIXTURES / "system.yml", environ={})


def golden_registry() -> CollectorRegistry:
    """The collectors build() wires, on the fixture source, without timing-dependent self metrics."""
    config = fixture_config()
    exporter = settings.build(config, source=FixtureSource())
    registry = CollectorRegistry(auto_describe=False)
    for name, collector in exporter.collectors._collectors.items():
        if name == "probes":
            collector = fixed_probes(config)
        registry.register(_Named(collector))
    return registry


def fixed_probes(config: cfg.Config) -> ProbesCollector:
    runners = []
    results = {
        "postgres": (Result(True, 0.0012, 1700000100.0), 1700000100.0),
        "exchange-rest": (Result(False, 2.0, 1700000100.0, 503, "unexpected HTTP status 503"), 1700000000.0),
        "exchange-ws": None,  # not run yet: no series
    }
    for record in config["probes"]:
        runner = ProbeRunner(Probe.of(record))
        fixed = results[record["name"]]
        if fixed:
            runner.state.last, runner.state.last_success = fixed
        runners.append(runner)
    return ProbesCollector(runners)


class _Named:
    def __init__(self, collector):
        self.collector = collector

    def collect(self):
        return self.collector.collect()


def render() -> str:
    return generate_latest(golden_registry()).decode()


def test_exposition_matches_golden():
    text = render()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "exposition changed; rerun with UPDATE_GOLDEN=1 and review the diff"


def test_golden_names_are_in_the_catalog(root):
    catalog = (root / "docs" / "metrics.md").read_text()
    # The text format's TYPE lines carry counters' _total names, as the catalog does.
    exposed = set(re.findall(r"^# TYPE (\S+) ", GOLDEN.read_text(), re.M))
    system_rows = catalog.split("## System exporter")[1].split("\n## ")[0]
    declared = set(re.findall(r"^\| `([a-z0-9_:]+)` \|", system_rows, re.M))
    assert exposed - declared == set(), f"not in docs/metrics.md: {sorted(exposed - declared)}"
    assert declared == exposed, f"rows with no series in the fixture run: {sorted(declared - exposed)}"


def test_golden_passes_promtool():
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=GOLDEN.read_bytes(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
