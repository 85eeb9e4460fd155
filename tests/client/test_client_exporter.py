"""tradewatch.client against the real trading exporter (in-process, real HTTP on loopback)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import requests

from tradewatch.client import TradeWatchClient, build_event
from tradewatch.core import config as cfg

TOKEN = "client-test-token"


@pytest.fixture
def exporter(tmp_path: Path):
    from tradewatch.trading.command import build
    from tradewatch.trading.settings import settings

    exp = build(
        cfg.load(
            settings(),
            None,
            environ={},
            overrides={"http.port": 0, "journal.path": str(tmp_path / "journal"), "ingest.token": TOKEN},
        )
    )
    url = f"http://127.0.0.1:{exp.start()}"
    yield url
    exp.stop()


def accepted_by_exporter(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tradewatch_events_accepted_total{")
    )


def test_left_over_spool_with_damage_is_replayed_and_judged_per_line(exporter: str, tmp_path: Path) -> None:
    # A spool as a crashed process could leave it: a damaged line in the middle, a torn last write.
    spool = tmp_path / "spool"
    spool.mkdir()
    good = [build_event("heartbeat", {"component": f"c{i}", "status": "healthy"}) for i in range(5)]
    lines = (
        [orjson.dumps(e) for e in good[:3]] + [b'{"type": "heartbeat", "ts": '] + [orjson.dumps(e) for e in good[3:]]
    )
    (spool / "trading-00000000000000000001-000000000000.jsonl").write_bytes(
        b"\n".join(lines) + b'\n{"type": "heartbeat", "ev'
    )
    with TradeWatchClient(exporter, TOKEN, spool_dir=tmp_path / "spool", flush_interval=0.05) as client:
        assert client.stats.emitted == 6  # the torn tail was dropped at start-up, the damaged line kept
        assert client.flush(10)
        stats = client.stats
    assert stats.accepted == 5 and stats.rejected == 1 and stats.rejected_reasons == {"invalid_json": 1}
    assert stats.spool_pending == 0 and list(spool.glob("*.jsonl")) == []
    assert accepted_by_exporter(exporter) == 5


def test_helpers_are_accepted_by_the_real_exporter(exporter: str) -> None:
    with TradeWatchClient(exporter, TOKEN, flush_interval=0.05, strategy="s1", account="a1") as client:
        client.order_submitted("o-1", "ETH-USD", "buy", 2.0, reference_price=3400.0)
        client.order_acknowledged("o-1")
        client.order_filled("o-1", 2.0, 3401.0, fee=1.3)
        client.portfolio_snapshot(100_000.0, 93_000.0, initial_balance=100_000.0)
        client.kill_switch(True, "manual")
        client.order_submitted("o-2", "ETH-USD", "buy", -1.0, reference_price=3400.0)  # invalid
        assert client.flush(10)
        stats = client.stats
    assert stats.accepted == 5 and stats.rejected_reasons == {"negative_quantity": 1}
    text = requests.get(exporter + "/metrics", timeout=10).text
    assert "tradewatch_trading_kill_switch_active 1.0" in text


def test_wrong_token_keeps_events_until_fixed(exporter: str, tmp_path: Path) -> None:
    client = TradeWatchClient(
        exporter,
        "not-the-token",
        spool_dir=tmp_path,
        max_retries=0,
        backoff_base=0.02,
        backoff_max=0.05,
        flush_interval=0.05,
    )
    client.heartbeat("risk-manager")
    assert not client.flush(0.5)
    client.close(timeout=0.1)
    assert client.stats.spool_pending == 1 and client.stats.retries >= 1
    with TradeWatchClient(exporter, TOKEN, spool_dir=tmp_path, flush_interval=0.05) as fixed:
        assert fixed.flush(10)
        assert fixed.stats.accepted == 1


def test_events_orjson_cannot_encode_still_travel_and_are_answered(exporter: str, tmp_path: Path) -> None:
    # A lone surrogate (text decoded with surrogateescape) and an integer past 64 bits: orjson
    # refuses both, emit() used to raise TypeError into the trading loop. Now they are sent as JSON
    # escapes, the exporter refuses them with a reason and the client dead-letters them.
    with TradeWatchClient(exporter, TOKEN, spool_dir=tmp_path / "spool", flush_interval=0.05) as client:
        client.emit(build_event("heartbeat", {"component": "feed\udc80", "status": "healthy"}))
        client.emit(
            build_event(
                "order_submitted",
                {"order_id": "o-9", "symbol": "ETH-USD", "side": "buy", "quantity": 2**70, "strategy": "s1"},
            )
        )
        client.emit(build_event("heartbeat", {"component": "feed", "status": "healthy"}))
        assert client.flush(10)
        stats = client.stats
        dead = client.dead_letter_paths
    assert stats.accepted == 1 and stats.rejected == 2 and stats.dead_lettered == 2, stats
    assert accepted_by_exporter(exporter) == 1
    records = [orjson.loads(line) for p in dead.values() if p.exists() for line in p.read_bytes().splitlines()]
    assert len(records) == 2 and all(r["status"] < 500 for r in records), records
