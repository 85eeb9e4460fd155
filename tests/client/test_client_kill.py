"""kill -9 of a real producer process: in durable mode nothing it emitted is lost; in memory mode
what is lost is the unsent tail of its buffer, and nothing before it (see docs/client.md)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from client_receiver import Receiver, free_port

from tradewatch.client import TradeWatchClient

PRODUCER = str(Path(__file__).with_name("producer.py"))


def run_and_kill(url: str, spool: str, mode: str, rate: float, kill_after: int) -> list[str]:
    """Start a producer, kill -9 it once it has emitted ``kill_after`` events; its event_ids."""
    proc = subprocess.Popen([sys.executable, PRODUCER, url, spool, mode, str(rate)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    ids: list[str] = []
    try:
        while len(ids) < kill_after:
            line = proc.stdout.readline()
            assert line, "producer died"
            ids.append(line.decode().strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    ids += [line.decode().strip() for line in proc.stdout.read().splitlines()]  # written before the kill
    proc.stdout.close()
    return ids


@pytest.mark.parametrize("receiver_up", [True, False])
def test_durable_mode_loses_nothing_to_kill_minus_9(tmp_path: Path, receiver_up: bool) -> None:
    rng = random.Random(11)
    port = free_port()
    receiver = Receiver(port=port).start() if receiver_up else None
    emitted: list[str] = []
    try:
        for _ in range(3):
            emitted += run_and_kill(
                f"http://127.0.0.1:{port}", str(tmp_path / "spool"), "durable", 400, rng.randint(150, 600)
            )
        if receiver is None:
            receiver = Receiver(port=port).start()
        # The next run of the trading system finds the spool and sends what is left first.
        with TradeWatchClient(receiver.url, spool_dir=tmp_path / "spool", durable=True, flush_interval=0.05) as c:
            assert c.flush(30), c.stats
        received = [e["event_id"] for e in receiver.events]
    finally:
        if receiver is not None:
            receiver.stop()
    missing = set(emitted) - set(received)
    assert not missing, f"{len(missing)} of {len(emitted)} emitted events lost"
    assert len(received) == len(set(received)) and len(emitted) >= 450
    order = {eid: i for i, eid in enumerate(received)}
    assert [order[e] for e in emitted] == sorted(order[e] for e in emitted)  # emit order kept
    print(
        f"\ndurable, receiver {'up' if receiver_up else 'down'}: 3 x kill -9, {len(emitted)} emitted, "
        f"{len(received)} received, 0 lost"
    )


def test_memory_mode_kill_minus_9_loses_only_the_unsent_tail(receiver: Receiver, tmp_path: Path) -> None:
    emitted = run_and_kill(receiver.url, "-", "memory", 1000, 1500)
    time.sleep(0.5)  # a POST in flight at the kill, if any, lands
    received = [e["event_id"] for e in receiver.events]
    assert received == emitted[: len(received)]  # a prefix: the buffer's tail is what is lost
    lost = len(emitted) - len(received)
    assert 0 <= lost <= 1000  # at most the last flush_interval (0.5 s) of events at 1000/s, plus one POST
    print(f"\nmemory mode: {len(emitted)} emitted at 1000/s, {lost} lost to kill -9")


def test_durable_emit_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    client = TradeWatchClient(
        f"http://127.0.0.1:{free_port()}",
        spool_dir=tmp_path,
        durable=True,
        max_retries=0,
        backoff_base=5,
        backoff_max=5,
    )
    try:
        for i in range(20):
            eid = client.heartbeat(f"c{i}")
            on_disk = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("trading-*.jsonl")))
            assert eid.encode() in on_disk
        assert client.stats.spooled == 20 and client.stats.buffered == 0
    finally:
        client.close(timeout=0.1)
    with pytest.raises(ValueError, match="spool_dir"):
        TradeWatchClient("http://127.0.0.1:1", durable=True)
    with pytest.raises(ValueError, match="TRADEWATCH_DURABLE"):
        TradeWatchClient.from_env({"TRADEWATCH_DURABLE": "maybe", "TRADEWATCH_SPOOL_DIR": str(tmp_path)})
