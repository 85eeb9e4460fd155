"""Render docs/example-report/ from the simulator.

    .venv/bin/python tests/report/make_example.py [--out docs/example-report] [--scale 1.0]

1. Starts the native stack (tradewatch.devstack: Prometheus 2.42 with the project's rules, the three
   exporters, 1 s scrapes) and runs the simulator through a sequence of scenarios (a quiet start,
   a flash crash with the kill switch, an exchange outage, slow execution, one symbol losing money,
   a degraded broker API, model drift, an AI cost spike, a stale feed), stopping the trading
   exporter for a while in between: about 21 minutes.
2. Exports every series from that Prometheus and stretches the run onto one 24 h day
   (timestamps scaled by 86400 / run length; host counters scaled by the same factor so CPU and
   I/O rates are kept), then builds TSDB blocks with
   ``promtool tsdb create-blocks-from openmetrics`` and starts a second Prometheus on them: the
   daily layout gets a whole day of real exporter output (counts, P&L, latencies are the run's;
   per-second rates are scaled down by the same factor).
3. Renders the daily report for that day with ``tradewatch.report``.

``--scale 0.2`` makes a 4-minute rehearsal of the same plan.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

# Run as a script: its own folder (report_helpers) and the repository root (tests.conftest).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import require_binary, start_prometheus

from tradewatch.devstack.stack import DevStack, StackOptions
from tradewatch.report import render
from tradewatch.report.period import Period
from tradewatch.report.query import Prometheus
from tradewatch.report.sections import Options

DAY = datetime(2026, 11, 19, tzinfo=UTC).timestamp()
# (scenario, wall seconds, simulator flags); an exporter outage is marked with scenario None.
PLAN: list[tuple[str | None, float, list[str]]] = [
    ("normal", 150, []),
    ("flash-crash", 210, ["--warmup", "40", "--incident", "130"]),
    ("normal", 40, []),
    (None, 35, []),  # trading exporter stopped
    ("normal", 50, []),
    ("exchange-outage", 150, ["--warmup", "30", "--incident", "90"]),
    ("slow-execution", 120, ["--warmup", "20", "--incident", "75"]),
    ("losing-symbol", 100, ["--warmup", "20", "--incident", "70"]),
    ("broker-api-degraded", 100, ["--warmup", "20", "--incident", "70"]),
    ("model-drift", 190, ["--warmup", "20", "--incident", "150"]),
    ("ai-cost-spike", 120, ["--warmup", "20", "--incident", "80"]),
    ("stale-feed", 170, ["--warmup", "20", "--incident", "130"]),
]


def equity(stack: DevStack, last: float) -> float:
    result = stack.query("sum(tradewatch_trading_equity)")
    return float(result[0]["value"][1]) if result else last


def run_plan(stack: DevStack, scale: float) -> tuple[float, float]:
    start = time.time()
    seed, balance = 100, 100_000.0
    for scenario, seconds, flags in PLAN:
        seconds *= scale
        flags = [f if not f.replace(".", "").isdigit() else str(float(f) * scale) for f in flags]
        balance = equity(stack, balance)
        if scenario is None:
            stack.procs["simulator"].stop()
            stack.stop_exporter("trading")
            time.sleep(seconds)
            stack.start_exporter("trading")
            continue
        seed += 1
        # Each run starts flat with the equity the previous one ended with, so the curve is continuous.
        stack.start_simulator(
            scenario,
            "--duration",
            str(seconds),
            "--seed",
            str(seed),
            "--initial-balance",
            f"{balance:.2f}",
            *flags,
        )
        print(f"{datetime.now(UTC):%H:%M:%S} {scenario} for {seconds:.0f}s", flush=True)
        stack.procs["simulator"].wait_exit(seconds + 30)
    return start, time.time()


def export(url: str, start: float, end: float, day: float, out: Path) -> float:
    """Every series of [start, end] at 1 s, stretched onto [day, day + 86400], as OpenMetrics."""
    factor = 86400.0 / (end - start)
    names = requests.get(url + "/api/v1/label/__name__/values", timeout=30).json()["data"]
    with out.open("w", encoding="utf-8") as fh:
        for name in names:
            # Stretching time divides every rate by the factor. Host counters (CPU seconds, bytes)
            # are scaled back up so CPU and I/O rates stay those of the run; trading counters keep
            # their real counts (one kill switch stays one).
            scale = factor if name.startswith("tradewatch_host_") and name.endswith("_total") else 1.0
            data = requests.post(
                url + "/api/v1/query_range",
                timeout=120,
                data={"query": f'{{__name__="{name}"}}', "start": start, "end": end, "step": 1},
            ).json()["data"]
            for series in data["result"]:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series["metric"].items()) if k != "__name__")
                head = f"{name}{{{labels}}}" if labels else name
                for ts, value in series["values"]:
                    v = float(value) * scale
                    if math.isnan(v):
                        continue
                    stretched = day + (float(ts) - start) * factor
                    fh.write(f"{head} {_num(v)} {stretched:.3f}\n")
        fh.write("# EOF\n")
    return factor


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    return "+Inf" if v == math.inf else "-Inf" if v == -math.inf else repr(v)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "docs" / "example-report"))
    parser.add_argument("--scale", type=float, default=1.0, help="shorten (or lengthen) the whole plan")
    parser.add_argument("--render-only", metavar="WORKDIR", help="render again from a previous run's directory")
    args = parser.parse_args()
    if args.render_only:
        work = Path(args.render_only)
        return render_example(work, float((work / "factor.txt").read_text()), Path(args.out))
    work = Path(tempfile.mkdtemp(prefix="tradewatch-example-"))
    # A small AI budget, so the day's spend (and the cost spike) can be read against it; a reference
    # and drift window sized for a 20-minute run (the defaults want thousands of predictions).
    model_env = {
        "TRADEWATCH_AI_MONTHLY_BUDGET_USD": "8",
        "TRADEWATCH_REFERENCE_SIZE": "150",
        "TRADEWATCH_DRIFT_WINDOW": "150",
        "TRADEWATCH_DRIFT_MIN_SAMPLES": "100",
        "TRADEWATCH_DRIFT_INTERVAL": "10s",
    }
    options = StackOptions(simulator=None, workdir=work / "stack", exporter_env={"model": model_env})
    with DevStack(options) as stack:
        stack.wait_targets_up(timeout=60)
        start, end = run_plan(stack, args.scale)
        time.sleep(3)
        factor = export(stack.prometheus_url, start, end, DAY, work / "run.om")
    print(f"run {end - start:.0f}s stretched x{factor:.1f}; work directory {work}", flush=True)
    (work / "factor.txt").write_text(f"{factor:.6f}")
    promtool = require_binary("promtool")
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(work / "run.om"), str(work / "data")],
        check=True,
        capture_output=True,
    )
    return render_example(work, factor, Path(args.out))


def render_example(work: Path, factor: float, out: Path) -> int:
    proc, url = start_prometheus(work / "data", work)
    try:
        # Stretched samples are ~factor seconds apart: gaps and intervals need windows of two samples.
        resolution = 60.0 * math.ceil(2 * factor / 60.0)
        period = Period(
            "daily",
            DAY,
            DAY + 86400,
            ZoneInfo("UTC"),
            chart_step=max(600.0, resolution),
            resolution=resolution,
        )
        report = render.build(Prometheus(url), period, Options(["trading", "model", "system"]), name="example")
        for old in out.glob("*.png"):
            old.unlink()
        paths = report.write(out)
        print("\n".join(str(p) for p in paths.values()))
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
