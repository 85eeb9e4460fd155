"""JournalWriteFailing on what the real trading exporter exports when its journal write fails.

The exporter runs in-process on loopback (real HTTP, real journal); a write failure (ENOSPC) is
injected at the journal's lowest write call, as tests/faults does, for two batches. Its
``tradewatch_errors_total`` samples, scraped over HTTP, become promtool input series (one scrape per
15 s of rule time) for the committed stack rules.
"""

from __future__ import annotations

import errno
import json
import subprocess
import time
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import require_binary

import tradewatch
from tradewatch.core import config as cfg
from tradewatch.devstack import series
from tradewatch.trading.command import assemble
from tradewatch.trading.settings import settings

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT = json.loads((Path(tradewatch.__file__).parent / "schemas" / "examples" / "heartbeat.json").read_text())


def _no_space(fd: int, data: bytes) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_journal_write_failing_on_the_exporters_real_series(tmp_path: Path) -> None:
    config = cfg.load(
        settings(),
        environ={"TRADEWATCH_JOURNAL_PATH": str(tmp_path / "journal"), "TRADEWATCH_LOG_LEVEL": "error"},
        overrides={"http.port": 0},
    )
    exporter, ingestor = assemble(config)
    exporter.start()
    base = f"http://127.0.0.1:{exporter.port}"
    cap = series.Capture(15.0)
    statuses = []
    try:
        for index in range(40):
            failing = index in (8, 9)
            if failing:
                ingestor.journal._write_some = _no_space  # the disk is full for these two batches
            event = {**HEARTBEAT, "ts": time.time(), "event_id": f"hb-{index}"}
            reply = requests.post(f"{base}/v1/events", json=event, timeout=10)
            statuses.append((reply.status_code, reply.json().get("reason")))
            if failing:
                del ingestor.journal._write_some
            text = requests.get(f"{base}/metrics", timeout=10).text
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if s.name == "tradewatch_errors_total":
                        labels = {**s.labels, "job": "trading-exporter", "instance": "trading-exporter:9812"}
                        cap.add(series._series_name(s.name, labels), index, s.value)
            cap.scrapes = index + 1
    finally:
        exporter.stop()
    assert statuses[8] == statuses[9] == (503, "journal_unavailable")
    assert {s for i, s in enumerate(statuses) if i not in (8, 9)} == {(200, None)}
    journal_row = cap.values[
        'tradewatch_errors_total{instance="trading-exporter:9812",job="trading-exporter",kind="journal"}'
    ]
    assert journal_row[0] == 0.0 and journal_row[-1] == 2.0  # exported from 0: the first failure is an increase

    # The firing alert as prometheus/tests/stack_test.yml expects it (labels and annotations).
    static = yaml.safe_load((ROOT / "prometheus" / "tests" / "stack_test.yml").read_text())
    expected = next(
        t["exp_alerts"]
        for case in static["tests"]
        for t in case.get("alert_rule_test", [])
        if t["alertname"] == "JournalWriteFailing" and t["exp_alerts"]
    )

    def at(minutes: str, fires: bool) -> dict:
        return {"eval_time": minutes, "alertname": "JournalWriteFailing", "exp_alerts": expected if fires else []}

    doc = series.promtool_file(
        cap,
        [str(ROOT / "prometheus" / "rules" / "stack.yml")],
        [{"alert_rule_test": [at("1m", False), at("2m30s", True), at("9m", False)]}],
        evaluation_interval="15s",
    )
    path = tmp_path / "journal_test.yml"
    path.write_text(yaml.safe_dump(doc, width=10**9, sort_keys=False))
    res = subprocess.run([require_binary("promtool"), "test", "rules", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
