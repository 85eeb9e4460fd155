"""Report rendering: wall time, Prometheus queries, peak memory and output size of
`tradewatch report` (daily and weekly) against a real Prometheus holding backfilled days
(tests/report/backfill.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "report"))
sys.path.insert(0, str(HERE.parent.parent))  # report_helpers imports tests.conftest

import backfill  # noqa: E402
from report_helpers import require_binary, start_prometheus  # noqa: E402

DAYS = 3  # the weekly report then also covers four days without data


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB, sampled every 20 ms) and stdout of a command."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    out = proc.communicate()[0]
    return time.monotonic() - started, peak / 2**20, out


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    started = time.monotonic()
    backfill.write(work / "days.om", days=DAYS)
    generated = time.monotonic() - started
    started = time.monotonic()
    subprocess.run(
        [
            require_binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(work / "days.om"),
            str(work / "data"),
        ],
        check=True,
        capture_output=True,
    )
    blocks = time.monotonic() - started
    proc, url = start_prometheus(work / "data", work)
    at = datetime.fromtimestamp(backfill.START + (DAYS - 1) * 86400, UTC).date().isoformat()
    env = {**os.environ, "TRADEWATCH_PROMETHEUS_URL": url}
    rows = []
    try:
        for kind in ("daily", "weekly"):
            out = work / kind
            seconds, rss, log = _run(
                [sys.executable, "-m", "tradewatch", "report", "--period", kind, "--at", at, "--out", str(out)], env
            )
            written = [json.loads(line) for line in log.splitlines() if '"report written"' in line]
            queries = written[0]["queries"] if written else "?"
            pngs = sorted(out.glob("*.png"))
            rows.append(
                (
                    kind,
                    f"{seconds:.1f}",
                    str(queries),
                    f"{rss:.0f}",
                    str(len(pngs)),
                    f"{sum(p.stat().st_size for p in pngs) / 1024:.0f}",
                    f"{(out / 'report.html').stat().st_size / 1024:.0f}",
                    f"{(out / 'report.json').stat().st_size / 1024:.0f}",
                )
            )
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"backfill: {DAYS} days of 30 s samples (~100 series) generated in {generated:.1f}s, "
        f"TSDB blocks built by promtool in {blocks:.1f}s"
    )
    header = ("report", "wall s (process)", "queries", "peak RSS MiB", "charts", "PNG KiB", "HTML KiB", "JSON KiB")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
