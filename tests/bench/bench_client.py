"""Client: emit() latency and throughput in memory and durable mode, and what kill -9 loses.

- Emit: one thread calls ``order_submitted`` back to back against a real loopback receiver
  (tests/client/client_receiver.py); per-call latency p50/p99/max, emit throughput (calls/s) and
  end-to-end throughput (until ``flush()`` says everything was acknowledged). Modes: memory only,
  memory with a spool directory (the default recommendation), and ``durable=True`` (each event
  written to the spool and fdatasync'd before emit returns; the spool is on the repository's disk).
- kill -9: a producer process (tests/client/producer.py) emits at a steady rate; it is killed at a
  random moment; events it had emitted that never reached the receiver are counted. Memory mode
  loses its unsent buffer; durable mode loses nothing (the next run replays the spool).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "client"))

from client_receiver import Receiver  # noqa: E402
from test_client_kill import run_and_kill  # noqa: E402

from tradewatch.client import TradeWatchClient  # noqa: E402

SPOOL_BASE = Path(tempfile.gettempdir())  # on CI the VM's disk (not a tmpfs): fdatasync is real


def emit_run(mode: str, count: int) -> dict[str, float]:
    receiver = Receiver().start()
    with tempfile.TemporaryDirectory(dir=SPOOL_BASE) as spool:
        # max_queue above the run's size: memory mode would otherwise drop what outruns the sender
        options = {"max_queue": count} if mode == "memory" else {"spool_dir": spool, "durable": mode == "durable"}
        client = TradeWatchClient(receiver.url, **options)
        latencies = []
        perf = time.perf_counter
        begin = perf()
        for i in range(count):
            t = perf()
            client.order_submitted(f"o-{i}", "BTC-USD", "buy", 1.0, reference_price=100.0)
            latencies.append(perf() - t)
        emitted = perf() - begin
        assert client.flush(120), client.stats
        delivered = perf() - begin
        client.close()
    receiver.stop()
    assert len(receiver.events) == count
    latencies.sort()
    return {
        "p50": latencies[len(latencies) // 2] * 1e6,
        "p99": latencies[int(len(latencies) * 0.99)] * 1e6,
        "max": latencies[-1] * 1e6,
        "emit_rate": count / emitted,
        "e2e_rate": count / delivered,
    }


def kill_rounds(mode: str, rate: float, rounds: int, rng: random.Random) -> list[int]:
    lost = []
    for _ in range(rounds):
        receiver = Receiver().start()
        with tempfile.TemporaryDirectory(dir=SPOOL_BASE) as spool:
            emitted = run_and_kill(
                receiver.url, spool if mode == "durable" else "-", mode, rate, rng.randint(int(rate), int(rate * 3))
            )
            time.sleep(0.5)
            if mode == "durable":  # the trading system's next start replays the spool
                with TradeWatchClient(receiver.url, spool_dir=spool, durable=True, flush_interval=0.05) as c:
                    c.flush(60)
        receiver.stop()
        got = {e["event_id"] for e in receiver.events}
        lost.append(sum(1 for e in emitted if e not in got))
    return lost


def main() -> None:
    print("emit() from one thread, events acknowledged by a loopback receiver (latency in µs):")
    print(f"{'mode':<18}{'events':>8}{'p50':>9}{'p99':>9}{'max':>10}{'emit/s':>11}{'delivered/s':>13}")
    for mode, count in (("memory", 50_000), ("memory + spool", 50_000), ("durable", 5_000)):
        runs = [emit_run(mode.split()[0] if mode != "memory + spool" else "spool", count) for _ in range(3)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{mode:<18}{count:>8}{med['p50']:>9.1f}{med['p99']:>9.1f}{med['max']:>10.0f}"
            f"{med['emit_rate']:>11,.0f}{med['e2e_rate']:>13,.0f}"
        )
    print("\nkill -9 of a producer emitting at a steady rate (flush_interval 0.5 s, batch_size 500), 5 kills each:")
    rng = random.Random(7)
    print(f"{'mode':<10}{'rate/s':>8}{'lost per kill':>28}{'max lost (s of events)':>25}")
    for mode, rate in (("memory", 200), ("memory", 1000), ("durable", 200), ("durable", 1000)):
        lost = kill_rounds(mode, rate, 5, rng)
        print(f"{mode:<10}{rate:>8}{lost!s:>28}{max(lost) / rate:>25.2f}")


if __name__ == "__main__":
    main()
