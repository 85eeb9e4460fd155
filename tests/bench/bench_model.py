"""Model exporter: prediction ingestion throughput and drift computation time per feature.

* fold only: ``ModelState.apply_many`` on ready-made dicts (4 features, an outcome for every other
  prediction), no validation, no journal;
* validate + journal + fold: ``EventIngestor.ingest`` of decoded batches (fsync batch);
* HTTP: a real ``tradewatch model-exporter`` process, JSON-array batches of ``BATCH`` predictions
  over one keep-alive connection (fsync batch, i.e. one fsync per request);
* drift: one numeric feature (PSI + KS + missing ratio) and one categorical feature (PSI +
  chi-square + Jensen-Shannon), reference of 10k rows, windows of 10k and 100k samples; plus a
  whole ``DriftEngine.run`` (copy under the lock + compute) for 10 features, per feature;
* scrape: ``GET /metrics`` of the process after the HTTP run (drift results present).
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tradewatch.core.ingest import EventIngestor
from tradewatch.core.journal import Journal
from tradewatch.core.logging import setup as setup_logging
from tradewatch.model.drift import DriftEngine, DriftSettings, categorical_drift, numeric_drift
from tradewatch.model.events import validator
from tradewatch.model.state import FoldSettings, ModelState

FOLD_EVENTS = int(os.environ.get("BENCH_MODEL_EVENTS", "200000"))
HTTP_EVENTS = int(os.environ.get("BENCH_MODEL_HTTP_EVENTS", "100000"))
BATCH = 1000
REPEAT = 5


def predictions(n: int, seed: int = 0, model: str = "m") -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    x, y, z = rng.normal(size=(3, n))
    cats = rng.choice(["a", "b", "c", "d"], n)
    out: list[dict[str, Any]] = []
    for i in range(n):
        out.append(
            {
                "type": "prediction",
                "ts": 1.7e9 + i * 0.01,
                "event_id": f"{seed}-{i}",
                "model": model,
                "model_version": "1",
                "prediction_id": f"{seed}-{i}",
                "predicted": "up" if x[i] > 0 else "down",
                "confidence": 0.6,
                "latency_seconds": 0.004,
                "features": {"x": float(x[i]), "y": float(y[i]), "z": float(z[i]), "c": str(cats[i])},
            }
        )
        if i % 2:
            out.append(
                {
                    "type": "outcome",
                    "ts": 1.7e9 + i * 0.01 + 1,
                    "event_id": f"{seed}-o{i}",
                    "model": model,
                    "prediction_id": f"{seed}-{i - 1}",
                    "actual": "up",
                    "pnl": 1.0,
                }
            )
    return out


def row(*cells: Any) -> None:
    print("  ".join(f"{c:<44}" if i == 0 else f"{c:>14}" for i, c in enumerate(cells)), flush=True)


def bench_fold() -> None:
    events = predictions(FOLD_EVENTS)
    state = ModelState(FoldSettings())
    started = time.perf_counter()
    state.apply_many(events)
    seconds = time.perf_counter() - started
    row("fold only (apply_many)", f"{len(events) / seconds:,.0f} ev/s", f"{seconds:.2f} s")


def bench_ingestor() -> None:
    events = predictions(FOLD_EVENTS // 2, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        ingestor = EventIngestor(Journal(tmp, fsync="batch"), validator(), ModelState(FoldSettings()))
        ingestor.start()
        started = time.perf_counter()
        for i in range(0, len(events), BATCH):
            ingestor.ingest(events[i : i + BATCH])
        seconds = time.perf_counter() - started
        ingestor.close(snapshot=False)
    row("validate + journal + fold (ingest)", f"{len(events) / seconds:,.0f} ev/s", f"{seconds:.2f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_http() -> None:
    events = predictions(HTTP_EVENTS, seed=2)
    bodies = [orjson.dumps(events[i : i + BATCH]) for i in range(0, len(events), BATCH)]
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TRADEWATCH_JOURNAL_PATH": tmp,
            "TRADEWATCH_LOG_LEVEL": "warning",
            "TRADEWATCH_DRIFT_INTERVAL": "2s",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradewatch", "model-exporter", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn.request("GET", "/readyz")
                    ready = conn.getresponse()
                    ready.read()
                    if ready.status == 200:
                        break
                except OSError:
                    conn.close()
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            latencies = []
            started = time.perf_counter()
            for body in bodies:
                t = time.perf_counter()
                conn.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                assert response.status == 200, response.status
                latencies.append(time.perf_counter() - t)
            seconds = time.perf_counter() - started
            row(
                f"HTTP POST /v1/events (batches of {BATCH})",
                f"{len(events) / seconds:,.0f} ev/s",
                f"p50 {statistics.median(latencies) * 1000:.1f} ms",
            )
            time.sleep(2.5)  # let the drift task run once so the scrape includes its series
            scrapes = []
            for _ in range(20):
                t = time.perf_counter()
                conn.request("GET", "/metrics")
                text = conn.getresponse().read()
                scrapes.append(time.perf_counter() - t)
            series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
            p50 = statistics.median(scrapes) * 1000
            row("scrape /metrics after the run", f"{series} series", f"p50 {p50:.1f} ms")
            rss = int(Path(f"/proc/{proc.pid}/status").read_text().split("VmRSS:")[1].split()[0]) * 1024
            row("exporter RSS after the run", f"{rss / 2**20:.0f} MiB", "")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def best(func) -> float:
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_drift() -> None:
    rng = np.random.default_rng(5)
    s = DriftSettings()
    reference = rng.normal(0, 1, 10_000)
    ref_counts = {k: int(v) for k, v in zip("abcdefgh", rng.multinomial(10_000, [1 / 8] * 8), strict=True)}
    for window in (10_000, 100_000):
        current = rng.normal(0.1, 1, window)
        counts = {k: int(v) for k, v in zip("abcdefgh", rng.multinomial(window, [1 / 8] * 8), strict=True)}
        numeric = best(lambda current=current: numeric_drift(reference, current, s))
        categorical = best(lambda counts=counts: categorical_drift(ref_counts, counts, 0.0))
        row(f"drift, numeric feature, window {window:,}", f"{numeric * 1000:.2f} ms", "PSI+KS+missing")
        row(f"drift, categorical feature, window {window:,}", f"{categorical * 1000:.2f} ms", "PSI+chi2+JS")
        state = ModelState(FoldSettings(reference_size=10_000, drift_window=window))
        features = 10
        values = rng.normal(size=(10_000 + window, 8)).tolist()
        for i, numbers in enumerate(values):
            feats: dict[str, Any] = {f"f{k}": v for k, v in enumerate(numbers)}
            feats.update(f8="abc"[i % 3], f9="xyz"[i % 3])
            state.apply(
                {
                    "type": "prediction",
                    "ts": 1.7e9 + i,
                    "model": "m",
                    "model_version": "1",
                    "prediction_id": str(i),
                    "predicted": "up",
                    "latency_seconds": 0.0,
                    "features": feats,
                }
            )
        engine = DriftEngine(state, s)
        per_feature = best(engine.run) / features
        row(
            f"DriftEngine.run, 8 numeric + 2 categorical, {window:,}",
            f"{per_feature * 1000:.2f} ms/feat",
            "incl. copies",
        )


def main() -> None:
    setup_logging("bench", "warning")
    row("measurement", "value", "note")
    bench_fold()
    bench_ingestor()
    bench_http()
    bench_drift()


if __name__ == "__main__":
    main()
