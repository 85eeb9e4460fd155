"""tradewatch.client against a real loopback HTTP receiver: batching, non-blocking emit, retries,
spool and in-order replay across receiver and client restarts, rejections, journal mode."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from client_receiver import Receiver, captured_logs, free_port, log_lines, wait_for

from tradewatch.client import JournalWriter, SpoolLocked, TradeWatchClient, logging_setup
from tradewatch.core.validate import Invalid

FAST = {"backoff_base": 0.02, "backoff_max": 0.1, "flush_interval": 0.05}


def emit_orders(client, start: int, count: int, symbol: str = "BTC-USD") -> list[str]:
    return [
        client.order_submitted(f"o-{i}", symbol, "buy", 1.0, reference_price=100.0 + i)
        for i in range(start, start + count)
    ]


def spool_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.jsonl"))


def test_helpers_fill_envelope_and_validate(tmp_path: Path) -> None:
    from tradewatch.model.events import validator as model_validator
    from tradewatch.trading.events import validate_trading_event

    path = tmp_path / "journal.jsonl"
    with JournalWriter(path, strategy="momentum", account="acc-1") as journal:
        ids = [
            journal.order_submitted("o-1", "BTC-USD", "buy", 0.5, reference_price=65000.0),
            journal.order_acknowledged("o-1"),
            journal.order_partially_filled("o-1", 0.2, 65010.0, fee=0.5),
            journal.order_filled("o-1", 0.3, 65012.0, fee=0.7),
            journal.order_cancelled("o-2", reason="expired"),
            journal.order_rejected("o-3", "risk_limit", message="too big"),
            journal.trade_closed("t-1", "BTC-USD", 12.5, fees=1.2, holding_seconds=30, exit_reason="take_profit"),
            journal.position_snapshot("BTC-USD", 0.5, 65000.0, 65100.0, limit=2.0),
            journal.portfolio_snapshot(100_050.0, 67_000.0, initial_balance=100_000.0, margin_used=8000.0),
            journal.signal("BTC-USD", "buy", 0.7),
            journal.decision("momentum-clf", 0.004, confidence=0.7),
            journal.circuit_breaker("exchange-api", "open", reason="3 failures"),
            journal.kill_switch(True, "daily_loss"),
            journal.risk_score("market", 42.0),
            journal.volatility_breach("BTC-USD", 1.6, 1.35),
            journal.position_limit("BTC-USD", 0.25),
            journal.market_data("BTC-USD", exchange_ts=1_700_000_000.5, price=65000.0),
            journal.heartbeat("order-router", "degraded"),
            journal.prediction(
                "momentum-clf",
                "1.4.0",
                "p-1",
                {"ret_5": 0.3, "regime": "calm"},
                "up",
                latency_seconds=0.004,
                confidence=0.6,
                probabilities={"up": 0.6, "down": 0.4},
            ),
            journal.outcome("p-1", "momentum-clf", "up", pnl=3.2),
            journal.ai_call("openai", "gpt-4o-mini", 900, 60, latency_seconds=0.8, cost_usd=0.0002),
        ]
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["event_id"] for e in lines] == ids
    assert len(set(ids)) == len(ids) and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    model = model_validator()
    for event in lines:
        ts = datetime.fromisoformat(event["ts"])
        assert event["ts"].endswith("Z") and abs(ts.timestamp() - time.time()) < 60
        assert event["strategy"] == "momentum" and event["account"] == "acc-1"
        assert None not in event.values()
        (model if event["type"] in ("prediction", "outcome", "ai_call") else validate_trading_event)(event)
    assert lines[0]["order_type"] == "market" and "limit_price" not in lines[0]
    assert lines[16]["exchange_ts"] == "2023-11-14T22:13:20.500000Z"
    with pytest.raises(Invalid):  # the validator is not a rubber stamp
        validate_trading_event({**lines[0], "quantity": -1})


def test_batches_by_size_and_flushes_remainder(receiver: Receiver) -> None:
    with TradeWatchClient(receiver.url, batch_size=200, flush_interval=30.0) as client:
        ids = emit_orders(client, 0, 450)
        assert wait_for(lambda: len(receiver.requests) == 2, 5)
        time.sleep(0.1)
        assert receiver.requests == [200, 200]  # the remaining 50 wait for a full batch or a flush
        assert client.flush(5)
        assert receiver.requests == [200, 200, 50]
        stats = client.stats
    assert [e["event_id"] for e in receiver.events] == ids
    assert (stats.emitted, stats.accepted, stats.batches, stats.retries, stats.spooled) == (450, 450, 3, 0, 0)


def test_emit_never_blocks_when_exporter_hangs(tmp_path: Path) -> None:
    # A listening socket nobody accepts from: connections hang until the client's timeout.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    url = f"http://127.0.0.1:{hole.getsockname()[1]}"
    client = TradeWatchClient(
        url, timeout=2.0, batch_size=100, max_queue=1000, max_retries=0, spool_dir=tmp_path, **FAST
    )
    try:
        worst = 0.0
        begin = time.perf_counter()
        for i in range(5000):
            t = time.perf_counter()
            client.heartbeat("strategy-engine", ts=1_700_000_000 + i)
            worst = max(worst, time.perf_counter() - t)
        total = time.perf_counter() - begin
        # One blocked POST lasts 2 s; the caller must never wait for it (overflow goes to disk).
        assert total < 1.0 and worst < 0.2, (total, worst)
        stats = client.stats
        assert stats.emitted == 5000 and stats.accepted == 0
        assert stats.overflowed >= 1 and stats.spooled >= 4000
    finally:
        client.close(timeout=0.1)
        hole.close()
    assert client.stats.spool_pending == 5000 and client.stats.dropped == 0


def test_spool_then_replay_in_order_after_restart(tmp_path: Path) -> None:
    receiver = Receiver().start()
    client = TradeWatchClient(receiver.url, spool_dir=tmp_path, batch_size=50, max_retries=1, **FAST)
    try:
        ids = emit_orders(client, 0, 120)
        assert client.flush(5)
        receiver.stop()
        ids += emit_orders(client, 120, 400)
        assert not client.flush(0.5)  # nowhere to deliver: flush reports it
        assert wait_for(lambda: client.stats.spool_pending == 400, 10)
        on_disk = [
            orjson.loads(line)["event_id"] for f in spool_files(tmp_path) for line in f.read_bytes().splitlines()
        ]
        assert on_disk == ids[120:]  # fsync'd JSONL, in emit order
        ids += emit_orders(client, 520, 30)  # still down: these queue behind the spool
        revived = Receiver(port=receiver.port).start()  # same address, fresh process state
        try:
            assert client.flush(10)
            stats = client.stats
            assert stats.spool_pending == 0 and stats.replayed >= 430 and stats.dropped == 0
            assert [e["event_id"] for e in receiver.events + revived.events] == ids
            assert spool_files(tmp_path) == []
        finally:
            revived.stop()
    finally:
        client.close(timeout=0.5)


def test_spool_survives_client_restart(tmp_path: Path) -> None:
    port = free_port()
    first = TradeWatchClient(f"http://127.0.0.1:{port}", spool_dir=tmp_path, max_retries=0, **FAST)
    ids = emit_orders(first, 0, 250)
    with pytest.raises(SpoolLocked):  # one client per spool directory
        TradeWatchClient(f"http://127.0.0.1:{port}", spool_dir=tmp_path)
    assert not first.close(timeout=0.3)
    assert first.stats.spool_pending == 250
    receiver = Receiver(port=port).start()
    try:
        with TradeWatchClient(receiver.url, spool_dir=tmp_path, **FAST) as second:
            assert second.stats.emitted == 250  # found on disk
            ids += emit_orders(second, 250, 10)
            assert second.flush(10)
        assert [e["event_id"] for e in receiver.events] == ids
    finally:
        receiver.stop()


def test_buffer_overflow_spills_to_spool_keeping_order(receiver: Receiver, tmp_path: Path) -> None:
    receiver.delay = 0.05  # a slow exporter: the buffer fills faster than it drains
    with TradeWatchClient(receiver.url, spool_dir=tmp_path, batch_size=20, max_queue=40, **FAST) as client:
        ids = emit_orders(client, 0, 600)
        assert client.stats.overflowed >= 1
        assert client.flush(20)
    assert [e["event_id"] for e in receiver.events] == ids


def test_retries_502_503_504_429_whole_with_backoff(receiver: Receiver) -> None:
    receiver.fail_next = [(503, {}), (502, {}), (429, {"Retry-After": "0"}), (504, {})]
    with TradeWatchClient(receiver.url, batch_size=100, max_retries=5, **FAST) as client:
        ids = emit_orders(client, 0, 100)
        assert client.flush(10)
        stats = client.stats
    assert stats.retries == 4 and stats.accepted == 100 and stats.spooled == 0
    assert [e["event_id"] for e in receiver.events] == ids
    # Exponential backoff with full jitter: attempt n waits at least half of base * 2**(n-1)
    # (flush() may cut one wait short: it asks for delivery now).
    gaps = [b - a for a, b in itertools.pairwise(receiver.attempts)]
    assert len(gaps) == 4
    honoured = [gap >= 0.5 * min(FAST["backoff_max"], FAST["backoff_base"] * 2**n) * 0.9 for n, gap in enumerate(gaps)]
    assert sum(honoured) >= 3, gaps


def test_gives_up_to_spool_after_max_retries_then_replays(receiver: Receiver, tmp_path: Path) -> None:
    receiver.fail_next = [(503, {})] * 3
    with TradeWatchClient(receiver.url, spool_dir=tmp_path, batch_size=10, max_retries=1, **FAST) as client:
        ids = emit_orders(client, 0, 10)
        assert client.flush(10)
        stats = client.stats
    assert stats.retries == 3 and stats.spooled == 10 and stats.replayed == 10
    assert [e["event_id"] for e in receiver.events] == ids


def test_per_item_rejections_are_counted_not_retried(receiver: Receiver, log_stream) -> None:
    with TradeWatchClient(receiver.url, batch_size=10, **{**FAST, "flush_interval": 30.0}) as client:
        good = emit_orders(client, 0, 7)
        bad = emit_orders(client, 7, 3, symbol="BAD")  # a full batch: 7 good + 3 bad
        emit_orders(client, 10, 10, symbol="BAD")  # a batch with nothing valid: 422
        assert client.flush(5)
        time.sleep(0.2)  # a retry, if there were one, would show up here
        stats = client.stats
    assert receiver.requests == [10, 10]
    assert [e["event_id"] for e in receiver.events] == good
    assert stats.accepted == 7 and stats.rejected == 13 and stats.retries == 0
    assert stats.rejected_reasons == {"invalid_value": 13}
    logged = [line for line in log_lines(log_stream) if line["event"] == "event rejected by the exporter"]
    assert len(logged) == 13 and logged[0]["event_id"] == bad[0] and logged[0]["level"] == "warning"


def test_duplicates_are_acknowledged(receiver: Receiver) -> None:
    with TradeWatchClient(receiver.url, **FAST) as client:
        event = {
            "type": "heartbeat",
            "ts": 1_700_000_000,
            "event_id": "fixed-id",
            "component": "x",
            "status": "healthy",
        }
        client.emit(event)
        client.flush(5)
        client.emit(dict(event))
        client.flush(5)
        stats = client.stats
    assert (stats.accepted, stats.duplicates) == (1, 1) and len(receiver.events) == 1


def test_too_large_batches_are_split(receiver: Receiver, tmp_path: Path) -> None:
    receiver.max_events = 30
    with TradeWatchClient(receiver.url, batch_size=100, spool_dir=tmp_path, **FAST) as client:
        ids = emit_orders(client, 0, 100)
        assert client.flush(10)
        stats = client.stats
    assert max(receiver.requests) <= 30 and stats.accepted == 100 and stats.rejected == 0
    assert [e["event_id"] for e in receiver.events] == ids


def test_auth_failure_is_logged_and_nothing_is_lost(tmp_path: Path, log_stream) -> None:
    receiver = Receiver(token="s3cret").start()
    try:
        client = TradeWatchClient(receiver.url, "wrong", spool_dir=tmp_path, max_retries=1, **FAST)
        ids = emit_orders(client, 0, 20)
        assert not client.flush(0.5)
        client.close(timeout=0.1)
        assert client.stats.spool_pending == 20 and receiver.events == []
        failures = [line for line in log_lines(log_stream) if "authentication failure" in line["event"]]
        assert failures and failures[0]["level"] == "error" and "s3cret" not in str(failures)
        with TradeWatchClient(receiver.url, "s3cret", spool_dir=tmp_path, **FAST) as fixed:
            assert fixed.flush(10)
        assert [e["event_id"] for e in receiver.events] == ids
    finally:
        receiver.stop()


def test_model_events_go_to_the_model_exporter(receiver: Receiver) -> None:
    model = Receiver().start()
    try:
        with TradeWatchClient(receiver.url, model_url=model.url, **FAST) as client:
            client.heartbeat("risk-manager")
            client.prediction("m", "1", "p-1", {"x": 1.0}, "up", latency_seconds=0.01)
            client.outcome("p-1", "m", "down")
            client.ai_call("openai", "gpt-4o-mini", 10, 5, latency_seconds=0.3)
            assert client.flush(5)
            per_channel = client.channel_stats()
        assert [e["type"] for e in receiver.events] == ["heartbeat"]
        assert [e["type"] for e in model.events] == ["prediction", "outcome", "ai_call"]
        assert per_channel["model"].accepted == 3 and per_channel["trading"].accepted == 1
    finally:
        model.stop()
    with TradeWatchClient(receiver.url) as trading_only, pytest.raises(ValueError, match="model_url"):
        trading_only.outcome("p-1", "m", "down")


def test_without_spool_losses_are_counted_and_logged(log_stream) -> None:
    client = TradeWatchClient(f"http://127.0.0.1:{free_port()}", batch_size=10, max_queue=20, **FAST)
    emit_orders(client, 0, 50)
    assert not client.close(timeout=0.2)
    stats = client.stats
    assert stats.dropped == 50 and stats.accepted == 0
    events = {line["event"] for line in log_lines(log_stream)}
    assert "event dropped: client buffer full and no spool_dir configured" in events
    with pytest.raises(RuntimeError, match="closed"):
        client.heartbeat("x")


def test_emit_is_thread_safe(receiver: Receiver) -> None:
    with TradeWatchClient(receiver.url, batch_size=64, **FAST) as client:

        def worker(n: int) -> None:
            for i in range(500):
                client.heartbeat(f"component-{n}", ts=1_700_000_000 + i)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.flush(10)
    assert len(receiver.events) == 2000
    for n in range(4):  # each thread's events keep their order
        mine = [e["ts"] for e in receiver.events if e["component"] == f"component-{n}"]
        assert mine == sorted(mine) and len(mine) == 500


def test_journal_writer_appends_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.jsonl"
    writer = JournalWriter(path, fsync="always")
    threads = [
        threading.Thread(target=lambda: [writer.signal("ETH-USD", "buy", 0.5) for _ in range(300)]) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 900 and writer.written == 900
    assert all(orjson.loads(line)["type"] == "signal" for line in lines)
    with JournalWriter(path) as again:  # appends, never truncates
        again.heartbeat("x")
    assert len(path.read_bytes().splitlines()) == 901
    with pytest.raises(ValueError):
        JournalWriter(path, fsync="sometimes")


def test_from_env_and_logging_setup(receiver: Receiver, tmp_path: Path) -> None:
    import io

    token_file = tmp_path / "token"
    token_file.write_text("abc\n")
    client = TradeWatchClient.from_env(
        {"TRADEWATCH_TRADING_URL": receiver.url, "TRADEWATCH_TOKEN_FILE": str(token_file)}, flush_interval=0.05
    )
    with client:
        client.heartbeat("x")
        assert client.flush(5)
    assert len(receiver.events) == 1

    with captured_logs():  # restores the logging configuration afterwards
        stream = io.BytesIO()
        log = logging_setup("mybot", stream=stream, account_ids=["ACC-123456"])
        log.warning("order rejected", account="ACC-123456")
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    assert line["service"] == "mybot" and line["level"] == "warning" and line["event"] == "order rejected"
    assert "timestamp" in line and "ACC-123456" not in stream.getvalue().decode()


def test_order_kept_when_an_in_flight_batch_is_spooled_after_an_overflow(receiver: Receiver, tmp_path: Path) -> None:
    # The sender holds batch 1 through slow 503s while the caller overflows newer events to disk;
    # batch 1 then lands in the spool after them, in an earlier-named segment, and replays first.
    receiver.delay = 0.1
    receiver.fail_next = [(503, {})] * 4
    with TradeWatchClient(
        receiver.url, spool_dir=tmp_path, batch_size=10, max_queue=20, max_retries=1, **FAST
    ) as client:
        ids = emit_orders(client, 0, 10)
        assert wait_for(lambda: client.stats.buffered == 0, 5)  # batch 1 is in flight
        ids += emit_orders(client, 10, 200)
        assert client.stats.overflowed >= 1
        assert wait_for(lambda: len(spool_files(tmp_path)) >= 2, 5)
        assert client.flush(20)
        assert client.stats.spooled >= 200
    assert [e["event_id"] for e in receiver.events] == ids
