"""One bad event never blocks the others: split on failure, dead-letter what the exporter refuses,
deliver the rest in order; every emitted event is accounted for across receiver outages."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from client_receiver import Receiver, log_lines

from tradewatch.client import TradeWatchClient

FAST = {"backoff_base": 0.02, "backoff_max": 0.1, "flush_interval": 0.05}


def orders(client: TradeWatchClient, start: int, count: int, symbol: str = "BTC-USD") -> list[str]:
    return [
        client.order_submitted(f"o-{i}", symbol, "buy", 1.0, reference_price=100.0) for i in range(start, start + count)
    ]


def dead_letters(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("spooled", [True, False])
def test_110_valid_events_behind_one_that_gets_500_arrive(
    receiver: Receiver, tmp_path: Path, log_stream, spooled: bool
) -> None:
    where = {"spool_dir": tmp_path / "spool"} if spooled else {"dead_letter_dir": tmp_path / "dead"}
    with TradeWatchClient(receiver.url, batch_size=500, **where, **FAST) as client:
        ids = orders(client, 0, 5)
        bad = orders(client, 5, 1, symbol="POISON")
        ids += orders(client, 6, 110)
        assert client.flush(15), client.stats  # was False: the batch was retried and replayed for ever
        stats = client.stats
        path = client.dead_letter_paths["trading"]
    assert [e["event_id"] for e in receiver.events] == ids  # all 115 valid ones, in emit order
    assert (stats.accepted, stats.rejected, stats.dead_lettered) == (115, 1, 1)
    assert stats.rejected_reasons == {"server_error": 1} and stats.spool_pending == 0
    assert path == (
        tmp_path / "spool" / "dead-letter" / "trading.jsonl" if spooled else tmp_path / "dead" / "trading.jsonl"
    )
    [record] = dead_letters(path)
    assert record["event"]["event_id"] == bad[0] and record["event"]["symbol"] == "POISON"
    assert (record["status"], record["reason"], record["attempts"]) == (500, "server_error", 3)
    assert record["message"] == "internal server error" and record["channel"] == "trading"
    assert abs(datetime.fromisoformat(record["time"]).timestamp() - time.time()) < 60
    logged = [line for line in log_lines(log_stream) if line["event"].startswith("event dead-lettered")]
    assert len(logged) == 1 and logged[0]["level"] == "error" and logged[0]["event_id"] == bad[0]


def test_split_is_in_order_and_narrows_to_the_one_event(receiver: Receiver, tmp_path: Path) -> None:
    with TradeWatchClient(
        receiver.url, batch_size=64, dead_letter_dir=tmp_path, poison_retries=2, **{**FAST, "flush_interval": 30.0}
    ) as client:
        ids = orders(client, 0, 37)
        orders(client, 37, 1, symbol="POISON")
        ids += orders(client, 38, 26)  # a full batch of 64, the bad one at index 37
        ids += orders(client, 64, 64)  # the next batch goes whole again
        assert client.flush(10)
        stats = client.stats
    # Halves, first half first: [0,64) fails; [0,32) ok; [32,48) [32,40) fail; [32,36) ok; [36,40)
    # [36,38) fail; [36,37) ok; [37] fails twice: dead-lettered; [38,40) [40,48) [48,64) ok.
    assert receiver.requests == [32, 4, 1, 2, 8, 16, 64]
    assert receiver.poisoned == 6 + 2 and stats.splits == 6 and stats.retries == 8
    assert [e["event_id"] for e in receiver.events] == ids
    assert [r["event"]["order_id"] for r in dead_letters(tmp_path / "trading.jsonl")] == ["o-37"]


def test_503_and_connection_errors_are_never_dead_lettered(tmp_path: Path) -> None:
    # An exporter whose journal is full answers 503 to everything: that is not the events' fault.
    receiver = Receiver().start()
    receiver.fail_next = [(503, {})] * 12
    try:
        with TradeWatchClient(receiver.url, spool_dir=tmp_path, batch_size=10, max_retries=1, **FAST) as client:
            ids = orders(client, 0, 10)
            assert client.flush(15)
            stats = client.stats
        assert [e["event_id"] for e in receiver.events] == ids
        assert (stats.splits, stats.rejected, stats.dead_lettered) == (0, 0, 0)
        assert not (tmp_path / "dead-letter").exists()
    finally:
        receiver.stop()


def test_refused_events_go_to_the_dead_letter_file_with_reason_and_status(receiver: Receiver, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    # A damaged line left in the spool by an earlier run: refused alone, kept as raw text.
    (spool / "trading-00000000000000000001-000000000000.jsonl").write_bytes(b'{"type": "heart\n')
    receiver.max_events = 5
    with TradeWatchClient(receiver.url, spool_dir=spool, batch_size=10, **{**FAST, "flush_interval": 30.0}) as client:
        assert client.flush(10)
        good = orders(client, 0, 3)
        bad = orders(client, 3, 2, symbol="BAD")  # per item, in a 202 listing them
        assert client.flush(10)
        receiver.fail_next = [(409, {})]  # a 4xx for the whole request, no detail
        refused = orders(client, 5, 4)
        assert client.flush(10)
        receiver.max_events = 0
        too_big = orders(client, 9, 1)  # 413 even alone
        assert client.flush(10)
        stats = client.stats
    records = dead_letters(spool / "dead-letter" / "trading.jsonl")
    assert [e["event_id"] for e in receiver.events] == good
    assert [(r["reason"], r["status"]) for r in records] == (
        [("invalid_value", 422)]
        + [("invalid_value", 202)] * 2
        + [("injected 409", 409)] * 4
        + [("too_many_items", 413)]
    )
    assert records[0]["raw"] == '{"type": "heart' and "event" not in records[0]
    assert [r["event"]["event_id"] for r in records[1:]] == bad + refused + too_big
    assert records[1]["message"] == "bad symbol"
    assert (stats.rejected, stats.dead_lettered, stats.dead_letter_failed) == (8, 8, 0)
    assert stats.rejected_reasons == {"invalid_value": 3, "injected 409": 4, "too_many_items": 1}
    assert stats.retries == 0  # none of it was retried


def test_rejections_beyond_those_named_in_the_answer_are_asked_again(receiver: Receiver, tmp_path: Path) -> None:
    # The exporters name at most 1000 rejections per answer (then give rejected_total): the client
    # resends what follows the last one named, so each refused event is still identified.
    receiver.max_reported = 3
    with TradeWatchClient(
        receiver.url, batch_size=20, dead_letter_dir=tmp_path, **{**FAST, "flush_interval": 30.0}
    ) as client:
        ids = [eid for i in range(10) for eid in orders(client, 2 * i, 1) + orders(client, 2 * i + 1, 1, "BAD")]
        assert client.flush(10)
        stats = client.stats
    records = dead_letters(tmp_path / "trading.jsonl")
    assert [r["event"]["event_id"] for r in records] == ids[1::2]
    assert [e["event_id"] for e in receiver.events] == ids[0::2]
    assert (stats.rejected, stats.accepted) == (10, 10)
    with pytest.raises(ValueError, match="batch_size"):
        TradeWatchClient(receiver.url, batch_size=1001)


def test_receiver_down_and_back_every_emitted_event_is_accounted_for(tmp_path: Path) -> None:
    """Fault injection: the receiver dies and comes back (same port) five times while a producer
    emits good, refused and poisonous events; at the end each is delivered or dead-lettered, once."""
    receiver = Receiver().start()
    port = receiver.port
    emitted: dict[str, str] = {}  # event_id -> kind
    order: list[str] = []
    with TradeWatchClient(
        receiver.url, spool_dir=tmp_path, batch_size=50, max_retries=1, max_queue=200, poison_retries=2, **FAST
    ) as client:
        stop = threading.Event()

        def produce() -> None:
            i = 0
            while not stop.is_set():
                kind = "bad" if i % 97 == 13 else "poison" if i % 601 == 300 else "good"
                symbol = {"good": "BTC-USD", "bad": "BAD", "poison": "POISON"}[kind]
                [eid] = orders(client, i, 1, symbol=symbol)
                emitted[eid] = kind
                order.append(eid)
                i += 1
                time.sleep(0.001)

        thread = threading.Thread(target=produce)
        thread.start()
        receivers = [receiver]
        try:
            for _ in range(5):
                time.sleep(0.2)
                receivers[-1].stop()
                time.sleep(0.2)
                revived = Receiver(port=port)
                # Like an exporter restarted on its journal: what it acknowledged, it still knows.
                revived.events, revived.seen = receiver.events, receiver.seen
                receivers.append(revived.start())
            time.sleep(0.3)
        finally:
            stop.set()
            thread.join()
        assert client.flush(60), client.stats
        stats = client.stats
        path = client.dead_letter_paths["trading"]
    for r in receivers:
        r.stop()
    delivered = [e["event_id"] for e in receiver.events]  # first-seen order, over all the restarts
    dead = [r["event"]["event_id"] for r in dead_letters(path)]
    assert sorted(delivered + dead) == sorted(emitted)  # each one exactly once
    assert {emitted[e] for e in delivered} == {"good"} and {emitted[e] for e in dead} == {"bad", "poison"}
    assert delivered == [e for e in order if emitted[e] == "good"]  # in emit order
    assert stats.spool_pending == 0 and stats.dropped == 0 and stats.spooled > 0
    assert stats.emitted == len(emitted) == stats.accepted + stats.duplicates + stats.rejected
    assert stats.rejected == len(dead) == stats.dead_lettered
    assert len(emitted) > 1000 and {"bad", "poison"} <= set(emitted.values())
    print(
        f"\nreceiver down/up x5: {len(emitted)} emitted, {len(delivered)} delivered, {len(dead)} "
        f"dead-lettered, {stats.spooled} spooled, {stats.splits} splits, 0 lost"
    )


def test_dead_letter_file_is_bounded(receiver: Receiver, tmp_path: Path) -> None:
    from tradewatch.client.deadletter import DeadLetter

    with TradeWatchClient(receiver.url, dead_letter_dir=tmp_path, **FAST) as client:
        client._channels["trading"].dead_letter = DeadLetter(tmp_path, "trading", max_bytes=2000)
        for i in range(20):  # one answer, one write each
            orders(client, i, 1, symbol="BAD")
            assert client.flush(10)
        stats = client.stats
    assert stats.rejected == 20 and 0 < stats.dead_lettered < 20
    assert stats.dead_letter_failed == 20 - stats.dead_lettered
    assert (tmp_path / "trading.jsonl").stat().st_size <= 2000
