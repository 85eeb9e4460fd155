"""The series the exporters really produce, as promtool ``input_series``.

Rule tests fed with hand-picked series pass when a rule is wrong about what the exporters emit
*together* (ComponentDown once lost a reported ``down`` to the ``heartbeat_age`` series of the same
component in an ``or``). This module runs a simulator scenario offline through the real trading and
model exporters, built in-process by their own ``build`` functions with a simulated clock and
real journals, scrapes their registries every ``interval`` simulated seconds (the exposition text,
parsed back as Prometheus would), and writes what was scraped as promtool input series.

Time: the simulator starts at :data:`T0` and runs at ``speed`` 1 (the market and pacing clocks are
the same), so promtool's time 0 is T0. Gauges holding a Unix time (``*_timestamp_seconds``) are
shifted by T0 so that ``time() - ...`` in a rule means what it means in production.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

#: Simulated start (2023-11-14 22:13:20 UTC): promtool's time 0.
T0 = 1_700_000_000.0
JOBS = {"trading": "trading-exporter", "model": "model-exporter"}
MODEL_TYPES = frozenset({"prediction", "outcome", "ai_call"})


@dataclass
class Capture:
    """What was scraped: series (``name{labels}``, job and instance included) -> value per scrape."""

    interval: float
    scrapes: int = 0
    values: dict[str, list[float | None]] = field(default_factory=dict)

    def add(self, series: str, index: int, value: float | None) -> None:
        row = self.values.get(series)
        if row is None:
            row = self.values[series] = [None] * index
        row.extend([None] * (index - len(row)))
        row.append(value)

    def input_series(self) -> list[dict[str, str]]:
        out = []
        for series, row in sorted(self.values.items()):
            row = row + [None] * (self.scrapes - len(row))
            out.append({"series": series, "values": _notation(row)})
        return out


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(round(value, 9)).removesuffix(".0")


def _notation(row: Sequence[float | None]) -> str:
    """promtool's expanding notation, runs of one value folded into ``vxN``."""
    parts: list[str] = []
    i = 0
    while i < len(row):
        j = i
        while j + 1 < len(row) and row[j + 1] == row[i]:
            j += 1
        token = "_" if row[i] is None else _fmt(row[i])  # type: ignore[arg-type]
        n = j - i
        parts.append(token if n == 0 else (" ".join([token] * (n + 1)) if token == "_" else f"{token}x{n}"))
        i = j + 1
    return " ".join(parts)


def _series_name(name: str, labels: dict[str, str]) -> str:
    body = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{body}}}"


#: Settings of the exporters in the scenarios: those of `tradewatch dev` (risk limits, AI budget,
#: the demo drift windows), the journal in a temp dir, event times checked against no wall clock.
def exporter_environ(name: str, workdir: Path) -> dict[str, str]:
    from tradewatch.devstack.command import DEMO_MODEL_ENV
    from tradewatch.devstack.stack import SIMULATOR_MODEL_LIMITS, SIMULATOR_RISK_LIMITS

    env = {
        "TRADEWATCH_JOURNAL_PATH": str(workdir / f"{name}-journal"),
        "TRADEWATCH_JOURNAL_FSYNC": "never",
        "TRADEWATCH_INGEST_MAX_FUTURE_SKEW": "0",
        "TRADEWATCH_LOG_LEVEL": "error",
    }
    if name == "trading":
        env.update(SIMULATOR_RISK_LIMITS)
    else:
        from tradewatch.simulate.engine import MODEL_NAME

        reference = _reference()
        env.update(DEMO_MODEL_ENV)
        env.update(SIMULATOR_MODEL_LIMITS)
        env["TRADEWATCH_REFERENCE_FILES"] = json.dumps({MODEL_NAME: str(reference)})
    return env


@functools.cache
def _reference() -> Path:
    """The demo's recorded model reference (as `tradewatch dev` writes it), once per process."""
    from tradewatch.simulate.reference import write_reference

    where = Path(tempfile.mkdtemp(prefix="tradewatch-series-ref-"))
    atexit.register(shutil.rmtree, where, True)
    write_reference(where / "model-reference.jsonl")
    return where / "model-reference.jsonl"


class _Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class _Exporters:
    """The trading and model exporters, in-process, on one simulated clock."""

    def __init__(self, workdir: Path, clock: _Clock):
        from tradewatch.core import config as cfg
        from tradewatch.model.exporter import ModelExporter
        from tradewatch.model.settings import settings as model_settings
        from tradewatch.trading.command import assemble
        from tradewatch.trading.settings import settings as trading_settings

        self.clock = clock
        tconf = cfg.load(trading_settings(), environ=exporter_environ("trading", workdir))
        mconf = cfg.load(model_settings(), environ=exporter_environ("model", workdir))
        self.trading, trading_ingestor = assemble(tconf, clock)
        self.model = ModelExporter(mconf, clock)
        self.drift_every = float(mconf["drift.interval"])
        self.next_drift = clock.now
        # the ingestors, as the HTTP route reaches them
        self.ingest = {"trading": trading_ingestor, "model": self.model.ingestor}

    def send(self, events: Iterable[dict[str, Any]]) -> None:
        batches: dict[str, list[dict[str, Any]]] = {"trading": [], "model": []}
        for e in events:
            batches["model" if e["type"] in MODEL_TYPES else "trading"].append(e)
        for name, batch in batches.items():
            if batch:
                result = self.ingest[name].ingest(batch, source="series")
                if result.rejected:
                    raise AssertionError(f"{name} exporter refused simulator events: {result.rejected[:3]}")

    def scrape(self) -> dict[str, str]:
        while self.next_drift <= self.clock.now:
            self.model.drift.run()
            self.next_drift += self.drift_every
        return {
            "trading": generate_latest(self.trading.registry).decode(),
            "model": generate_latest(self.model.exporter.registry).decode(),
        }

    def close(self) -> None:
        self.trading.stop()
        self.model.stop()


def _parse(text: str, job: str, instance: str, capture: Capture, index: int) -> None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("tradewatch_"):
                continue  # process_* / python_*: host-dependent, no rule reads them
            value = sample.value
            if sample.name.endswith("_timestamp_seconds") and value > 0:
                value -= T0
            labels = {**sample.labels, "job": job, "instance": instance}
            capture.add(_series_name(sample.name, labels), index, value)


def capture(
    scenario: str,
    seconds: float,
    *,
    interval: float = 5.0,
    seed: int = 42,
    warmup: float = 60.0,
    incident: float | None = None,
    rate: float = 2.0,
    downtime: tuple[float, float] | None = None,
    backlog: str = "first",
    workdir: Path | None = None,
) -> Capture:
    """Run ``scenario`` for ``seconds`` (simulated, speed 1) and scrape both exporters every
    ``interval`` s, ``up`` included. ``downtime`` = (from, to) seconds: the exporters are stopped
    (not scraped) and built again from their journals, as a restart does; the events sent meanwhile
    (``backlog``) arrive ``first`` after the restart (a client's spool), ``late`` (after the first
    new batch, a retry racing new events) or are ``lost``."""
    from tradewatch.simulate.engine import Simulator

    with tempfile.TemporaryDirectory(prefix="tradewatch-series-") as tmp:
        work = Path(workdir or tmp)
        clock = _Clock(T0)
        sim = Simulator(
            seed=seed,
            scenario=scenario,
            speed=1.0,
            rate=rate,
            warmup=warmup,
            incident=incident,
            start=T0,
            log_events=False,
        )
        exporters: _Exporters | None = _Exporters(work, clock)
        out = Capture(interval)
        pending: list[dict[str, Any]] = []
        steps = max(1, round(interval * rate))
        total = int(seconds // interval) + 1
        try:
            for index in range(total):
                clock.now = T0 + index * interval
                down = downtime is not None and downtime[0] <= index * interval < downtime[1]
                if down and exporters is not None:
                    exporters.close()
                    exporters = None
                if not down and exporters is None:
                    exporters = _Exporters(work, clock)
                if exporters is not None:
                    if backlog == "late" and len(pending) > steps * 10:
                        exporters.send(pending[-steps * 10 :])
                        pending = pending[: -steps * 10]
                    exporters.send(pending)
                    pending = []
                    for name, text in exporters.scrape().items():
                        _parse(text, JOBS[name], f"{name}:0", out, index)
                for name in JOBS:
                    out.add(
                        _series_name("up", {"job": JOBS[name], "instance": f"{name}:0"}), index, 0.0 if down else 1.0
                    )
                out.scrapes = index + 1
                if down and backlog == "lost":
                    sim.steps(steps)
                else:
                    pending.extend(sim.steps(steps))
        finally:
            if exporters is not None:
                exporters.close()
        return out


def promtool_file(
    cap: Capture, rule_files: Sequence[str], tests: Sequence[dict[str, Any]], *, evaluation_interval: str = "5s"
) -> dict[str, Any]:
    """A promtool test file: ``tests`` (alert_rule_test / promql_expr_test entries) on the capture."""
    interval = f"{int(cap.interval)}s" if float(cap.interval).is_integer() else f"{cap.interval}s"
    return {
        "rule_files": list(rule_files),
        "evaluation_interval": evaluation_interval,
        "tests": [{"interval": interval, "input_series": cap.input_series(), **t} for t in tests],
    }


#: The alerts that fired at any time up to eval_time (ALERTS is written by promtool's evaluation).
FIRED = 'group by (alertname) (max_over_time(ALERTS{{alertstate="firing"}}[{window}]))'


def fired_test(eval_seconds: float, alerts: Iterable[str]) -> dict[str, Any]:
    """Asserts the set of alert names that fired in [0, eval_seconds] is exactly ``alerts``."""
    window = f"{int(eval_seconds) + 1}s"
    return {
        "promql_expr_test": [
            {
                "expr": FIRED.format(window=window),
                "eval_time": f"{int(eval_seconds)}s",
                "exp_samples": [{"labels": f'{{alertname="{a}"}}', "value": 1} for a in sorted(set(alerts))],
            }
        ]
    }
