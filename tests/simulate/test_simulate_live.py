"""The simulator as a user runs it: through tradewatch.client into the real trading and model
exporters (in-process, real HTTP on loopback), paced on the wall clock, and from the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tradewatch.client import JournalWriter, TradeWatchClient
from tradewatch.core import config as cfg
from tradewatch.simulate import Simulator

START = 1_700_000_000.0


def metrics(url: str) -> dict[str, float]:
    """Sample name -> value summed over label sets."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=10).text):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + sample.value
    return out


@pytest.fixture
def exporters(tmp_path: Path):
    from tradewatch.model.exporter import ModelExporter
    from tradewatch.model.settings import settings as model_settings
    from tradewatch.trading.command import build as build_trading
    from tradewatch.trading.settings import settings as trading_settings

    token = "sim-test-token"
    trading = build_trading(
        cfg.load(
            trading_settings(),
            None,
            environ={},
            overrides={"http.port": 0, "journal.path": str(tmp_path / "trading"), "ingest.token": token},
        )
    )
    model = ModelExporter(
        cfg.load(
            model_settings(),
            None,
            environ={},
            overrides={
                "http.port": 0,
                "journal.path": str(tmp_path / "model"),
                "ingest.token": token,
                "log.level": "warning",
            },
        )
    )
    urls = (f"http://127.0.0.1:{trading.start()}", f"http://127.0.0.1:{model.start()}")
    yield (*urls, token)
    trading.stop()
    model.stop()


def test_flash_crash_reaches_the_exporters_through_the_client(exporters, tmp_path: Path) -> None:
    trading_url, model_url, token = exporters
    sim = Simulator(3, "flash-crash", speed=60, rate=2, warmup=30, incident=60, start=START, log_events=False)
    with TradeWatchClient(trading_url, token, model_url=model_url, spool_dir=tmp_path / "spool") as client:
        sent = 0
        for event in sim.steps(170):  # ends inside the incident: the kill switch is still on
            client.emit(event)
            sent += 1
        assert client.flush(30)
        stats = client.stats
    # Every event the simulator makes is accepted by the real validators; none lost, none refused.
    assert stats.rejected == 0 and stats.dropped == 0 and stats.accepted == sent
    trading = metrics(trading_url)
    assert trading["tradewatch_trading_orders_total"] > 100
    assert trading["tradewatch_trading_kill_switch_active"] == 1
    assert trading["tradewatch_trading_max_drawdown_ratio"] > 0.10
    model = metrics(model_url)
    assert model["tradewatch_model_predictions_total"] > 100
    assert model["tradewatch_ai_calls_total"] > 0


def test_run_paces_on_the_wall_clock(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sim = Simulator(1, "normal", speed=60, rate=20, log_events=False)
    began = time.time()
    with JournalWriter(path) as journal:
        sent = sim.run(journal, duration=1.0)
    took = time.time() - began
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(events) == sent > 0 and sim.pacing_elapsed == pytest.approx(1.0)
    assert 0.9 < took < 3.0

    # Freshness stamps follow the wall clock; trading timestamps run 60x faster.
    def stamps(etype: str, key: str = "ts") -> list[float]:
        return [datetime.fromisoformat(e[key]).timestamp() for e in events if e["type"] == etype]

    ticks = stamps("market_data", "exchange_ts")
    assert abs(max(ticks) - time.time()) < 2.0
    snaps = stamps("portfolio_snapshot")
    assert snaps and max(snaps) <= began + 60.0 + 1.0


def test_cli_is_reproducible_with_seed_and_start() -> None:
    def run() -> bytes:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tradewatch",
                "simulate",
                "--stdout",
                "--scenario",
                "exchange-outage",
                "--warmup",
                "0.2",
                "--incident",
                "0.5",
                "--duration",
                "1",
                "--rate",
                "10",
                "--speed",
                "60",
                "--seed",
                "9",
                "--start",
                "2026-01-05T14:30:00Z",
            ],
            capture_output=True,
            timeout=60,
            check=True,
        )
        logs = [orjson.loads(line) for line in result.stderr.splitlines()]
        assert {line["service"] for line in logs} == {"simulator"}
        assert any(line["event"] == "scenario exchange-outage started" for line in logs)
        return result.stdout

    first, second = run(), run()
    assert first == second
    events = [orjson.loads(line) for line in first.splitlines()]
    assert events[0]["ts"].startswith("2026-01-05T14:30:00")
    assert {"market_data", "heartbeat", "prediction"} <= {e["type"] for e in events}


def test_cli_help_lists_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    from tradewatch.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--help"])
    out = capsys.readouterr().out
    for name in (
        "normal",
        "flash-crash",
        "exchange-outage",
        "stale-feed",
        "slow-execution",
        "model-drift",
        "ai-cost-spike",
        "--trading-url",
        "--model-url",
        "--speed",
        "--seed",
        "--warmup",
    ):
        assert name in out


def test_cli_journal_mode_writes_both_journals(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from tests.client.client_receiver import captured_logs

    from tradewatch.cli import main

    with captured_logs("simulator", "info"):  # restores the logging set-up the command changes
        code = main(
            [
                "simulate",
                "--journal-dir",
                str(tmp_path),
                "--duration",
                "0.5",
                "--rate",
                "20",
                "--speed",
                "60",
                "--seed",
                "4",
            ]
        )
    assert code == 0
    trading = [orjson.loads(line) for line in (tmp_path / "trading.jsonl").read_bytes().splitlines()]
    model = [orjson.loads(line) for line in (tmp_path / "model.jsonl").read_bytes().splitlines()]
    assert trading and model
    assert {e["type"] for e in model} <= {"prediction", "outcome", "ai_call"}
    assert not {e["type"] for e in trading} & {"prediction", "outcome", "ai_call"}
    finished = [orjson.loads(line) for line in capfd.readouterr().out.splitlines() if "simulation finished" in line]
    assert finished and finished[0]["events"] == len(trading) + len(model)
